/**
 * The production engine's timer on its own thread (timer-thread.ts), on the real PostgreSQL.
 * Each clock is loaded already due (received 48 h + 1 s before it is looked at), without
 * pg_notify, so what wakes the thread is exactly what the test sends it; no business time passes.
 * The thread takes the system clock (it has no other), which only has to be past each due.
 */
import { rowsOf, sql } from '@huiying/db';
import { applyIncidentInput, DEFAULT_RULE_PACK, MS_PER_HOUR, nextIncidentWake } from '@huiying/domain';
import { eventually, freshDatabase, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TimerControl } from '../src/timer-host.ts';
import { startTimerThread } from '../src/timer-thread.ts';

let db: Awaited<ReturnType<typeof freshDatabase>>;
let timer: TimerControl;
const reported: number[] = [];
const failures: unknown[] = [];

/** An open incident whose response clock fell due at `due`, written as the engine would, without pg_notify. */
async function loadDueIncident(id: string, due: number): Promise<void> {
  const { state } = applyIncidentInput(
    undefined,
    { type: 'signal', at: due - 1000, incident: id, source: 'hotline', publishedAt: due - 48 * MS_PER_HOUR, title: `线程计时 ${id}` },
    DEFAULT_RULE_PACK,
  );
  expect(nextIncidentWake(state)).toBe(due);
  const c = state.clocks[0]!;
  await db.db.transaction(async (tx) => {
    await tx.execute(sql`insert into incidents (id, title, status, start_at, state, next_wake_at, created_at, updated_at)
      values (${id}, ${state.title}, ${state.status}, ${new Date(state.startAt).toISOString()}, ${JSON.stringify(state)}::jsonb,
              ${new Date(due).toISOString()}, now(), now())`);
    await tx.execute(sql`insert into incident_wakes (incident_id, wake_at) values (${id}, ${new Date(due).toISOString()})`);
    await tx.execute(sql`insert into clocks (incident_id, seq, kind, state, start_at, due_at, updated_at)
      values (${id}, ${c.seq}, ${c.kind}, ${c.state}, ${new Date(c.startAt).toISOString()}, ${new Date(c.dueAt).toISOString()}, now())`);
  });
}

async function breachCommittedAt(id: string): Promise<number | undefined> {
  const [row] = rowsOf<{ at: string | Date }>(
    await db.db.execute(sql`select o.created_at as at from outbox o join alerts a on a.id = o.payload->>'alertId'
      where a.kind = 'breached' and a.incident_id = ${id}`),
  );
  return row ? new Date(row.at).getTime() : undefined;
}

beforeAll(async () => {
  db = await freshDatabase();
  timer = await startTimerThread({
    databaseUrl: db.url,
    // No periodic look-up: a row written behind the thread's back fires only when it is told.
    resyncMs: 0,
    logger: testLogger,
    logLevel: 'silent',
    logName: 'timer-thread-test',
    onCommitted: (ms) => reported.push(...ms),
    onFailed: (error) => failures.push(error),
  });
});

afterAll(async () => {
  await timer?.stop();
  await db?.drop();
});

it('fires a due clock on its own thread while the main thread is busy, and reports its committed lateness', async () => {
  const due = Date.now() - 1000;
  await loadDueIncident('inc_thread_busy', due);
  timer.nudge(due);
  // Hold the main thread's event loop, as a batch of signals does (the nudge leaves in a
  // microtask, before the loop is held): an inline timer could not commit until it is released.
  await Promise.resolve();
  const heldFrom = Date.now();
  while (Date.now() - heldFrom < 3000) {
    // busy
  }
  const released = Date.now();
  const committed = await eventually(() => breachCommittedAt('inc_thread_busy'), 'the breach of inc_thread_busy');
  expect(committed).toBeLessThan(released);
  const lateness = await eventually(async () => reported.length > 0 && reported, 'the lateness report');
  expect(lateness).toHaveLength(1);
  // COMMIT's return − the due: at least the second it was overdue when loaded.
  expect(lateness[0]).toBeGreaterThanOrEqual(1000);
  expect(lateness[0]).toBeLessThan(committed - due + 3000);
});

it('re-arms on request and hears huiying_wake on its own connection', async () => {
  const due = Date.now() - 1000;
  await loadDueIncident('inc_thread_rearm', due);
  await timer.rearm();
  await eventually(() => breachCommittedAt('inc_thread_rearm'), 'the breach after rearm');

  await loadDueIncident('inc_thread_notify', due);
  await db.db.execute(sql`select pg_notify('huiying_wake', ${new Date(due).toISOString()})`);
  await eventually(() => breachCommittedAt('inc_thread_notify'), 'the breach after huiying_wake');
  expect(failures).toEqual([]);
});

it('stops: the thread closes its connections and ends without a failure', async () => {
  const listening = async () =>
    rowsOf<{ n: number }>(
      await db.db.execute(
        sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and query = 'LISTEN "huiying_wake"'`,
      ),
    )[0]!.n;
  expect(await listening()).toBe(1);
  // Resolves once the thread has exited (a pass in progress would have committed first).
  await timer.stop();
  await eventually(async () => (await listening()) === 0, 'the thread to close its LISTEN connection');
  expect(failures).toEqual([]);
  // After the thread: nudges and rearms are no-ops, not errors.
  timer.nudge(Date.now());
  await timer.rearm();
});
