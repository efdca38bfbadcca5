/**
 * The engine's /metrics listener on the real PostgreSQL, wired as main.ts wires it (the counting
 * bus, the timer's lateness): who may scrape, and the counters moving after a signal is applied
 * and after a clock fires on the fake clock.
 */
import type { AddressInfo } from 'node:net';
import { EmbeddedBus, type TopicName } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { OutboxRelay } from '@huiying/db';
import { DEFAULT_RULE_PACK } from '@huiying/domain';
import { createToken } from '@huiying/identity';
import { acceptSignal } from '@huiying/ingest';
import { eventually, freshDatabase, testLogger } from '@huiying/testkit';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningEngine, startEngine } from '../src/engine.ts';
import { EngineMetrics, serveEngineMetrics } from '../src/metrics.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-09-30T20:00:00+08:00');
const clock = new FakeClock(T0);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let bus: EmbeddedBus;
let engine: RunningEngine;
let server: FastifyInstance;
let url = '';
let scraper = '';
let other = '';

beforeAll(async () => {
  db = await freshDatabase();
  bus = new EmbeddedBus();
  await bus.ensureTopics();
  scraper = (await createToken(db.db, { name: 'prometheus', scopes: ['metrics:read'] }, 'test', new Date())).token;
  other = (await createToken(db.db, { name: 'hotline', scopes: ['tickets:write'] }, 'test', new Date())).token;
  const metrics = new EngineMetrics(db.db);
  engine = await startEngine({
    db: db.db,
    bus: metrics.countingBus(bus),
    clock,
    pack: () => DEFAULT_RULE_PACK,
    logger: testLogger,
    resyncMs: 0,
    onTimerLateness: (ms) => metrics.timerCommitted(ms),
  });
  server = await serveEngineMetrics({ db: db.db, metrics, port: 0, host: '127.0.0.1', logger: testLogger });
  url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}/metrics`;
});
afterAll(async () => {
  await server?.close();
  await engine?.stop();
  await bus?.close();
  await db?.drop();
});

const scrape = async () => {
  const res = await fetch(url, { headers: { authorization: `Bearer ${scraper}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
};
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

it('listens on its own port for an administrator or a metrics:read token only', async () => {
  expect((await fetch(url)).status).toBe(401);
  expect((await fetch(url, { headers: { authorization: `Bearer ${other}` } })).status).toBe(403);
  expect((await fetch(url.replace('/metrics', '/api/incidents'), { headers: { authorization: `Bearer ${scraper}` } })).status).toBe(404);
  const text = await scrape();
  expect(value(text, 'huiying_engine_signals_applied_total')).toBe(0);
  expect(value(text, 'huiying_engine_timer_fired_total')).toBe(0);
  expect(value(text, 'huiying_outbox_pending')).toBe(0);
});

it('counts a signal applied, the outbox still to publish, and a clock the timer fired with its lateness', async () => {
  // A ticket received 47 h 30 min ago: its 48 h clock falls due in half an hour.
  const received = new Date(T0 - 47.5 * HOUR).toISOString();
  await acceptSignal(
    db.db,
    { source: 'hotline', sourceRef: 'MT-1', title: '工单 联系电话13812345678', publishedAt: received, receivedAt: received },
    'test',
    new Date(T0),
  );
  expect(value(await scrape(), 'huiying_outbox_pending')).toBe(1);
  await new OutboxRelay(db.db, (topic, messages) => bus.publish(topic as TopicName, messages)).flush();
  await eventually(async () => value(await scrape(), 'huiying_engine_signals_applied_total') === 1, 'the signal applied');
  const applied = await scrape();
  expect(value(applied, 'huiying_engine_timer_fired_total')).toBe(0);
  // Its batch, the engine's first, read the grouping candidates; none was there to decide ahead on.
  expect(value(applied, 'huiying_engine_grouping_candidates_total{candidates="reloaded"}')).toBe(1);
  expect(value(applied, 'huiying_engine_grouping_candidates_total{candidates="kept"}')).toBe(0);
  expect(value(applied, 'huiying_engine_grouping_decided_ahead_total{outcome="used"}')).toBe(0);

  await engine.timer.rearm();
  await clock.advanceTo(T0 + HOUR);
  const text = await scrape();
  const fired = value(text, 'huiying_engine_timer_fired_total')!;
  expect(fired).toBeGreaterThanOrEqual(1); // the breach (and any warning before it)
  expect(value(text, 'huiying_engine_timer_lateness_seconds_count')).toBe(fired);
  // On the fake clock every wake is visible at its due: no lateness.
  expect(value(text, 'huiying_engine_timer_lateness_seconds_bucket{le="0.001"}')).toBe(fired);
  expect(text).not.toMatch(/MT-1|工单|138/);
});
