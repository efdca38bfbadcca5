import { type Db, type DbHandle, KeptListen } from '@huiying/db';
import {
  DEFAULT_SESSION_POLICY,
  digest,
  readSession,
  type ResolvedSession,
  type SessionPolicy,
  type SessionRecord,
  sessionLive,
  touchSession,
} from '@huiying/identity';

/**
 * Resolved cookie sessions kept in the process, so a request that carries a known session costs
 * no database round trip (the board is asked for by every open console every few seconds).
 *
 * Kept only while the process LISTENs on `huiying_sessions`: migration 0018 notifies it after
 * every committed change that can end a session or change who it speaks for (revocation, log-out,
 * a user disabled or given another role or unit, a unit renamed), from whichever process made
 * it, and every notification drops everything kept. A change made through this process is
 * dropped at once as well (`clear()` after each write request it answers), before the client can
 * have the answer. A record read from a snapshot older than a notification is not kept (the
 * generation it was read in has passed).
 *
 * What is kept is the row, not a verdict: whether the session is live (expiry, idle time) is
 * decided on every request against the current time. A kept record that calls the session over
 * is read again before the request is refused — another process may have recorded a later
 * request (last_seen_at) than this one knows of.
 *
 * "At once" across processes means: as soon as PostgreSQL's notification reaches this process
 * (a millisecond or so after the commit); a request already being answered may still pass.
 *
 * Without a working LISTEN (not started, or its connection lost) nothing is kept: every request
 * reads its session from the database until listening works again.
 */
export class SessionCache {
  private generation = 0;
  private readonly kept: KeptListen;
  /** By session id (the digest of the cookie's secret; the secret itself is not kept). */
  private readonly records = new Map<string, SessionRecord>();
  /** Told when sessions may have changed (live.ts closes the streams of ended sessions). */
  private readonly watchers = new Set<() => void>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly o: {
      db: Db;
      policy?: SessionPolicy;
      listen?: DbHandle['listen'] | undefined;
      logger: { warn(obj: object, msg: string): void };
      channel?: string;
      /** Sessions kept (the oldest dropped first). */
      max?: number;
      retryMs?: number;
    },
  ) {
    this.kept = new KeptListen({
      listen: o.listen,
      channel: o.channel ?? 'huiying_sessions',
      onNotify: () => {
        this.clear();
        this.changed();
      },
      // Anything kept before may have missed a notification.
      onUp: () => this.clear(),
      onDown: () => {
        this.clear();
        this.changed();
      },
      logger: o.logger,
      label: 'session cache',
      whileDown: 'reading sessions from the database',
      ...(o.retryMs !== undefined ? { retryMs: o.retryMs } : {}),
    });
  }

  /** Sessions are kept only while the process LISTENs. */
  private get listening(): boolean {
    return this.kept.listening;
  }

  get enabled(): boolean {
    return this.listening;
  }

  get size(): number {
    return this.records.size;
  }

  async start(): Promise<void> {
    await this.kept.start();
  }

  async stop(): Promise<void> {
    await this.kept.stop();
    this.clear();
  }

  clear(): void {
    this.generation++;
    this.records.clear();
    // Listening, the database's notification follows every change; without it, a change made
    // through this process is all this process will hear of.
    if (!this.listening) this.changed();
  }

  /**
   * Call `fn` whenever a session may have ended or changed whom it speaks for (a notification on
   * `huiying_sessions`, the LISTEN lost, or — when not listening — a write through this process).
   * Returns the unsubscribe function.
   */
  onChange(fn: () => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  private changed(): void {
    for (const fn of this.watchers) fn();
  }

  /** The live session behind a cookie value, or undefined (unknown, revoked, expired, idle, user disabled). */
  async resolve(secret: string, now: Date): Promise<ResolvedSession | undefined> {
    const policy = this.o.policy ?? DEFAULT_SESSION_POLICY;
    const id = digest(secret);
    const t = now.getTime();
    let record = this.listening ? this.records.get(id) : undefined;
    if (record) {
      // One turn of the event loop first: a notification already at this process's socket (a
      // revocation committed while this request was on its way) is applied before the answer.
      await new Promise((r) => setImmediate(r));
      record = this.listening ? this.records.get(id) : undefined;
    }
    if (record && sessionLive(record, t, policy)) {
      this.hits++;
    } else {
      this.misses++;
      const generation = this.generation;
      record = await readSession(this.o.db, id);
      if (!record || !sessionLive(record, t, policy)) {
        this.records.delete(id);
        return undefined;
      }
      if (this.listening && this.generation === generation) {
        this.records.set(id, record);
        if (this.records.size > (this.o.max ?? 10_000)) this.records.delete(this.records.keys().next().value!);
      }
    }
    await touchSession(this.o.db, record, now);
    return record.resolved;
  }
}
