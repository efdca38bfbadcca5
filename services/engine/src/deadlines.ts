import { createHash } from 'node:crypto';
import { auditLog, type Db, rowsOf, type SQL, sql, type Tx } from '@huiying/db';
import type { EngineEvent } from '@huiying/domain';
import { type SideEffects, sideEffectCtes } from './batch-sql.ts';
import { NotFoundError, StaleWriteError } from './errors.ts';
import type { LadderWiring } from './ladder-writer.ts';

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * An aggregate with deadlines (an incident, a working-day duty; through their writers, the
 * escalation ladder's steps): a row with `id`, a jsonb `state`, `next_wake_at` and a version
 * fence. Every change of one — a command, a signal, the timer — takes the same path: lock the
 * row, fire what fell due before the change, apply it, and hand the result to the aggregate's
 * writer, which persists what changed in the caller's transaction. The claim, the batching, the
 * isolation of a bad row, the re-arm query and the command's load-advance-apply live here once.
 */
export interface DeadlineKind<S = unknown, X = unknown> {
  /** Audit entity and alert column: 'incident' → incidents / alerts.incident_id. */
  entity: 'incident' | 'obligation';
  table: 'incidents' | 'obligations';
  /**
   * The timer's queue: where the kind's wakes are indexed. A duty's is its own row
   * (`obligations.next_wake_at`); an incident's a narrow table beside it (`incident_wakes`,
   * migration 0033), so that a wake's write to the wide incident row changes no indexed column
   * and can be a HOT update. The writer keeps it equal to the row's `next_wake_at`.
   */
  queue: { table: string; key: string; at: string };
  /** Columns `read` needs, besides id (fixed SQL text). */
  columns: string;
  /** A locked row as the writer needs it: the state, the fence, and what else the kind keeps (a duty's title and unit). */
  read(row: Record<string, unknown>): Loaded<S, X>;
  /** The domain's advance: fire what is due at or before `now`. */
  advance(state: S, now: number): { state: S; events: EngineEvent[] };
  /** The domain's next wake of a state (the in-process timer re-arms for it). */
  nextWake(state: S): number | null;
  /** The aggregate's writer: persist a batch of changes inside `tx` (fenced on each write's version). */
  persist(tx: Tx, writes: readonly AggregateWrite<S, X>[], ladder: LadderWiring | undefined): Promise<void>;
}

/** A locked row of an aggregate. */
export interface Loaded<S, X> {
  state: S;
  /** Fencing token: the row version a write is decided on (0 for a new aggregate). */
  version: number;
  extra: X;
}

/** One change for the writer: the state before (undefined when it creates the aggregate) and after. */
export interface AggregateWrite<S, X = unknown> {
  before: S | undefined;
  version: number;
  after: S;
  events: EngineEvent[];
  /** What caused it, for the audit log (a command, a signal, `{ type: 'timer' }`). */
  input: unknown;
  actor: string;
  now: number;
  extra: X;
}

/**
 * Told after each committed timer batch: per fired row, how late its wake became visible (the
 * clock at COMMIT's return − the row's next_wake_at when claimed). The engine reports it
 * (lateness.ts), so lateness is watched in production, not only in a benchmark.
 */
export type OnCommitted = (latenessMs: readonly number[]) => void;

/** What firing a batch needs from the engine besides the rows: the ladder's wiring. */
export interface FireDeps {
  ladder?: LadderWiring | undefined;
}

/** Advance claimed rows to `now` and write them: the timer's whole job for a batch. */
function fireRows<S, X>(kind: DeadlineKind<S, X>, tx: Tx, rows: readonly Record<string, unknown>[], now: number, deps: FireDeps) {
  const input = { type: 'timer', at: iso(now) };
  return kind.persist(
    tx,
    rows.map((row) => {
      const loaded = kind.read(row);
      const { state, events } = kind.advance(loaded.state, now);
      return { before: loaded.state, version: loaded.version, after: state, events, input, actor: 'timer', now, extra: loaded.extra };
    }),
    deps.ladder,
  );
}

/**
 * A command on one aggregate: lock its row, fire what fell due before the command (so the
 * command sees the state the replay would), let `decide` apply it, persist, and tell `onWake`
 * where the aggregate's next deadline now is. Without a row, `decide` gets undefined (a command
 * that creates the aggregate) unless `mustExist`, which throws NotFoundError.
 */
export async function applyCommandOf<S, X, R extends { state: S; events: EngineEvent[] }>(
  kind: DeadlineKind<S, X>,
  deps: { db: Db; clock: { now(): number }; ladder?: LadderWiring | undefined; onWake?: ((at: number) => void) | undefined },
  command: {
    id: string;
    at: number;
    input: unknown;
    actor: string;
    mustExist: boolean;
    /** Apply the command to the state brought to just before it (undefined: the aggregate is new). */
    decide(state: S | undefined, loaded: Loaded<S, X> | undefined): R & { extra: X };
    /** Writes that must commit or roll back with the command (e.g. the recorded response's row). */
    alongside?: ((tx: Tx) => Promise<void>) | undefined;
  },
): Promise<R> {
  const result = await deps.db.transaction(async (tx) => {
    const [row] = rowsOf<Record<string, unknown>>(
      await tx.execute(sql`select id, ${sql.raw(kind.columns)} from ${sql.raw(kind.table)} where id = ${command.id} for update`),
    );
    if (!row && command.mustExist) throw new NotFoundError(`${kind.entity} ${command.id} not found`);
    const loaded = row ? kind.read(row) : undefined;
    const overdue = loaded ? kind.advance(loaded.state, command.at - 1) : undefined;
    const decided = command.decide(overdue?.state, loaded);
    const write: AggregateWrite<S, X> = {
      before: loaded?.state,
      version: loaded?.version ?? 0,
      after: decided.state,
      events: [...(overdue?.events ?? []), ...decided.events],
      input: command.input,
      actor: command.actor,
      now: deps.clock.now(),
      extra: decided.extra,
    };
    await kind.persist(tx, [write], deps.ladder);
    await command.alongside?.(tx);
    return { ...decided, events: write.events };
  });
  const wake = kind.nextWake(result.state);
  if (wake !== null) deps.onWake?.(wake);
  return result;
}

/**
 * Fire every warning and breach of one kind due at or before `until`. Rows are claimed with
 * SKIP LOCKED, so several engines share the work and none fires one deadline twice.
 */
export async function fireDueOf<S, X>(
  kind: DeadlineKind<S, X>,
  deps: { db: Db; clock: { now(): number }; ladder?: LadderWiring | undefined; onCommitted?: OnCommitted | undefined },
  until: number,
  batch = 200,
  /**
   * Transactions in flight while a backlog lasts. With one, the engine and PostgreSQL take turns
   * (the engine builds a batch while the server waits, the server writes and commits while the
   * engine waits); a second claims the next rows (SKIP LOCKED) meanwhile. It starts only when a
   * batch came back full, so a pass with a few dues costs what it did.
   */
  workers = 1,
): Promise<number> {
  // Most passes have nothing due of a kind: answer that from the index without opening a transaction.
  const [due] = rowsOf<{ one: number }>(await deps.db.execute(anyDue(kind, until)));
  if (!due) return 0;
  const helpers: Promise<number>[] = [];
  const loop = async (): Promise<number> => {
    let fired = 0;
    for (;;) {
      // Each transaction reads the clock afresh: its events are stamped with the moment they are
      // really fired, not when a backlogged pass began (bench/README.md).
      const now = Math.max(until, deps.clock.now());
      let n: number;
      try {
        const wakes = await fireBatch(kind, deps, now, batch);
        n = wakes.length;
        if (n > 0 && deps.onCommitted) {
          const committed = deps.clock.now();
          deps.onCommitted(wakes.map((w) => committed - w));
        }
      } catch (error) {
        if (error instanceof Error && error.name === 'StaleWriteError') throw error;
        // One bad row must not stop every deadline: fire one at a time, set the bad one aside.
        n = await fireOneByOne(kind, deps, now, batch, error);
      }
      fired += n;
      if (n < batch) return fired;
      if (helpers.length < workers - 1) {
        const helper = loop();
        // Awaited below; until then its failure must not count as unhandled.
        helper.catch(() => undefined);
        helpers.push(helper);
      }
    }
  };
  let fired = await loop();
  // Helpers may start helpers while we wait: settle until none is left.
  for (let i = 0; i < helpers.length; i++) fired += await helpers[i]!;
  return fired;
}

/**
 * Is anything of the kind due at or before `until`? Ordered, so that the answer is the queue
 * index's head whatever the planner estimates: once most of the queue was estimated due, it chose
 * a sequential scan for "any row", which walked the dead rows fired wakes leave at the start of
 * the heap until the queue's vacuum — 2.3 ms a pass and a quarter of PostgreSQL's CPU per fired
 * clock in the timer benchmark (bench/README.md).
 */
export function anyDue(kind: DeadlineKind, until: number): SQL {
  const q = kind.queue;
  return sql`select 1 as one from ${sql.raw(q.table)} where ${sql.raw(q.at)} <= ${iso(until)} order by ${sql.raw(q.at)} limit 1`;
}

/** Claim, advance and write one batch; returns the wakes it fired (the instants they were due). */
function fireBatch<S, X>(kind: DeadlineKind<S, X>, deps: { db: Db } & FireDeps, now: number, limit: number): Promise<number[]> {
  return deps.db.transaction(async (tx) => {
    const rows = rowsOf<Record<string, unknown>>(await tx.execute(claimDue(kind, now, limit, sql.raw(kind.columns))));
    if (rows.length > 0) await fireRows(kind, tx, rows, now, deps);
    return rows.map((r) => new Date(r.next_wake_at as string | Date).getTime());
  });
}

async function fireOneByOne<S, X>(
  kind: DeadlineKind<S, X>,
  deps: { db: Db } & FireDeps,
  now: number,
  limit: number,
  batchError: unknown,
): Promise<number> {
  let done = 0;
  for (let i = 0; i < limit; i++) {
    try {
      const n = (await fireBatch(kind, deps, now, 1)).length;
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
    const [row] = rowsOf<{ id: string }>(await tx.execute(claimDue(kind, now, 1, sql`1`)));
    if (!row) return;
    await tx.execute(sql`update ${sql.raw(kind.table)} set next_wake_at = null where id = ${row.id}`);
    if (kind.queue.table !== kind.table)
      await tx.execute(sql`delete from ${sql.raw(kind.queue.table)} where ${sql.raw(kind.queue.key)} = ${row.id}`);
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

/**
 * Lock up to `limit` rows due at or before `now`, earliest first, skipping those another engine
 * holds: `id`, `next_wake_at` (the queued wake) and `columns` of each. With a queue table
 * beside the rows, both the queue's row and the aggregate's are locked.
 */
function claimDue(kind: DeadlineKind, now: number, limit: number, columns: SQL): SQL {
  const q = kind.queue;
  if (q.table === kind.table)
    return sql`select id, next_wake_at, ${columns} from ${sql.raw(kind.table)} where next_wake_at <= ${iso(now)} order by next_wake_at limit ${limit} for update skip locked`;
  return sql`select a.id, w.${sql.raw(q.at)} as next_wake_at, ${columns} from ${sql.raw(q.table)} w join ${sql.raw(kind.table)} a on a.id = w.${sql.raw(q.key)}
    where w.${sql.raw(q.at)} <= ${iso(now)} order by w.${sql.raw(q.at)} limit ${limit} for update of w, a skip locked`;
}

/** The earliest wake over every kind (the in-process timer arms for it). */
export async function nextWakeOf(db: Db, kinds: readonly DeadlineKind[]): Promise<number | null> {
  const parts = kinds.map((k) => `(select min(${k.queue.at}) from ${k.queue.table})`);
  const [row] = rowsOf<{ at: string | Date | null }>(
    await db.execute(sql.raw(`select ${parts.length === 1 ? parts[0] : `least(${parts.join(', ')})`} as at`)),
  );
  return row?.at ? new Date(row.at).getTime() : null;
}

/**
 * The earliest wake later than `after` over every kind. Unlike `nextWakeOf` it starts its index
 * scan past the wakes a pass is firing, so it does not walk the entries those passes leave dead
 * at the head of the queue until vacuum removes them.
 */
export async function nextWakeAfter(db: Db, kinds: readonly DeadlineKind[], after: number): Promise<number | null> {
  const parts = kinds.map(
    (k) => sql`(select min(${sql.raw(k.queue.at)}) from ${sql.raw(k.queue.table)} where ${sql.raw(k.queue.at)} > ${iso(after)})`,
  );
  const [row] = rowsOf<{ at: string | Date | null }>(
    await db.execute(sql`select ${parts.length === 1 ? parts[0]! : sql`least(${sql.join(parts, sql`, `)})`} as at`),
  );
  return row?.at ? new Date(row.at).getTime() : null;
}

/** The wake to store: the earlier of the clocks' next deadline and the ladder's next step. */
export const earlierOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));

/**
 * The end of every writer's batch: one statement — the aggregate's own CTEs (`entity`, which
 * must define `written` as the rows it wrote past the fence), then the side effects (alerts,
 * audit, outbox) — and the fence checked: a write decided on an outdated version is refused and
 * the transaction rolls back with StaleWriteError.
 */
export async function writeFenced(tx: Tx, entity: SQL, effects: SideEffects, expected: number, what: string): Promise<void> {
  const result = rowsOf<{ written: number }>(
    await tx.execute(sql`
      with ${entity},
      ${sideEffectCtes(effects)}
      select (select count(*) from written)::int as written`),
  );
  const written = result[0]?.written ?? 0;
  if (written !== expected) {
    throw new StaleWriteError(`stale write refused for ${expected - written} ${what}(s): another engine changed them first`);
  }
}

/** Other engines armed for a later instant hear that something is now due earlier. */
export async function announceEarlierWake(tx: Tx, at: number | null): Promise<void> {
  if (at !== null) await tx.execute(sql`select pg_notify('huiying_wake', ${iso(at)})`);
}
