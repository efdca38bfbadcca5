export * from './errors.ts';
export * from './error-handler.ts';
export * from './auth.ts';
export * from './security.ts';
export * from './session-cache.ts';
export * from './query-parameters.ts';
export * from './metrics-route.ts';
export type { AnyFastify } from './types.ts';
