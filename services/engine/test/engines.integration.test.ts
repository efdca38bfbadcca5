/**
 * Scaling out: two engine processes (two Kafka clients in one consumer group, one database)
 * share the signals and the deadlines. Every incident is created once and every breach fires
 * once; a write decided on a stale version is refused by the fencing token.
 */
import type { TopicName } from '@huiying/bus';
import type { KafkaBus } from '@huiying/bus/kafka';
import { FakeClock } from '@huiying/clock';
import { alerts, auditLog, eq, incidents, OutboxRelay, rowsOf, sql } from '@huiying/db';
import { advanceIncident, DEFAULT_RULE_PACK, type IncidentState } from '@huiying/domain';
import { acceptSignal } from '@huiying/ingest';
import { eventually, freshDatabase, kafkaBus, testLogger, uniqueName } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningEngine, startEngine } from '../src/engine.ts';
import { persistAll, StaleWriteError } from '../src/store.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-09-30T20:00:00+08:00');
const N = 120;

let db: Awaited<ReturnType<typeof freshDatabase>>;
const buses: KafkaBus[] = [];
const engines: RunningEngine[] = [];
const clock = new FakeClock(T0);

beforeAll(async () => {
  db = await freshDatabase();
  const prefix = `${uniqueName('two')}.`;
  for (const name of ['engine-a', 'engine-b']) {
    const bus = await kafkaBus(uniqueName(name), prefix);
    buses.push(bus);
    engines.push(
      await startEngine({
        db: db.db,
        handle: db,
        bus,
        clock,
        pack: () => DEFAULT_RULE_PACK,
        logger: testLogger,
        groupId: 'engines',
        resyncMs: 0,
      }),
    );
  }
});

afterAll(async () => {
  for (const e of engines) await e.stop();
  for (const b of buses) await b.close();
  await db?.drop();
});

it('creates each incident once and fires each breach once with two engines', async () => {
  for (let i = 0; i < N; i++) {
    // Dues spread over one hour, 30 s apart.
    const received = new Date(T0 - 47 * HOUR + i * 30_000).toISOString();
    await acceptSignal(
      db.db,
      { source: 'hotline', sourceRef: `T-${i}`, title: `工单 ${i}`, publishedAt: received, receivedAt: received },
      'test',
      new Date(T0),
    );
  }
  await new OutboxRelay(db.db, (topic, messages) => buses[0]!.publish(topic as TopicName, messages)).flush();
  await eventually(async () => (await db.db.select({ id: incidents.id }).from(incidents)).length === N, `${N} incidents`);

  for (const e of engines) await e.timer.rearm();
  await clock.advanceTo(T0 + 2 * HOUR);

  const breached = await db.db.select().from(alerts).where(eq(alerts.kind, 'breached'));
  expect(breached).toHaveLength(N);
  expect(new Set(breached.map((a) => a.incidentId)).size).toBe(N);
  const audited = rowsOf<{ n: number }>(await db.db.execute(sql`select count(*)::int as n from audit_log where action = 'clock.breached'`));
  expect(audited[0]!.n).toBe(N);
  const created = await db.db.select().from(auditLog).where(eq(auditLog.action, 'incident.created'));
  expect(created).toHaveLength(N);
  // Each breach fired at its due, not at the end of the advance.
  const outbox = rowsOf<{ lateness: number }>(
    await db.db.execute(
      sql`select max(extract(epoch from (o.created_at - a.due_at))) as lateness from outbox o join alerts a on o.payload->>'alertId' = a.id where a.kind = 'breached'`,
    ),
  );
  expect(Number(outbox[0]!.lateness)).toBe(0);
});

it('refuses a write decided on a stale version (the fencing token)', async () => {
  const [row] = await db.db.select().from(incidents).limit(1);
  const state = row!.state as IncidentState;
  const stale = row!.version;
  // Another engine moves the incident on first.
  await db.db.execute(sql`update incidents set version = version + 1 where id = ${row!.id}`);
  const next = advanceIncident(state, clock.now());
  await expect(
    db.db.transaction((tx) =>
      persistAll(tx, [
        { before: state, version: stale, after: next.state, events: next.events, input: { type: 'test' }, actor: 'test', now: clock.now() },
      ]),
    ),
  ).rejects.toThrow(StaleWriteError);
  const creating = await db.db
    .transaction((tx) =>
      persistAll(tx, [
        { before: undefined, version: 0, after: state, events: [], input: { type: 'test' }, actor: 'test', now: clock.now() },
      ]),
    )
    .catch((e: unknown) => e);
  expect(creating).toBeInstanceOf(StaleWriteError);
});
