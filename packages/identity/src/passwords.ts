import { hash, verify } from '@node-rs/argon2';

/**
 * argon2id (the library's default algorithm) with OWASP's baseline cost: 19 MiB, 2 passes,
 * 1 lane. The PHC string carries its parameters, so raising them later keeps old hashes valid.
 */
const OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const MIN_PASSWORD_LENGTH = 10;

export function hashPassword(password: string): Promise<string> {
  return hash(password, OPTIONS);
}

// Verified against when the username is unknown, so a miss costs as long as a wrong password.
let dummy: Promise<string> | undefined;

export async function verifyPassword(phc: string | null, password: string): Promise<boolean> {
  if (phc === null) {
    dummy ??= hashPassword('huiying-timing-equaliser');
    await verify(await dummy, password).catch(() => false);
    return false;
  }
  return verify(phc, password).catch(() => false);
}

/** A password policy a government console can defend: long enough, not the username. */
export function passwordProblem(password: string, username: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH)
    return `密码至少 ${MIN_PASSWORD_LENGTH} 位 (password must have at least ${MIN_PASSWORD_LENGTH} characters)`;
  if (password.toLowerCase().includes(username.toLowerCase())) return '密码不能包含用户名 (password must not contain the username)';
  return undefined;
}
