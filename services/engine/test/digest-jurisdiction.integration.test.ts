/**
 * The leaders' daily digest lists 约谈 candidates under each unit's jurisdiction's rule (issue
 * #10): an engine started with a rule pack whose west jurisdiction calls a unit in after 2
 * breaches in a month, beside the default 3 in a quarter. Real PostgreSQL, fake clock; the
 * breach alerts are written by hand (the counting is what is under test).
 */
import { EmbeddedBus } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { alerts, rowsOf, sql, units, users } from '@huiying/db';
import { parseRulePack } from '@huiying/domain';
import { freshDatabase, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningEngine, startEngine } from '../src/engine.ts';

const H = 3_600_000;
const T0 = Date.parse('2026-06-10T07:00:00+08:00');
const clock = new FakeClock(T0);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let bus: EmbeddedBus;
let engine: RunningEngine;

beforeAll(async () => {
  db = await freshDatabase();
  await db.db.insert(units).values([
    { id: 'roads', name: '市交通运输局', email: 'roads@example.test' },
    { id: 'west-roads', name: '西区交通局', email: 'west@example.test', jurisdiction: 'west' },
  ]);
  const at = new Date(T0);
  await db.db.insert(users).values({
    id: 'l1',
    username: 'l1',
    displayName: '分管副市长',
    role: 'leader',
    email: 'l1@example.test',
    createdAt: at,
    updatedAt: at,
  });
  // Two breaches each this month (June 2026, in 2026-Q2).
  await db.db.insert(alerts).values(
    ['roads', 'west-roads'].flatMap((unit) =>
      [2, 5].map((day) => ({
        id: `alr_${unit}_${day}`,
        obligationId: `duty-${unit}-${day}`,
        kind: 'breached',
        clock: 'policy_interpretation',
        dueAt: new Date(`2026-06-0${day}T00:00:00+08:00`),
        unitId: unit,
        at: new Date(`2026-06-0${day}T00:00:00+08:00`),
      })),
    ),
  );
  bus = new EmbeddedBus();
  await bus.ensureTopics();
  engine = await startEngine({
    db: db.db,
    bus,
    clock,
    pack: () => parseRulePack({ jurisdictions: { west: { ladder: { interview: { breaches: 2, period: 'month' } } } } }),
    logger: testLogger,
    resyncMs: 0,
    ladder: { dashboardUrl: 'http://console.test/', dutyEmail: 'duty@example.test' },
    digest: { hour: 8 },
  });
});

afterAll(async () => {
  await engine?.stop();
  await bus?.close();
  await db?.drop();
});

it('a west unit with 2 breaches this month is a 约谈 candidate in the digest; a default unit with 2 this quarter is not', async () => {
  await clock.advanceTo(T0 + H);
  const [digest] = rowsOf<{ text: string }>(
    await db.db.execute(sql`select text from notifications where step_kind = 'digest' and recipient = 'l1@example.test'`),
  );
  expect(digest?.text).toContain('约谈候选单位（1个）');
  expect(digest?.text).toContain('西区交通局：2026-06 超时 2 次');
  expect(digest?.text).not.toContain('市交通运输局：');
});
