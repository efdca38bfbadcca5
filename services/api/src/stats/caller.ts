/**
 * SEAM for the identity contract (/work/notes/identity-contract.md). Until the auth plugin
 * (services/api/src/plugins/auth.ts) is on main, this is the only place the statistics read
 * the caller: `request.user` as the contract's Principal, declared locally and read without
 * augmenting FastifyRequest (the auth plugin will own that declaration). When the plugin
 * lands: replace `StatsPrincipal` by its `Principal`, `callerOf` by `request.user`, and the
 * 401/403 below by the routes' `config: { access: ... }`. (HY_UNAUTHENTICATED and
 * HY_FORBIDDEN were added to the catalogue here with the contract's meaning.)
 */
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import type { StatsScope } from './queries.ts';

export type Role = 'duty' | 'unit' | 'leader' | 'admin';

/** The contract's Principal, as far as the statistics need it. */
export interface StatsPrincipal {
  kind: 'user' | 'token';
  id: string;
  role: Role | null;
  unitId: string | null;
}

export function callerOf(request: FastifyRequest): StatsPrincipal | undefined {
  return (request as FastifyRequest & { user?: StatsPrincipal }).user;
}

/**
 * leader, duty, admin: everything; unit: its own unit only. Anyone else is refused here
 * (onRequest hook of the stats plugin), before any query runs.
 */
export async function requireStatsReader(request: FastifyRequest): Promise<void> {
  const user = callerOf(request);
  if (!user) throw new ApiError('HY_UNAUTHENTICATED', '请先登录 authentication required');
  if (user.role === null || (user.role === 'unit' && !user.unitId)) throw new ApiError('HY_FORBIDDEN', '无权查看统计 not allowed');
}

export function scopeOf(user: StatsPrincipal): StatsScope {
  return user.role === 'unit' && user.unitId ? { unitId: user.unitId } : {};
}
