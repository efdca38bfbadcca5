import { createHash, randomBytes } from 'node:crypto';

/** A bearer secret: 32 random bytes, base64url, with a prefix saying what it is. */
export function newSecret(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

/** Secrets are high-entropy, so a plain SHA-256 is the right lookup key (no salt, no KDF). */
export function digest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
