import { createHash } from 'node:crypto';
import { auditLog, type Db, rowsOf, sql, type Tx } from '@huiying/db';
import type { LadderWiring } from './ladder-writer.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * What the timer needs of an aggregate with deadlines (an incident, a working-day duty; the
 * and, through their writers, the escalation ladder's steps): its table (with `id`, `next_wake_at` and a version fence), and how to
 * advance claimed rows to `now` and write what changed. The claim, the batching, the isolation of
 * a bad row and the re-arm query are the same for every kind, so they live here once.
 */
export interface DeadlineKind {
  /** Audit entity and alert column: 'incident' → incidents / alerts.incident_id. */
  entity: 'incident' | 'obligation';
  table: 'incidents' | 'obligations';
  /** Columns the advance needs, besides id (fixed SQL text). */
  columns: string;
  /** Advance the claimed rows (locked by the caller) to `now` and persist them, inside `tx`. */
  fire(tx: Tx, rows: readonly Record<string, unknown>[], now: number, deps: FireDeps): Promise<void>;
}

/** What a kind's `fire` gets from the engine besides the rows: the ladder's wiring. */
export interface FireDeps {
  ladder?: LadderWiring | undefined;
}

/**
 * Fire every warning and breach of one kind due at or before `until`. Rows are claimed with
 * SKIP LOCKED, so several engines share the work and none fires one deadline twice.
 */
export async function fireDueOf(
  kind: DeadlineKind,
  deps: { db: Db; clock: { now(): number }; ladder?: LadderWiring | undefined },
  until: number,
  batch = 200,
): Promise<number> {
  const table = sql.raw(kind.table);
  // Most passes have nothing due of a kind: answer that from the index without opening a transaction.
  const [due] = rowsOf<{ one: number }>(
    await deps.db.execute(sql`select 1 as one from ${table} where next_wake_at <= ${iso(until)} limit 1`),
  );
  if (!due) return 0;
  let fired = 0;
  for (;;) {
    // Each transaction reads the clock afresh: its events are stamped with the moment they are
    // really fired, not when a backlogged pass began (bench/README.md).
    const now = Math.max(until, deps.clock.now());
    let n: number;
    try {
      n = await fireBatch(kind, deps, now, batch);
    } catch (error) {
      if (error instanceof Error && error.name === 'StaleWriteError') throw error;
      // One bad row must not stop every deadline: fire one at a time, set the bad one aside.
      n = await fireOneByOne(kind, deps, now, batch, error);
    }
    fired += n;
    if (n < batch) return fired;
  }
}

function fireBatch(kind: DeadlineKind, deps: { db: Db } & FireDeps, now: number, limit: number): Promise<number> {
  return deps.db.transaction(async (tx) => {
    const rows = rowsOf<Record<string, unknown>>(
      await tx.execute(
        sql`select id, ${sql.raw(kind.columns)} from ${sql.raw(kind.table)} where next_wake_at <= ${iso(now)} order by next_wake_at limit ${limit} for update skip locked`,
      ),
    );
    if (rows.length > 0) await kind.fire(tx, rows, now, deps);
    return rows.length;
  });
}

async function fireOneByOne(
  kind: DeadlineKind,
  deps: { db: Db } & FireDeps,
  now: number,
  limit: number,
  batchError: unknown,
): Promise<number> {
  let done = 0;
  for (let i = 0; i < limit; i++) {
    try {
      const n = await fireBatch(kind, deps, now, 1);
      if (n === 0) return done;
      done += n;
    } catch (error) {
      await quarantineFirstDue(kind, deps.db, now, error ?? batchError);
      done++;
    }
  }
  return done;
}

/**
 * Take the first due row off the timer (next_wake_at = null) with an alert and an audit entry
 * saying why, so the others keep firing; an engineer repairs it and re-arms it by any command.
 */
async function quarantineFirstDue(kind: DeadlineKind, db: Db, now: number, error: unknown): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = rowsOf<{ id: string }>(
      await tx.execute(
        sql`select id from ${sql.raw(kind.table)} where next_wake_at <= ${iso(now)} order by next_wake_at limit 1 for update skip locked`,
      ),
    );
    if (!row) return;
    await tx.execute(sql`update ${sql.raw(kind.table)} set next_wake_at = null where id = ${row.id}`);
    // Administrators see it on the board: its deadlines no longer fire until it is repaired.
    const alertId = `alr_err_${createHash('sha256').update(`${row.id}|${now}`).digest('hex').slice(0, 20)}`;
    await tx.execute(
      sql`insert into alerts (id, ${sql.raw(kind.entity === 'incident' ? 'incident_id' : 'obligation_id')}, kind, at) values (${alertId}, ${row.id}, 'engine_error', ${iso(now)}) on conflict do nothing`,
    );
    await tx.insert(auditLog).values({
      at: new Date(now),
      actor: 'timer',
      action: `${kind.entity}.quarantined`,
      entity: kind.entity,
      entityId: row.id,
      input: { type: 'timer', at: iso(now) },
      result: { error: error instanceof Error ? error.message : String(error) },
    });
  });
}

/** The earliest wake over every kind (the in-process timer arms for it). */
export async function nextWakeOf(db: Db, kinds: readonly DeadlineKind[]): Promise<number | null> {
  const parts = kinds.map((k) => `(select min(next_wake_at) from ${k.table})`);
  const [row] = rowsOf<{ at: string | Date | null }>(
    await db.execute(sql.raw(`select ${parts.length === 1 ? parts[0] : `least(${parts.join(', ')})`} as at`)),
  );
  return row?.at ? new Date(row.at).getTime() : null;
}
