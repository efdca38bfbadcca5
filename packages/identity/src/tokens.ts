import { randomUUID } from 'node:crypto';
import { apiTokens, audit, BatchLoader, type Db, eq, hotlineSources, inArray, sql } from '@huiying/db';
import { type BoundSource, type Principal, TOKEN_SCOPES } from './principal.ts';
import { digest, newSecret } from './secrets.ts';
import { IdentityError } from './users.ts';

export const TOKEN_PREFIX = 'hy_';

export interface NewToken {
  id: string;
  /** Shown once; only its digest is stored. */
  token: string;
  name: string;
  scopes: string[];
}

export async function createToken(
  db: Db,
  input: { name: string; scopes: string[]; expiresAt?: Date | null },
  actor: string,
  now: Date,
): Promise<NewToken> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 100) throw new IdentityError('HY_VALIDATION', 'name: 1–100 characters');
  if (input.scopes.length === 0) throw new IdentityError('HY_VALIDATION', 'a token needs at least one scope');
  for (const s of input.scopes)
    if (!(TOKEN_SCOPES as readonly string[]).includes(s))
      throw new IdentityError('HY_VALIDATION', `unknown scope ${s} (known: ${TOKEN_SCOPES.join(', ')})`);
  const token = newSecret(TOKEN_PREFIX);
  const id = randomUUID();
  const scopes = [...new Set(input.scopes)].sort();
  await db.transaction(async (tx) => {
    await tx.insert(apiTokens).values({
      id,
      name,
      tokenHash: digest(token),
      prefix: token.slice(0, TOKEN_PREFIX.length + 6),
      scopes,
      createdBy: actor,
      createdAt: now,
      expiresAt: input.expiresAt ?? null,
    });
    await audit(tx, { at: now, actor, action: 'token.created', entity: 'api_token', entityId: id, input: { name, scopes } });
  });
  return { id, token, name, scopes };
}

export async function revokeToken(db: Db, id: string, actor: string, now: Date): Promise<boolean> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .update(apiTokens)
      .set({ revokedAt: now })
      .where(sql`${apiTokens.id} = ${id} and ${apiTokens.revokedAt} is null`)
      .returning({ id: apiTokens.id });
    if (rows.length === 0) {
      const [exists] = await tx.select({ id: apiTokens.id }).from(apiTokens).where(eq(apiTokens.id, id));
      if (!exists) throw new IdentityError('HY_NOT_FOUND', `token ${id} not found`);
      return false;
    }
    await audit(tx, { at: now, actor, action: 'token.revoked', entity: 'api_token', entityId: id });
    return true;
  });
}

const LAST_USED_EVERY_MS = 60_000;

export async function resolveToken(db: Db, token: string, now: Date): Promise<Principal | undefined> {
  if (!token.startsWith(TOKEN_PREFIX)) return undefined;
  const row = (await tokensByDigest(db, [digest(token)])).values().next().value;
  if (!row || !live(row, now)) return undefined;
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_EVERY_MS)
    await db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.id));
  return principalOf(row, row.boundSource);
}

type TokenRow = typeof apiTokens.$inferSelect;
/** A token and the hotline source bound to it, if any (at most one: hotline_sources_token_uq). */
type TokenWithSource = TokenRow & { boundSource: BoundSource | null };
const live = (row: TokenRow, now: Date) => !row.revokedAt && !(row.expiresAt && row.expiresAt.getTime() <= now.getTime());
const principalOf = (row: TokenRow, boundSource?: BoundSource | null): Principal => ({
  kind: 'token',
  id: row.id,
  username: row.name,
  displayName: row.name,
  role: null,
  unitId: null,
  scopes: row.scopes,
  ...(boundSource ? { boundSource } : {}),
});

/** The tokens with these digests, each with its bound hotline source: one query. */
async function tokensByDigest(db: Db, hashes: readonly string[]): Promise<Map<string, TokenWithSource>> {
  const rows = await db
    .select({
      token: apiTokens,
      sourceId: hotlineSources.id,
      sourceName: hotlineSources.name,
      sourceActive: hotlineSources.active,
    })
    .from(apiTokens)
    .leftJoin(hotlineSources, eq(hotlineSources.tokenId, apiTokens.id))
    .where(inArray(apiTokens.tokenHash, [...hashes]));
  return new Map(
    rows.map(({ token, sourceId, sourceName, sourceActive }) => [
      token.tokenHash,
      {
        ...token,
        boundSource: sourceId === null ? null : { id: sourceId, name: sourceName!, active: sourceActive! },
      },
    ]),
  );
}

/**
 * What a write statement must find in the database for a token answered from this process's
 * memory (TokenResolver.claim) to hold: the token not revoked, and bound to the same hotline
 * source as read, that source still active (`sourceId` null: bound to none).
 */
export interface TokenCheck {
  tokenId: string;
  sourceId: string | null;
  /** The token's digest, to forget the row when the write finds it changed. */
  digest: string;
}

/** Rows kept for claims; past this many the memory starts over (each is a look-up away). */
const CLAIMS_KEPT = 10_000;

/**
 * resolveToken for a server: the tokens of requests that arrive together are looked up with one
 * query (BatchLoader), not one query and one pool checkout each. Still checked per request
 * against the database (revoked or expired is refused by the next lookup); last_used_at is
 * written at most once a minute per token by this process, not by every concurrent request
 * that saw it stale.
 */
export class TokenResolver {
  private readonly rows: BatchLoader<string, TokenWithSource>;
  private readonly touched = new Map<string, number>();
  /** The last row read per digest, live and usable when read (a claim is never negative). */
  private readonly claims = new Map<string, TokenWithSource>();

  constructor(private readonly db: Db) {
    this.rows = new BatchLoader((hashes) => tokensByDigest(db, hashes));
  }

  async resolve(token: string, now: Date): Promise<Principal | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const hash = digest(token);
    const row = await this.rows.get(hash);
    this.keep(hash, row, now);
    if (!row || !live(row, now)) return undefined;
    await this.touch(row, now);
    return principalOf(row, row.boundSource);
  }

  /**
   * For a route whose write statement checks the token itself (one round trip instead of two):
   * the principal as this process last read it, with the TokenCheck the write must pass. The row
   * is read from the database when it is not in memory, or when what memory says would refuse
   * (revoked, expired, its source disabled): a refusal is never answered from memory, only an
   * acceptance, and that one is verified by the write. Scopes, name and expiry never change after
   * a token is created; revocation and the source binding can, and are what the check covers.
   */
  async claim(token: string, now: Date): Promise<{ principal: Principal; check: TokenCheck } | undefined> {
    if (!token.startsWith(TOKEN_PREFIX)) return undefined;
    const hash = digest(token);
    const kept = this.claims.get(hash);
    const row = kept && live(kept, now) ? kept : await this.rows.get(hash);
    this.keep(hash, row, now);
    if (!row || !live(row, now)) return undefined;
    await this.touch(row, now);
    return {
      principal: principalOf(row, row.boundSource),
      check: { tokenId: row.id, sourceId: row.boundSource?.id ?? null, digest: hash },
    };
  }

  /** The write found the claim changed: the next claim reads the database. */
  forget(hash: string): void {
    this.claims.delete(hash);
  }

  private keep(hash: string, row: TokenWithSource | undefined, now: Date): void {
    if (!row || !live(row, now) || row.boundSource?.active === false) {
      this.claims.delete(hash);
      return;
    }
    if (this.claims.size >= CLAIMS_KEPT && !this.claims.has(hash)) this.claims.clear();
    this.claims.set(hash, row);
  }

  private async touch(row: TokenRow, now: Date): Promise<void> {
    const last = Math.max(row.lastUsedAt?.getTime() ?? -Infinity, this.touched.get(row.id) ?? -Infinity);
    if (now.getTime() - last > LAST_USED_EVERY_MS) {
      this.touched.set(row.id, now.getTime());
      await this.db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.id));
    }
  }
}
