/**
 * The ladder per jurisdiction through the real engine on the real PostgreSQL, in simulated time
 * (issue #10: "configurable per jurisdiction and per clock kind"). One rule pack tells east's
 * leaders of a 5 h breach 2 h after it and west's 6 h after; two incidents opened by signals of
 * the two jurisdictions, graded at the same instant, escalate each on its own ladder, fired by the
 * engine's own DeadlineTimer on a fake clock. A working-day duty is in its unit's jurisdiction.
 */
import type { SignalMessage } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { monitoringRules, rowsOf, signals, sql, units, users } from '@huiying/db';
import { parseRulePack } from '@huiying/domain';
import { freshDatabase, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CalendarService } from '../src/calendar.ts';
import type { LadderWiring } from '../src/ladder-writer.ts';
import { applyObligationCommand } from '../src/obligations.ts';
import { handleSignal } from '../src/signals.ts';
import { applyCommand, type EngineDeps } from '../src/store.ts';
import { DeadlineTimer } from '../src/timer.ts';

const H = 3_600_000;
const WIRING: LadderWiring = { dashboardUrl: 'http://console.test/', dutyEmail: 'duty@example.test' };
const PACK = parseRulePack({
  name: '某市 2026（分辖区）',
  jurisdictions: {
    east: { ladder: { clocks: { release: { leadersAfterHours: 2 } } } },
    west: { ladder: { clocks: { release: { leadersAfterHours: 6 }, policy_interpretation: { leadersAfterHours: 24 } } } },
  },
});

let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  db = await freshDatabase();
  const at = new Date('2026-01-01T00:00:00Z');
  await db.db.insert(units).values([
    { id: 'office', name: '市政府办公室', email: 'office@example.test' },
    { id: 'east-water', name: '东区水务局', email: 'east@example.test', parentId: 'office', jurisdiction: 'east' },
    { id: 'west-water', name: '西区水务局', email: 'west@example.test', parentId: 'office', jurisdiction: 'west' },
  ]);
  await db.db.insert(users).values({
    id: 'u-l1',
    username: 'leader1',
    displayName: '分管副市长',
    role: 'leader',
    email: 'leader@example.test',
    createdAt: at,
    updatedAt: at,
  });
  // Every ticket of either jurisdiction is a matter (each jurisdiction's own monitoring rule).
  await db.db.insert(monitoringRules).values(
    ['east', 'west'].map((j) => ({
      id: `mr_${j}`,
      name: j,
      jurisdiction: j,
      expression: '',
      sources: ['hotline', 'manual'],
      createdBy: 'test',
      createdAt: at,
      updatedAt: at,
    })),
  );
});

afterAll(async () => db?.drop());

async function engineAt(start: number) {
  const clock = new FakeClock(new Date(start).toISOString());
  const deps: EngineDeps = { db: db.db, clock, pack: () => PACK, ladder: WIRING };
  const timer = new DeadlineTimer({ ...deps, logger: testLogger }, { resyncMs: 0 });
  await timer.start();
  deps.onWake = (at) => timer.nudge(at);
  const calendars = new CalendarService(db.db);
  await calendars.load();
  return { clock, deps, timer, obligations: { ...deps, calendars } };
}

/** Store a ticket as ingest does (its jurisdiction in the row), then hand its message to the engine. */
async function ticketIn(deps: EngineDeps, id: string, jurisdiction: string, title: string, at: number): Promise<string> {
  const iso = new Date(at).toISOString();
  await db.db.insert(signals).values({
    id,
    source: 'hotline',
    sourceRef: id,
    title,
    publishedAt: new Date(at),
    receivedAt: new Date(at),
    jurisdiction,
  });
  const msg: SignalMessage = { v: 1, type: 'signal', id, source: 'hotline', sourceRef: id, publishedAt: iso, receivedAt: iso };
  const outcome = await handleSignal(deps, msg);
  if (outcome.incidentId === null) throw new Error(`signal ${id} opened no incident (${outcome.decision})`);
  return outcome.incidentId;
}

const shanghai = (at: Date) =>
  new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai', dateStyle: 'short', timeStyle: 'short' }).format(at);

/** When each leaders' report (通报, the 4th step) of a matter was queued, Asia/Shanghai. */
async function leadersSteps(where: ReturnType<typeof sql>): Promise<string[]> {
  const rows = rowsOf<{ created_at: string | Date; step: string; clock_kind: string }>(
    await db.db.execute(
      sql`select distinct created_at, step, clock_kind from notifications where ${where} and role = 'leaders' order by created_at, step`,
    ),
  );
  return rows.map((r) => `${shanghai(new Date(r.created_at))} ${r.clock_kind} ${r.step}`);
}

describe('the ladder of each jurisdiction, through the engine in simulated time', () => {
  it('two incidents in two jurisdictions: the leaders hear of the 5 h breach 2 h after it in east, 6 h after in west', async () => {
    const T0 = Date.parse('2026-03-02T08:00:00+08:00');
    const e = await engineAt(T0);
    const east = await ticketIn(e.deps, 'sig-east', 'east', '东区自来水管爆裂', T0);
    const west = await ticketIn(e.deps, 'sig-west', 'west', '西区化工厂异味', T0);
    for (const [id, unit] of [
      [east, 'east-water'],
      [west, 'west-water'],
    ] as const) {
      await applyCommand(e.deps, id, { type: 'grade', at: T0, incident: id, level: 'I', unit }, 'duty:zhang');
    }
    const state = rowsOf<{ id: string; j: string }>(
      await db.db.execute(sql`select id, state->>'jurisdiction' as j from incidents where id in (${east}, ${west}) order by id`),
    );
    expect(Object.fromEntries(state.map((r) => [r.id, r.j]))).toEqual({ [east]: 'east', [west]: 'west' });

    await e.clock.advanceTo(T0 + 12 * H);
    // Release due 13:00 for both; east's leaders at 15:00, west's at 19:00 (the default would be 17:00 for both).
    expect(await leadersSteps(sql`incident_id = ${east}`)).toEqual(['2026-03-02 15:00 release leaders#0']);
    expect(await leadersSteps(sql`incident_id = ${west}`)).toEqual(['2026-03-02 19:00 release leaders#0']);
    // The 催办 of both follow the pack's own hourly repeat: only the leaders' delay was overridden.
    const urges = rowsOf<{ incident_id: string; n: number }>(
      await db.db.execute(sql`
        select incident_id, count(distinct step)::int as n from notifications
        where incident_id in (${east}, ${west}) and step like 'urge#%' group by incident_id order by incident_id`),
    );
    expect(urges.map((u) => u.n)).toEqual([8, 8]);
    await e.timer.stop();
  });

  it('a working-day duty is in its unit’s jurisdiction: west’s leaders hear 24 h after the due, not the default 12 h', async () => {
    const T0 = Date.parse('2026-03-02T09:00:00+08:00');
    const e = await engineAt(T0);
    for (const [id, unit] of [
      ['duty-west', 'west-water'],
      ['duty-east', 'east-water'],
    ] as const) {
      await applyObligationCommand(
        e.obligations,
        { type: 'obligation', at: T0, id, kind: 'policy_interpretation', issuedAt: T0 },
        'duty:zhang',
        { title: `${unit} 政策解读`, unit },
      );
    }
    // Due at the end of Thursday 2026-03-05 (3 working days after the issue day).
    await e.clock.advanceTo(Date.parse('2026-03-07T12:00:00+08:00'));
    expect(await leadersSteps(sql`obligation_id = 'duty-west'`)).toEqual(['2026-03-07 00:00 policy_interpretation leaders#0']);
    expect(await leadersSteps(sql`obligation_id = 'duty-east'`)).toEqual(['2026-03-06 12:00 policy_interpretation leaders#0']);
    await e.timer.stop();
  });
});
