/**
 * Who asks for statistics: leaders, duty officers and administrators see the whole
 * jurisdiction; a unit user only its own unit (the routes' access is READERS, so tokens and
 * anonymous callers never get here).
 */
import { principal } from '@huiying/http';
import type { Principal } from '@huiying/identity';
import type { FastifyRequest } from 'fastify';
import type { StatsScope } from './queries.ts';

export function callerOf(request: FastifyRequest): Principal {
  return principal(request);
}

export function scopeOf(user: Principal): StatsScope {
  return user.role === 'unit' && user.unitId ? { unitId: user.unitId } : {};
}
