export * from './principal.ts';
export * from './passwords.ts';
export * from './users.ts';
export * from './sessions.ts';
export * from './tokens.ts';
export * from './demo.ts';
export { digest, newSecret } from './secrets.ts';
