import { sql } from 'drizzle-orm';
import type { Db, DbOrTx } from './index.ts';
import { rowsOf } from './index.ts';
import { outbox } from './schema.ts';

export interface OutboxMessage {
  topic: string;
  key: string;
  payload: unknown;
}

/** Written in the same transaction as the state change it announces. */
export async function enqueue(tx: DbOrTx, at: Date, messages: readonly OutboxMessage[]): Promise<void> {
  if (messages.length === 0) return;
  await tx.insert(outbox).values(messages.map((m) => ({ topic: m.topic, key: m.key, payload: m.payload, createdAt: at })));
}

/** Advisory lock key for the relay ("outbox" in ASCII, truncated to 32 bits). */
const RELAY_LOCK = 0x6f75_7462;

/** Each message's body is the stored payload's JSON text, to be sent as it is. */
export type Publish = (topic: string, messages: { key: string; json: string }[]) => Promise<void>;

/** Published rows are kept this long (for a look at what went out), then deleted. */
export const DEFAULT_OUTBOX_RETENTION_MS = 24 * 3_600_000;
/** The relay prunes at most this often. */
const PRUNE_EVERY_MS = 60_000;
/** A relay that found another holding the lock tries again this soon (that one may have missed rows committed meanwhile). */
const CONTENDED_RETRY_MS = 20;
/** Rows deleted per prune statement, so one prune never holds a long lock. */
const PRUNE_BATCH = 5000;

/**
 * Moves outbox rows to the bus, in id order, then marks them published. Rows are claimed with
 * SKIP LOCKED so several relays never publish one row twice concurrently; a crash after
 * publishing and before marking republishes it (consumers are idempotent).
 *
 * Published rows are pruned after `retentionMs`: the outbox carries message payloads (ticket
 * text among them) and must not become a second, permanent copy of them.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<{ published: number; locked: boolean }> | undefined;
  /** Passes (tick) under way: stop() waits for them, not only for the cycle one of them is in. */
  private readonly passes = new Set<Promise<void>>();
  private again = false;
  private stopped = false;
  /** A lingering wake-up is scheduled (later wake-ups join it). */
  private woken = false;

  constructor(
    private readonly db: Db,
    private readonly publish: Publish,
    private readonly options: {
      pollMs?: number;
      batch?: number;
      onError?: (e: unknown) => void;
      /** How long published rows are kept (default 24 h; 0 deletes them at the next prune). */
      retentionMs?: number;
      /**
       * How long a wake-up waits before relaying (default 0). Under a stream of commits every few
       * milliseconds, a cycle per wake-up (a transaction, a send, an update) costs more than the
       * rows it carries; waiting a little lets one cycle carry what the stream queued meanwhile.
       */
      lingerMs?: number;
    } = {},
  ) {}

  private lastPrune = 0;

  /**
   * Delete rows published more than `retentionMs` ago (by the database's clock, which stamped
   * them); resolves with the number deleted. Pending rows are never touched.
   */
  async prune(): Promise<number> {
    const retentionSeconds = (this.options.retentionMs ?? DEFAULT_OUTBOX_RETENTION_MS) / 1000;
    let total = 0;
    for (;;) {
      const deleted =
        rowsOf<{ n: number }>(
          await this.db.execute(sql`
          with gone as (
            delete from outbox where id in (
              select id from outbox
              where published_at is not null and published_at <= now() - make_interval(secs => ${retentionSeconds})
              order by id limit ${PRUNE_BATCH})
            returning 1)
          select count(*)::int as n from gone`),
        )[0]?.n ?? 0;
      total += deleted;
      if (deleted < PRUNE_BATCH) return total;
    }
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Nudge: something was just enqueued in this process. */
  wake(): void {
    if (this.stopped) return;
    const linger = this.options.lingerMs ?? 0;
    if (linger > 0 && this.woken) return;
    this.woken = linger > 0;
    this.schedule(linger);
  }

  /** Relay everything pending now; resolves with the number of rows published. */
  async flush(): Promise<number> {
    let total = 0;
    for (;;) {
      const { published } = await this.cycle();
      total += published;
      if (published === 0) return total;
    }
  }

  /** Resolves once nothing more is published: a pass under way ends after its cycle. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([...this.passes]);
    await this.running?.catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const pass = this.tick().finally(() => this.passes.delete(pass));
      this.passes.add(pass);
    }, ms);
  }

  private async tick(): Promise<void> {
    this.woken = false;
    if (this.running) {
      this.again = true;
      return;
    }
    let contended = false;
    try {
      // Cycles until one finds less than a batch: not until one finds nothing, which cost an
      // empty transaction (four round trips) after every group commit's cycle. Rows this process
      // commits meanwhile wake it again (`again`); rows another process commits wake its relay,
      // which retries shortly when this one holds the lock (`contended`).
      const batch = this.options.batch ?? 200;
      for (;;) {
        const { published, locked } = await this.cycle();
        if (!locked) contended = true;
        if (!locked || published < batch || this.stopped) break;
      }
      if (!this.stopped && Date.now() - this.lastPrune >= PRUNE_EVERY_MS) {
        this.lastPrune = Date.now();
        await this.prune();
      }
    } catch (error) {
      this.options.onError?.(error);
    }
    if (this.stopped) return;
    const again = this.again;
    this.again = false;
    const linger = this.options.lingerMs ?? 0;
    this.schedule(again ? linger : contended ? Math.max(linger, CONTENDED_RETRY_MS) : (this.options.pollMs ?? 500));
  }

  private cycle(): Promise<{ published: number; locked: boolean }> {
    const run = (async () => {
      return this.db.transaction(async (tx) => {
        // One relay publishes at a time (every process runs one): rows claimed by two relays at
        // once could reach the bus out of order, and one incident's events must stay ordered.
        // The lock and the claim are one statement (a relay cycle follows every group commit),
        // with a row saying so when the lock is held elsewhere.
        // The payload as text: the driver would parse jsonb into objects only for the bus to
        // serialise them again (a few kB per signal under a flood, in the engine's process).
        const rows = rowsOf<{ locked: boolean; id: string | number; topic: string; key: string; payload: string }>(
          await tx.execute(
            sql`
            with lock as materialized (select pg_try_advisory_xact_lock(${RELAY_LOCK}) as locked),
            claimed as materialized (
              select id, topic, key, payload::text as payload from outbox
              where (select locked from lock) and published_at is null
              order by id limit ${this.options.batch ?? 200}::int
              for update skip locked
            )
            select true as locked, id, topic, key, payload from claimed
            union all
            select false, null, null, null, null from lock where not locked
            order by id`,
          ),
        );
        if (rows[0]?.locked === false) return { published: 0, locked: false };
        if (rows.length === 0) return { published: 0, locked: true };
        const byTopic = new Map<string, { key: string; json: string }[]>();
        for (const r of rows) {
          const list = byTopic.get(r.topic) ?? [];
          list.push({ key: r.key, json: r.payload });
          byTopic.set(r.topic, list);
        }
        for (const [topic, messages] of byTopic) await this.publish(topic, messages);
        const ids = rows.map((r) => Number(r.id));
        await tx.execute(sql`update outbox set published_at = now() where id = any(${`{${ids.join(',')}}`}::bigint[])`);
        return { published: rows.length, locked: true };
      });
    })();
    this.running = run;
    return run.finally(() => {
      this.running = undefined;
    });
  }
}
