/**
 * Hotline sources (12345 systems that push tickets) and how their requests are authenticated:
 * an HMAC-SHA256 signature over `timestamp + "." + raw body` with the source's secret, within
 * a ±5 minute window, each signature accepted once. See services/ingest/README.md.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { audit, type Db, eq, hotlineReplays, hotlineSources, lte, rowsOf, sql } from '@huiying/db';

export const SOURCE_HEADER = 'x-huiying-source';
export const TIMESTAMP_HEADER = 'x-huiying-timestamp';
export const SIGNATURE_HEADER = 'x-huiying-signature';

/** A signed request's timestamp may differ from our clock by this much either way. */
export const SIGNATURE_WINDOW_MS = 5 * 60_000;

export interface HotlineSource {
  id: string;
  name: string;
  active: boolean;
  tokenId: string | null;
  /** The jurisdiction its tickets belong to (whose monitoring rules they are matched against). */
  jurisdiction: string;
  createdAt: string;
  disabledAt: string | null;
}

/** Why a signed request was refused; stable words for the 401 message and the audit trail. */
export type SignatureRefusal =
  'missing_headers' | 'unknown_source' | 'source_disabled' | 'bad_timestamp' | 'stale_timestamp' | 'bad_signature' | 'replayed';

export class SignatureError extends Error {
  constructor(
    readonly reason: SignatureRefusal,
    message: string,
  ) {
    super(message);
  }
}

/** `sha256=<hex>` over `timestamp.body`: what the hotline system sends and what we recompute. */
export function signBody(secret: string, timestamp: string, body: Buffer | string): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestamp}.`);
  mac.update(body);
  return `sha256=${mac.digest('hex')}`;
}

function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // Lengths differ only for a malformed header; the comparison of equal lengths is constant-time.
  return x.length === y.length && timingSafeEqual(x, y);
}

const view = (r: typeof hotlineSources.$inferSelect): HotlineSource => ({
  id: r.id,
  name: r.name,
  active: r.active,
  tokenId: r.tokenId,
  jurisdiction: r.jurisdiction,
  createdAt: r.createdAt.toISOString(),
  disabledAt: r.disabledAt ? r.disabledAt.toISOString() : null,
});

/** Source names are what hotline systems put in X-Huiying-Source: short, ASCII, stable. */
export const SOURCE_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';

export class HotlineSourceError extends Error {
  constructor(
    readonly code: 'HY_CONFLICT' | 'HY_NOT_FOUND' | 'HY_VALIDATION',
    message: string,
  ) {
    super(message);
  }
}

/** A new source with a fresh secret; the secret is returned here only (shown once, like a token). */
export async function createHotlineSource(
  db: Db,
  input: { name: string; tokenId?: string | null; jurisdiction?: string },
  actor: string,
  now: Date,
): Promise<HotlineSource & { secret: string }> {
  if (!new RegExp(SOURCE_NAME_PATTERN).test(input.name))
    throw new HotlineSourceError('HY_VALIDATION', `name must match ${SOURCE_NAME_PATTERN}`);
  const secret = `hys_${randomBytes(32).toString('base64url')}`;
  const id = `hs_${randomBytes(8).toString('hex')}`;
  return db.transaction(async (tx) => {
    if (input.tokenId) {
      const [token] = rowsOf<{ id: string }>(
        await tx.execute(sql`select id from api_tokens where id = ${input.tokenId} and revoked_at is null`),
      );
      if (!token) throw new HotlineSourceError('HY_VALIDATION', `body/tokenId: no live API token ${input.tokenId}`);
    }
    const [row] = await tx
      .insert(hotlineSources)
      .values({
        id,
        name: input.name,
        secret,
        tokenId: input.tokenId ?? null,
        jurisdiction: input.jurisdiction?.trim() || 'default',
        createdBy: actor,
        createdAt: now,
      })
      .onConflictDoNothing()
      .returning();
    if (!row) throw new HotlineSourceError('HY_CONFLICT', `hotline source ${input.name} exists, or its token is bound to another source`);
    // The secret never reaches the audit trail.
    await audit(tx, {
      at: now,
      actor,
      action: 'hotline_source.created',
      entity: 'hotline_source',
      entityId: id,
      input: { name: input.name, tokenId: input.tokenId ?? null, jurisdiction: row.jurisdiction },
    });
    return { ...view(row), secret };
  });
}

/** Move a source to another jurisdiction: tickets it posts from now on carry it; stored ones keep theirs. */
export async function setHotlineSourceJurisdiction(
  db: Db,
  id: string,
  jurisdiction: string,
  actor: string,
  now: Date,
): Promise<HotlineSource> {
  const next = jurisdiction.trim();
  if (next === '') throw new HotlineSourceError('HY_VALIDATION', 'body/jurisdiction must not be blank');
  return db.transaction(async (tx) => {
    const [before] = await tx.select().from(hotlineSources).where(eq(hotlineSources.id, id)).for('update');
    if (!before) throw new HotlineSourceError('HY_NOT_FOUND', `hotline source ${id} not found`);
    const [row] = await tx.update(hotlineSources).set({ jurisdiction: next }).where(eq(hotlineSources.id, id)).returning();
    await audit(tx, {
      at: now,
      actor,
      action: 'hotline_source.changed',
      entity: 'hotline_source',
      entityId: id,
      input: { jurisdiction: next },
      result: { before: { jurisdiction: before.jurisdiction } },
    });
    return view(row!);
  });
}

/** A page of sources by name; `like` is an ILIKE pattern on the name (the caller escapes it). */
export async function listHotlineSources(
  db: Db,
  page: { like?: string | undefined; limit: number; offset: number },
): Promise<{ items: HotlineSource[]; total: number }> {
  const where = page.like === undefined ? undefined : sql`${hotlineSources.name} ilike ${page.like}`;
  const [rows, [count]] = await Promise.all([
    db.select().from(hotlineSources).where(where).orderBy(hotlineSources.name, hotlineSources.id).limit(page.limit).offset(page.offset),
    db
      .select({ n: sql<number>`count(*)::int` })
      .from(hotlineSources)
      .where(where),
  ]);
  return { items: rows.map(view), total: count?.n ?? 0 };
}

export async function findHotlineSource(db: Db, name: string): Promise<HotlineSource | undefined> {
  const [row] = await db.select().from(hotlineSources).where(eq(hotlineSources.name, name));
  return row ? view(row) : undefined;
}

/** Disable a source: its signatures and its bound token no longer post tickets. Idempotent. */
export async function disableHotlineSource(db: Db, id: string, actor: string, now: Date): Promise<HotlineSource> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(hotlineSources)
      .set({ active: false, disabledAt: sql`coalesce(${hotlineSources.disabledAt}, ${now.toISOString()}::timestamptz)` })
      .where(eq(hotlineSources.id, id))
      .returning();
    if (!row) throw new HotlineSourceError('HY_NOT_FOUND', `hotline source ${id} not found`);
    await audit(tx, { at: now, actor, action: 'hotline_source.disabled', entity: 'hotline_source', entityId: id, input: {} });
    return view(row);
  });
}

/** The three headers of a signed request (SignatureError missing_headers when one is absent). */
export interface SignedHeaders {
  name: string;
  timestamp: string;
  signature: string;
}

export function signedHeadersOf(headers: Record<string, string | string[] | undefined>): SignedHeaders {
  const one = (h: string) => {
    const v = headers[h];
    return typeof v === 'string' ? v : undefined;
  };
  const name = one(SOURCE_HEADER);
  const timestamp = one(TIMESTAMP_HEADER);
  const signature = one(SIGNATURE_HEADER);
  if (!name || !timestamp || !signature)
    throw new SignatureError('missing_headers', `a signed request needs ${SOURCE_HEADER}, ${TIMESTAMP_HEADER} and ${SIGNATURE_HEADER}`);
  return { name, timestamp, signature };
}

type SourceRow = typeof hotlineSources.$inferSelect;

/** Everything but the replay: the source (undefined = unknown) active, the timestamp in the window, the signature over the body. */
function checkSignature(row: SourceRow | undefined, signed: SignedHeaders, rawBody: Buffer, now: Date): SourceRow {
  if (!row) throw new SignatureError('unknown_source', `unknown hotline source ${JSON.stringify(signed.name.slice(0, 64))}`);
  if (!row.active) throw new SignatureError('source_disabled', `hotline source ${row.name} is disabled`);
  if (!/^\d{1,12}$/.test(signed.timestamp)) throw new SignatureError('bad_timestamp', `${TIMESTAMP_HEADER} must be unix seconds`);
  const skew = Number(signed.timestamp) * 1000 - now.getTime();
  if (Math.abs(skew) > SIGNATURE_WINDOW_MS)
    throw new SignatureError('stale_timestamp', `${TIMESTAMP_HEADER} is ${Math.round(skew / 1000)} s from our clock (allowed ±300 s)`);
  if (!sameSignature(signed.signature, signBody(row.secret, signed.timestamp, rawBody)))
    throw new SignatureError('bad_signature', `${SIGNATURE_HEADER} does not match the body`);
  return row;
}

/**
 * Verify a signed request: known active source, timestamp (unix seconds) within the window,
 * signature over the raw body, and a signature not seen before (recorded in the database, so
 * every ingest process refuses a replay). Returns the source; throws SignatureError.
 */
export async function verifySignedRequest(
  db: Db,
  headers: Record<string, string | string[] | undefined>,
  rawBody: Buffer,
  now: Date,
): Promise<HotlineSource> {
  const signed = signedHeadersOf(headers);
  const [found] = await db.select().from(hotlineSources).where(eq(hotlineSources.name, signed.name));
  const row = checkSignature(found, signed, rawBody, now);
  const fresh = await db
    .insert(hotlineReplays)
    .values({ signature: signed.signature.toLowerCase(), sourceId: row.id, seenAt: now })
    .onConflictDoNothing()
    .returning({ signature: hotlineReplays.signature });
  if (fresh.length === 0) throw new SignatureError('replayed', 'this signed request was received before (replay)');
  await pruneReplays(db, now);
  return view(row);
}

/** hex(sha256(secret)): how the write statement checks that the secret a signature was verified with is still the source's. */
export function secretDigest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * A signed request verified against the source as this process last read it — no round trip
 * when it is known — but not yet against replays: the write records the signature (or finds it
 * recorded: replayed) and checks that the source is still active with the same secret, in its own
 * statement (writeTickets' `signed`). A refusal is never answered from memory: the source is read
 * afresh first. Sources are few; the map holds at most `max` of them.
 */
export class SignedSourceCache {
  private readonly byName = new Map<string, SourceRow>();

  constructor(
    private readonly db: Db,
    private readonly max = 1000,
  ) {}

  async verify(
    headers: Record<string, string | string[] | undefined>,
    rawBody: Buffer,
    now: Date,
  ): Promise<{ source: HotlineSource; signature: string; secretDigest: string }> {
    const signed = signedHeadersOf(headers);
    const known = this.byName.get(signed.name);
    let row: SourceRow;
    try {
      if (!known) throw new SignatureError('unknown_source', 'not read yet');
      row = checkSignature(known, signed, rawBody, now);
    } catch (error) {
      if (!(error instanceof SignatureError)) throw error;
      row = checkSignature(await this.read(signed.name), signed, rawBody, now);
    }
    return { source: view(row), signature: signed.signature.toLowerCase(), secretDigest: secretDigest(row.secret) };
  }

  /** The write found the source changed (disabled, or another secret): read it again next time. */
  forget(name: string): void {
    this.byName.delete(name);
  }

  private async read(name: string): Promise<SourceRow | undefined> {
    const [row] = await this.db.select().from(hotlineSources).where(eq(hotlineSources.name, name));
    if (!row) {
      this.byName.delete(name);
      return undefined;
    }
    if (this.byName.size >= this.max) this.byName.clear();
    this.byName.set(name, row);
    return row;
  }
}

let lastPrune = 0;
/** Signatures older than twice the window can no longer be replayed (their timestamp is stale). */
export async function pruneReplays(db: Db, now: Date): Promise<void> {
  if (now.getTime() - lastPrune < 60_000 && now.getTime() >= lastPrune) return;
  lastPrune = now.getTime();
  await db.delete(hotlineReplays).where(lte(hotlineReplays.seenAt, new Date(now.getTime() - 2 * SIGNATURE_WINDOW_MS)));
}
