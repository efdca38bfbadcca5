/**
 * What a fired clock costs PostgreSQL (bench/README.md, timer.ts): an event is sent once and its
 * audit row and alert are derived in the database from its outbox payload (batch-sql.ts), and the
 * board's `urgent_due` is computed by a plpgsql loop (migration 0028). Both must write exactly
 * what they did: the rows the domain's events call for, and 0009's value for every state.
 */
import { FakeClock } from '@huiying/clock';
import { rowsOf, sql, units } from '@huiying/db';
import {
  advanceIncident,
  applyIncidentInput,
  DEFAULT_RULE_PACK,
  type EngineEvent,
  type IncidentInput,
  type IncidentState,
  MS_PER_HOUR,
} from '@huiying/domain';
import { freshDatabase } from '@huiying/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { alertIdFor, applyCommand, type EngineDeps, fireDue, persistAll, toEventMessage } from '../src/store.ts';
import { incidentView } from '../src/view.ts';

const H = MS_PER_HOUR;
const T0 = Date.parse('2026-07-01T09:00:00+08:00');
let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  db = await freshDatabase();
  await db.db.insert(units).values([
    { id: 'u1', name: '一单位', email: 'u1@example.test' },
    { id: 'u2', name: '二单位', email: 'u2@example.test' },
  ]);
});

afterAll(async () => {
  await db?.drop();
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const LEVELS = ['I', 'II', 'III', 'IV'] as const;
const KINDS = ['release', 'press_conference', 'reply'] as const;

/** A command on incident `id` at `at`, its details drawn from x (null: a timer wake instead). */
function commandOf(id: string, at: number, k: number, x: number): IncidentInput | null {
  switch (k % 6) {
    case 0:
    case 1:
      return null;
    case 2:
      return { type: 'grade', at, incident: id, level: LEVELS[x % 4]! };
    case 3:
      return { type: 'assign', at, incident: id, unit: x % 2 === 0 ? 'u1' : 'u2' };
    case 4:
      // Every fifth a repost: a non-qualifying response (an alert without a clock).
      return { type: 'response', at, incident: id, kind: KINDS[x % 3]!, original: x % 5 !== 0, publishedAt: at - (x % 60) * H };
    default:
      return { type: 'response', at, incident: id, kind: 'reply', original: true, publishedAt: at - (x % 30) * H };
  }
}

interface Expected {
  alerts: Record<string, unknown>[];
  audits: { action: string; input: unknown; result: unknown }[];
}

/** The alert and audit rows the writer wrote for one write's events before they were derived in SQL. */
function expectedRows(after: IncidentState, events: readonly EngineEvent[], input: unknown, out: Expected): void {
  const view = incidentView(after);
  for (const e of events) {
    const raises = e.event === 'warning' || e.event === 'breached' || e.event === 'nonqualifying_response';
    const alertId = raises ? alertIdFor(view.id, e) : undefined;
    if (raises) {
      out.alerts.push({
        id: alertId,
        incident_id: view.id,
        obligation_id: null,
        kind: e.event,
        clock: e.event === 'nonqualifying_response' ? null : e.clock,
        due_at: 'due' in e ? iso(e.due) : null,
        elapsed: e.event === 'warning' ? e.elapsed : null,
        unit_id: view.unitId,
        at: iso(e.at),
      });
    }
    out.audits.push({ action: `clock.${e.event}`, input, result: toEventMessage(view.id, view.title, view.unitId, e, alertId) });
  }
}

it("an event's alert and audit rows, derived from its outbox payload, are what its domain event calls for", async () => {
  const aStep = fc.record({ gapHours: fc.integer({ min: 1, max: 40 }), k: fc.nat(), x: fc.nat() });
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(aStep, { minLength: 1, maxLength: 8 }), async (steps) => {
      const id = `inc_derive_${run++}`;
      // Each run far from the others, so a timer pass fires this run's incident alone.
      let at = T0 + run * 1000 * H;
      const clock = new FakeClock(at);
      const deps: EngineDeps = { db: db.db, clock, pack: () => DEFAULT_RULE_PACK };
      const expected: Expected = { alerts: [], audits: [] };
      const open = applyIncidentInput(
        undefined,
        { type: 'signal', at, incident: id, source: 'hotline', publishedAt: at - 3 * H, title: `热线 ${run}` },
        DEFAULT_RULE_PACK,
      );
      const created = { type: 'test', n: run };
      await db.db.transaction((tx) =>
        persistAll(tx, [{ before: undefined, version: 0, after: open.state, events: open.events, input: created, actor: 'test', now: at }]),
      );
      expectedRows(open.state, open.events, created, expected);
      for (const s of steps) {
        at += s.gapHours * H;
        await clock.advanceTo(at);
        const command = commandOf(id, at, s.k, s.x);
        if (command === null) {
          const [before] = rowsOf<{ state: IncidentState }>(await db.db.execute(sql`select state from incidents where id = ${id}`));
          const fired = await fireDue(deps, at);
          const [after] = rowsOf<{ state: IncidentState }>(await db.db.execute(sql`select state from incidents where id = ${id}`));
          if (fired > 0) expectedRows(after!.state, advanceIncident(before!.state, at).events, { type: 'timer', at: iso(at) }, expected);
        } else {
          const { state, events } = await applyCommand(deps, id, command, 'duty:test');
          expectedRows(state, events, command, expected);
        }
      }
      const alerts = rowsOf<Record<string, unknown>>(
        await db.db.execute(sql`select id, incident_id, obligation_id, kind, clock, due_at, elapsed, unit_id, at
          from alerts where incident_id = ${id} order by at, id`),
      ).map((r) => ({
        ...r,
        due_at: r.due_at === null ? null : new Date(r.due_at as string).toISOString(),
        at: new Date(r.at as string).toISOString(),
      }));
      const byAtId = (a: Record<string, unknown>, b: Record<string, unknown>) =>
        String(a.at).localeCompare(String(b.at)) || String(a.id).localeCompare(String(b.id));
      // alertIdFor is deterministic: an event repeated with the same instant is one alert.
      const wanted = [...new Map(expected.alerts.map((a) => [a.id, a])).values()].sort(byAtId);
      expect(alerts).toEqual(wanted);
      const audits = rowsOf<{ action: string; input: unknown; result: unknown }>(
        await db.db.execute(sql`select action, input, result from audit_log where entity_id = ${id} and action like 'clock.%' order by id`),
      );
      expect(audits).toEqual(JSON.parse(JSON.stringify(expected.audits)));
      // The audit's result is the outbox message, event for event.
      const outbox = rowsOf<{ payload: unknown }>(
        await db.db.execute(sql`select payload from outbox where key = ${id} and payload->>'event' <> 'incident_changed' order by id`),
      );
      expect(outbox.map((o) => o.payload)).toEqual(audits.map((a) => a.result));
    }),
    { numRuns: 25 },
  );
});

it('a batch of writes with different inputs: each event audited with its own input, each alert on its own incident', async () => {
  const at = T0 - 100 * H;
  const writes = Array.from({ length: 6 }, (_, n) => {
    const id = `inc_batch_${n}`;
    const { state, events } = applyIncidentInput(
      undefined,
      { type: 'signal', at, incident: id, source: 'hotline', publishedAt: at - (n % 2 === 0 ? 1 : 60) * H, title: `工单 ${n}` },
      DEFAULT_RULE_PACK,
    );
    return { before: undefined, version: 0, after: state, events, input: { type: 'test', n }, actor: 'test', now: at };
  });
  await db.db.transaction((tx) => persistAll(tx, writes));
  const audits = rowsOf<{ entity_id: string; input: { n: number } }>(
    await db.db.execute(
      sql`select entity_id, input from audit_log where entity_id like 'inc_batch_%' and action like 'clock.%' order by id`,
    ),
  );
  expect(audits.length).toBeGreaterThanOrEqual(writes.length);
  for (const a of audits) expect(`inc_batch_${a.input.n}`).toBe(a.entity_id);
  // Published 60 h before: the response clock (48 h) is breached at once, an alert per incident.
  const alerts = rowsOf<{ incident_id: string; kind: string }>(
    await db.db.execute(sql`select incident_id, kind from alerts where incident_id like 'inc_batch_%' order by incident_id`),
  );
  const expected = writes.flatMap((w) =>
    w.events.filter((e) => e.event === 'breached' || e.event === 'warning').map((e) => ({ incident_id: w.after.id, kind: e.event })),
  );
  expect(expected.length).toBeGreaterThan(0);
  expect(alerts).toEqual(expect.arrayContaining(expected));
  expect(alerts).toHaveLength(expected.length);
});

/** 0009's definition of the board's order, to compare 0028's with. */
const URGENT_DUE_0009 = sql`
  create or replace function urgent_due_0009(state jsonb) returns timestamp with time zone
  language sql immutable parallel safe as $$
    select to_timestamp(min((c->>'dueAt')::bigint) / 1000.0)
    from jsonb_array_elements(case when jsonb_typeof(state->'clocks') = 'array' then state->'clocks' else '[]'::jsonb end) as c
    where jsonb_typeof(c) = 'object' and c->>'state' in ('running', 'breached') and c->>'dueAt' ~ '^[0-9]{1,15}$'
  $$`;

it("the board's urgent_due (0028, plpgsql) is 0009's for any state, malformed ones included", async () => {
  await db.db.execute(URGENT_DUE_0009);
  const dueAt = fc.oneof(
    fc.integer({ min: 0, max: 4_000_000_000_000 }),
    fc.constantFrom('1780000000000', '12a', '', '1234567890123456', null, -5, 1.5, true),
  );
  const aClock = fc.oneof(
    fc.record(
      { state: fc.constantFrom('running', 'breached', 'met', 'stopped', 'pending', 3), dueAt, seq: fc.nat() },
      { requiredKeys: [] },
    ),
    fc.constantFrom(null, 7, 'clock', [1, 2]),
  );
  const aState = fc.oneof(
    fc.record({ clocks: fc.array(aClock, { maxLength: 5 }), title: fc.string() }),
    fc.record({ clocks: fc.constantFrom(null, 3, 'x', { 0: 1 }) }),
    fc.constant({}),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(aState, { minLength: 1, maxLength: 40 }), async (states) => {
      const rows = rowsOf<{ n: number; now: string | null; then: string | null }>(
        await db.db.execute(sql`
          select r.n, incident_urgent_due(r.s)::text as now, urgent_due_0009(r.s)::text as then
          from jsonb_to_recordset(${JSON.stringify(states.map((s, n) => ({ n, s })))}::jsonb) as r(n int, s jsonb) order by r.n`),
      );
      expect(rows.map((r) => r.now)).toEqual(rows.map((r) => r.then));
    }),
    { numRuns: 100 },
  );
  // And it is what the writer's rows hold: the generated column over every stored incident.
  const [diff] = rowsOf<{ n: number }>(
    await db.db.execute(sql`select count(*)::int as n from incidents where urgent_due is distinct from urgent_due_0009(state)`),
  );
  expect(diff!.n).toBe(0);
});
