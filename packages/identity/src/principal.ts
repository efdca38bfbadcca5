import type { Role } from '@huiying/db';

export type { Role };
export const ROLES: readonly Role[] = ['duty', 'unit', 'leader', 'admin'];

export const ROLE_NAMES: Record<Role, string> = { duty: '值班员', unit: '责任单位', leader: '领导', admin: '管理员' };

/** Scopes an API token can carry. */
export const TOKEN_SCOPES = ['tickets:write', 'metrics:read'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/** Who is asking: a logged-in user, or a machine client with an API token (no role). */
export interface Principal {
  kind: 'user' | 'token';
  id: string;
  username: string;
  displayName: string;
  role: Role | null;
  unitId: string | null;
  scopes: readonly string[];
  /**
   * A token bound to a 12345 hotline source posts as that source: read with the token, in the same
   * query, so a ticket request costs one look-up, not two. Absent for users and unbound tokens.
   */
  boundSource?: BoundSource;
}

/** The hotline source a token posts as (`hotline_sources.token_id`). */
export interface BoundSource {
  id: string;
  name: string;
  active: boolean;
}

/** What a principal may see: a unit user only its own unit's records; everyone else everything. */
export interface Scope {
  unitId: string | null;
}

export function scopeOf(p: Principal): Scope {
  return { unitId: p.role === 'unit' ? p.unitId : null };
}

/** The audit log's actor for a principal: stable, readable, and never the client's say-so. */
export function actorOf(p: Principal): string {
  return p.kind === 'token' ? `token:${p.username}` : `user:${p.username}`;
}
