/**
 * Administrators manage rule packs (issue #7) on the real PostgreSQL: a pack that does not parse
 * is a 400 naming the field and stores nothing; a good one is stored as a version, activated and
 * audited with the administrator as actor; every process holding the pack (here a second engine's
 * RulePackHolder on its own LISTEN connection, without periodic re-reads) takes it on the
 * huiying_rule_pack notification; a clock that engine starts afterwards runs on the new span while
 * a clock started before keeps its own; an older version can be activated again (rollback); only
 * administrators may change or list versions.
 */
import { FakeClock } from '@huiying/clock';
import { auditLog, eq, rulePacks } from '@huiying/db';
import { DEFAULT_RULE_PACK } from '@huiying/domain';
import { applyCommand, type EngineDeps, RulePackHolder } from '@huiying/engine';
import { eventually, freshDatabase, type SessionClient, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';
import { ticketIncident } from './fixtures/embedded-postgres.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-09-07T09:00:00+08:00');
const clock = new FakeClock(T0);

type Incident = { id: string; title: string; clocks: { kind: string; dueAt: string; state: string }[] };
type Version = { version: number; active: boolean; note: string | null; createdBy: string; activatedBy: string | null };

let db: Awaited<ReturnType<typeof freshDatabase>>;
let env: EmbeddedHarness;
let admin: SessionClient;
let duty: SessionClient;
/** Another engine process: its own holder, told only by NOTIFY (no periodic re-read). */
let other: RulePackHolder;
let otherEngine: EngineDeps;

beforeAll(async () => {
  db = await freshDatabase();
  env = await startEmbedded({ clock, handle: db, units: [{ id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' }] });
  admin = await env.as('admin');
  duty = await env.as('duty');
  other = new RulePackHolder({
    db: db.db,
    fallback: { pack: DEFAULT_RULE_PACK, source: 'default' },
    listen: db.listen,
    logger: testLogger,
    resyncMs: 0,
  });
  await other.start();
  otherEngine = { db: db.db, clock, pack: () => other.current() };
});

afterAll(async () => {
  await other?.stop();
  await env?.stop();
  await db?.drop();
});

/** An incident from a 12345 ticket, left unassigned. */
const openIncident = (title: string): Promise<string> => ticketIncident(duty, clock, title, title, null);

/** Grades the incident through the other engine (its clocks snapshot that engine's pack in force). */
async function gradeOnOtherEngine(id: string): Promise<void> {
  await applyCommand(otherEngine, id, { type: 'grade', at: clock.now(), incident: id, level: 'I' }, 'user:duty');
}

async function releaseDue(id: string): Promise<string> {
  const inc = (await duty.inject({ method: 'GET', url: `/api/incidents/${id}` })).json<Incident>();
  return inc.clocks.find((c) => c.kind === 'release')!.dueAt;
}

const iso = (ms: number) => new Date(ms).toISOString();
const stored = async () => db.db.select().from(rulePacks);
const packAudit = async () => db.db.select().from(auditLog).where(eq(auditLog.entity, 'rule_pack'));

it('a pack with a bad field is a 400 naming its path; nothing is stored or audited', async () => {
  const res = await admin.inject({
    method: 'POST',
    url: '/api/admin/rule-packs',
    payload: { document: { name: '某市', clocks: { release: { spanHours: -3 } } }, note: '错的' },
  });
  expect(res.statusCode, res.body).toBe(400);
  expect(res.json()).toMatchObject({ code: 'HY_RULE_PACK_INVALID', path: '/clocks/release/spanHours' });
  expect(res.json<{ message: string }>().message).toContain('/clocks/release/spanHours');
  const typo = await admin.inject({ method: 'POST', url: '/api/admin/rule-packs', payload: { document: { clocks: { relase: {} } } } });
  expect(typo.statusCode).toBe(400);
  expect(typo.json<{ path: string }>().path).toMatch(/^\/clocks/);
  expect(await stored()).toEqual([]);
  expect(await packAudit()).toEqual([]);
  const inForce = (await admin.inject({ method: 'GET', url: '/api/admin/rule-pack' })).json();
  expect(inForce).toMatchObject({ source: 'default', version: null });
});

it('a good pack is stored, activated and audited; a clock started afterwards takes it, one started before keeps its span', async () => {
  const before = await openIncident('规则包之前');
  await gradeOnOtherEngine(before);
  expect(await releaseDue(before)).toBe(iso(T0 + 5 * HOUR));

  await clock.advanceBy(HOUR);
  const res = await admin.inject({
    method: 'POST',
    url: '/api/admin/rule-packs',
    payload: { document: { name: '某市 2026', clocks: { release: { spanHours: 3 } } }, note: '发布时限 3 小时' },
  });
  expect(res.statusCode, res.body).toBe(201);
  expect(res.json()).toMatchObject({
    version: 1,
    active: true,
    createdBy: 'user:admin',
    activatedBy: 'user:admin',
    note: '发布时限 3 小时',
  });
  const trail = await packAudit();
  expect(trail.map((a) => [a.actor, a.action, a.entityId])).toEqual([['user:admin', 'rule_pack.activated', '1']]);

  // The other engine hears of it by NOTIFY only (resyncMs 0): a bounded poll of its holder.
  await eventually(async () => other.info().version === 1, 'the other engine to take version 1', 5_000);
  expect(other.current().clocks.release.spanMs).toBe(3 * HOUR);

  const after = await openIncident('规则包之后');
  await gradeOnOtherEngine(after);
  expect(await releaseDue(after)).toBe(iso(T0 + HOUR + 3 * HOUR));
  expect(await releaseDue(before)).toBe(iso(T0 + 5 * HOUR));

  const inForce = (await admin.inject({ method: 'GET', url: '/api/admin/rule-pack' })).json<{
    source: string;
    version: number;
    activatedBy: string;
    pack: { name: string };
  }>();
  expect(inForce).toMatchObject({ source: 'database', version: 1, activatedBy: 'user:admin', pack: { name: '某市 2026' } });
});

it('an older version can be activated again (rollback), audited; the list pages the versions, newest first', async () => {
  const second = await admin.inject({
    method: 'POST',
    url: '/api/admin/rule-packs',
    payload: { document: { name: '某市 2027', clocks: { release: { spanHours: 2 } } } },
  });
  expect(second.statusCode, second.body).toBe(201);
  await eventually(async () => other.info().version === 2, 'the other engine to take version 2', 5_000);
  expect(other.current().clocks.release.spanMs).toBe(2 * HOUR);

  const back = await admin.inject({ method: 'POST', url: '/api/admin/rule-packs/1/activate' });
  expect(back.statusCode, back.body).toBe(200);
  expect(back.json()).toMatchObject({ version: 1, active: true });
  await eventually(async () => other.info().version === 1, 'the other engine to roll back to version 1', 5_000);
  expect(other.current().clocks.release.spanMs).toBe(3 * HOUR);
  expect((await stored()).filter((r) => r.active).map((r) => r.version)).toEqual([1]);
  expect((await packAudit()).map((a) => a.entityId)).toEqual(['1', '2', '1']);

  const page = (await admin.inject({ method: 'GET', url: '/api/admin/rule-packs?page=1&pageSize=1' })).json<{
    items: Version[];
    total: number;
  }>();
  expect(page.total).toBe(2);
  expect(page.items.map((v) => [v.version, v.active])).toEqual([[2, false]]);
  const missing = await admin.inject({ method: 'POST', url: '/api/admin/rule-packs/99/activate' });
  expect(missing.statusCode).toBe(404);
  expect(missing.json()).toMatchObject({ code: 'HY_NOT_FOUND' });
});

it('leaders, duty officers and unit users are refused (403), anonymous requests 401; nothing changes', async () => {
  const good = { document: { clocks: { release: { spanHours: 1 } } } };
  const refused = [await env.as('leader'), duty, await env.as('unit-housing')];
  for (const c of refused) {
    expect((await c.inject({ method: 'POST', url: '/api/admin/rule-packs', payload: good })).statusCode).toBe(403);
    expect((await c.inject({ method: 'POST', url: '/api/admin/rule-packs/2/activate' })).statusCode).toBe(403);
    expect((await c.inject({ method: 'GET', url: '/api/admin/rule-packs' })).statusCode).toBe(403);
  }
  expect((await env.hy.app.inject({ method: 'POST', url: '/api/admin/rule-packs', payload: good })).statusCode).toBe(401);
  expect((await env.hy.app.inject({ method: 'GET', url: '/api/admin/rule-packs' })).statusCode).toBe(401);
  expect((await stored()).map((r) => [r.version, r.active])).toEqual(
    expect.arrayContaining([
      [1, true],
      [2, false],
    ]),
  );
  expect(await stored()).toHaveLength(2);
});
