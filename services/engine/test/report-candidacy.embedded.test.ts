/**
 * The 通报-candidacy instant stored with each clock (migration 0029): the engine writes it with
 * the clock, from the clock's ladder snapshot (the 48 h clock: 12 h after its due), and the
 * candidates of a period are read by it — a candidacy stored outside the period is neither read
 * nor returned, one stored inside is. The database's own rule (backfill, rows written without
 * it) gives the same instant.
 */
import type { SignalMessage } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { and, clocks, type DbHandle, eq, sql, units } from '@huiying/db';
import { DEFAULT_RULE_PACK } from '@huiying/domain';
import { freshPglite } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadReportCandidates } from '../src/candidates.ts';
import { type EngineDeps, fireDue } from '../src/store.ts';
import { signalIn } from './signal-in.ts';

const H = 3_600_000;
const T0 = Date.parse('2026-05-06T10:00:00+08:00');
const DUE = T0 + 48 * H;
const CANDIDACY = DUE + 12 * H; // the leaders' step of the 48 h clock
const clock = new FakeClock(T0);
let handle: DbHandle;
let deps: EngineDeps;
let incidentId = '';

const signal: SignalMessage & { title: string } = {
  v: 1,
  type: 'signal',
  id: 's-1',
  source: 'hotline',
  sourceRef: 's-1',
  title: '小区电梯频繁故障',
  unitHint: 'a',
  receivedAt: new Date(T0).toISOString(),
};

const storedCandidacy = async (): Promise<number | null> => {
  const [row] = await handle.db
    .select({ at: clocks.reportCandidacyAt })
    .from(clocks)
    .where(and(eq(clocks.incidentId, incidentId), eq(clocks.seq, 1)));
  return row?.at ? row.at.getTime() : null;
};

const idsIn = async (from: number, to: number, now = CANDIDACY + 24 * H) =>
  (await loadReportCandidates(handle.db, { now, from, to })).map((c) => `${c.id}@${new Date(c.candidateAt).toISOString()}`);

beforeAll(async () => {
  handle = await freshPglite();
  await handle.db.insert(units).values([{ id: 'a', name: '甲单位', email: 'a@example.test' }]);
  deps = { db: handle.db, clock, pack: () => DEFAULT_RULE_PACK };
  incidentId = (await signalIn(deps, signal)).incidentId;
});

afterAll(async () => {
  await handle?.close();
});

it('the engine writes the candidacy instant with the clock, when it starts', async () => {
  expect(await storedCandidacy()).toBe(CANDIDACY);
});

it('still the same after the breach is written; the candidate is listed in its period, not before or after it', async () => {
  await clock.advanceTo(DUE + H);
  expect(await fireDue(deps, clock.now())).toBeGreaterThan(0);
  const [row] = await handle.db.select().from(clocks).where(eq(clocks.incidentId, incidentId));
  expect(row).toMatchObject({ state: 'breached' });
  expect(await storedCandidacy()).toBe(CANDIDACY);
  const at = new Date(CANDIDACY).toISOString();
  expect(await idsIn(CANDIDACY, CANDIDACY + 1)).toEqual([`${incidentId}@${at}`]);
  expect(await idsIn(T0, CANDIDACY)).toEqual([]);
  expect(await idsIn(CANDIDACY + 1, CANDIDACY + 30 * 24 * H)).toEqual([]);
  // Not yet a candidate before the instant.
  expect(await idsIn(T0, CANDIDACY + 1, CANDIDACY - 1)).toEqual([]);
});

it('the period is read by the stored instant: a candidacy stored outside it is not read, whatever the snapshot says', async () => {
  const outside = new Date(CANDIDACY + 40 * 24 * H);
  await handle.db.update(clocks).set({ reportCandidacyAt: outside }).where(eq(clocks.incidentId, incidentId));
  // The clock's snapshot still says CANDIDACY, but the period's rows do not include it.
  expect(await idsIn(T0, CANDIDACY + 24 * H)).toEqual([]);
  // Read in the stored instant's period, the domain decides from the snapshot: not in that period either.
  expect(await idsIn(outside.getTime(), outside.getTime() + 1, outside.getTime() + H)).toEqual([]);
});

it('the database fills the same instant for a row written without it (the backfill’s rule)', async () => {
  await handle.db.execute(sql`update clocks set report_candidacy_at = null where incident_id = ${incidentId}`);
  expect(await storedCandidacy()).toBe(CANDIDACY);
  expect(await idsIn(CANDIDACY, CANDIDACY + 1)).toHaveLength(1);
});
