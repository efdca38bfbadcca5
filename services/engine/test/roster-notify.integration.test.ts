/**
 * Roster edits reach the engine at once: a change to `duty_shifts` (from any process: here plain
 * SQL, as the API or psql would write it) notifies huiying_roster (trigger, migration 0019); the
 * engine's handover scheduler looks again and arms for the next shift change as the roster now
 * stands. The periodic resync is set to a day here, so only the notification can have armed
 * the wakes asserted below. Real PostgreSQL, fake clock.
 */
import { EmbeddedBus } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { rowsOf, sql } from '@huiying/db';
import { DEFAULT_RULE_PACK } from '@huiying/domain';
import { eventually, freshDatabase, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningEngine, startEngine } from '../src/engine.ts';

const MIN = 60_000;
const H = 60 * MIN;
const T0 = Date.parse('2026-03-02T09:00:00+08:00');
const clock = new FakeClock(T0);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let bus: EmbeddedBus;
let engine: RunningEngine;
let rosterNotifications = 0;

beforeAll(async () => {
  db = await freshDatabase();
  await db.db.execute(sql`insert into users (id, username, display_name, role, email, created_at, updated_at)
    values ('d-zhang', 'zhang', '张值班', 'duty', 'zhang@example.test', now(), now())`);
  bus = new EmbeddedBus();
  await bus.ensureTopics();
  engine = await startEngine({
    db: db.db,
    // The engine's own LISTEN, counted so the test knows when the notification has arrived.
    handle: {
      listen: (channel, onNotify, onLost) =>
        db.listen(
          channel,
          (payload) => {
            onNotify(payload);
            if (channel === 'huiying_roster') rosterNotifications++;
          },
          onLost,
        ),
    },
    bus,
    clock,
    pack: () => DEFAULT_RULE_PACK,
    logger: testLogger,
    ladder: { dashboardUrl: 'http://console.test/', dutyEmail: 'duty@example.test' },
    handover: { resyncMs: 24 * H },
  });
}, 60_000);

afterAll(async () => {
  await engine?.stop();
  await bus?.close();
  await db?.drop();
});

const handovers = async () =>
  rowsOf<{ clock_key: string; recipient: string }>(
    await db.db.execute(sql`select clock_key, recipient from notifications where step_kind = 'handover' order by seq`),
  ).map((r) => `${r.clock_key} ${r.recipient}`);

async function edit(statement: ReturnType<typeof sql>) {
  const before = rosterNotifications;
  await db.db.execute(statement);
  await eventually(async () => rosterNotifications > before, 'the huiying_roster notification');
  await clock.settle();
}

const iso = (ms: number) => new Date(ms).toISOString();

it('a shift added, moved and removed is handed over at its instants, without waiting for the resync', async () => {
  expect(await handovers()).toEqual([]);

  // Added at 09:00 for 09:10–17:00: the scheduler was armed for tomorrow's resync; now for 09:10.
  await edit(sql`insert into duty_shifts (id, user_id, starts_at, ends_at, created_by, created_at, updated_at)
    values ('s1', 'd-zhang', ${iso(T0 + 10 * MIN)}, ${iso(T0 + 8 * H)}, 'admin', now(), now())`);
  await clock.advanceTo(T0 + 10 * MIN);
  expect(await handovers()).toEqual([`handover:${iso(T0 + 10 * MIN)} zhang@example.test`]);

  // Cut short at 10:00 to end at 11:00 (not 17:00): handed over at 11:00.
  await clock.advanceTo(T0 + H);
  await edit(sql`update duty_shifts set ends_at = ${iso(T0 + 2 * H)} where id = 's1'`);
  await clock.advanceTo(T0 + 2 * H);
  expect((await handovers()).at(-1)).toBe(`handover:${iso(T0 + 2 * H)} zhang@example.test`);

  // A shift added for 12:00–13:00 and removed again before it starts: nothing at 12:00.
  await edit(sql`insert into duty_shifts (id, user_id, starts_at, ends_at, created_by, created_at, updated_at)
    values ('s2', 'd-zhang', ${iso(T0 + 3 * H)}, ${iso(T0 + 4 * H)}, 'admin', now(), now())`);
  await edit(sql`delete from duty_shifts where id = 's2'`);
  await clock.advanceTo(T0 + 5 * H);
  expect(await handovers()).toHaveLength(2);
});

it('an officer enabled again or disabled notifies too (trigger on users, migration 0026): a re-enabled officer’s shift is handed over at its start', async () => {
  // Li is disabled: the shift 16:00–17:00 is not on the roster, so nothing is armed for it.
  await db.db.execute(sql`insert into users (id, username, display_name, role, email, disabled_at, created_at, updated_at)
    values ('d-li', 'li', '李值班', 'duty', 'li@example.test', now(), now(), now())`);
  await edit(sql`insert into duty_shifts (id, user_id, starts_at, ends_at, created_by, created_at, updated_at)
    values ('s3', 'd-li', ${iso(T0 + 7 * H)}, ${iso(T0 + 8 * H)}, 'admin', now(), now())`);
  const before = (await handovers()).length;
  // Enabled again at 15:30: the scheduler looks again at once and arms 16:00 (the resync is a day away).
  await clock.advanceTo(T0 + 6 * H + 30 * MIN);
  await edit(sql`update users set disabled_at = null where id = 'd-li'`);
  await clock.advanceTo(T0 + 7 * H);
  expect((await handovers()).slice(before)).toEqual([`handover:${iso(T0 + 7 * H)} li@example.test`]);
  // Disabled again at 16:30: notified as well; the 17:00 change hands over to nobody.
  await clock.advanceTo(T0 + 7 * H + 30 * MIN);
  await edit(sql`update users set disabled_at = now() where id = 'd-li'`);
  await clock.advanceTo(T0 + 8 * H);
  expect((await handovers()).slice(before)).toHaveLength(1);
  // An edit that changes neither the role nor disabled_at notifies nobody: notifications arrive in
  // commit order, so the roster edit after it is the only one counted.
  const n = rosterNotifications;
  await db.db.execute(sql`update users set display_name = '李值班（东区）', role = 'duty' where id = 'd-li'`);
  await edit(sql`delete from duty_shifts where id = 's3'`);
  expect(rosterNotifications).toBe(n + 1);
});
