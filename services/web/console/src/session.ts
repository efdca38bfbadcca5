/** Who is signed in. One reactive object; the router guard and the layout read it. */
import { reactive } from 'vue';
import { api, ApiRequestError, setCsrfToken } from './api/client.ts';
import type { SessionInfo, User } from './api/identity.ts';

export const session = reactive<{ user: User | null; checked: boolean }>({ user: null, checked: false });

function adopt(info: SessionInfo): User {
  setCsrfToken(info.csrfToken);
  session.user = info.user;
  session.checked = true;
  return info.user;
}

/** Reads the current session once (GET /api/auth/me); null when signed out. */
export async function loadSession(): Promise<User | null> {
  if (session.checked) return session.user;
  try {
    return adopt(await api.me());
  } catch (e) {
    // 404: a server without the identity routes; the log-in page then says why it fails.
    if (!(e instanceof ApiRequestError) || (e.status !== 401 && e.status !== 404)) throw e;
    forget();
    return null;
  }
}

export async function logIn(username: string, password: string): Promise<User> {
  return adopt(await api.login(username, password));
}

export async function logOut(): Promise<void> {
  try {
    await api.logout();
  } finally {
    forget();
  }
}

export function forget(): void {
  setCsrfToken(null);
  session.user = null;
  session.checked = true;
}
