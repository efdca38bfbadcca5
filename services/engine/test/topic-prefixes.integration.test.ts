/**
 * Two deployments on one broker, told apart by their topic prefix (KAFKA_TOPIC_PREFIX), each
 * with its own database, each engine in the group production uses (`huiying-engine`). Their
 * consumer groups carry the prefix as their topics do (KafkaBus.groupName): each engine reads
 * every signal of its own deployment and none of the other's. When both joined one broker-side
 * group `huiying-engine`, the group's assignment handed each member partitions of the other's
 * topic, which it does not read: some of each deployment's signals were never consumed.
 */
import { TOPICS, type TopicName } from '@huiying/bus';
import type { KafkaBus } from '@huiying/bus/kafka';
import { FakeClock } from '@huiying/clock';
import { OutboxRelay, rowsOf, sql } from '@huiying/db';
import { DEFAULT_RULE_PACK } from '@huiying/domain';
import { acceptSignals } from '@huiying/ingest';
import { eventually, freshDatabase, kafkaBus, testLogger, uniqueName } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningEngine, startEngine } from '../src/engine.ts';

const T0 = Date.parse('2026-09-30T20:00:00+08:00');
/** Enough signals (keyed by their id) that every partition of each deployment's topic gets some. */
const N = 30;

interface Deployment {
  name: 'a' | 'b';
  prefix: string;
  db: Awaited<ReturnType<typeof freshDatabase>>;
  bus: KafkaBus;
  engine: RunningEngine;
}

const deployments: Deployment[] = [];
const clock = new FakeClock(T0);

beforeAll(async () => {
  for (const name of ['a', 'b'] as const) {
    const prefix = `${uniqueName(`prefix-${name}`)}.`;
    const db = await freshDatabase();
    const bus = await kafkaBus(uniqueName(`engine-${name}`), prefix);
    // The group the engine process passes (services/engine/src/main.ts), the same for both.
    const engine = await startEngine({
      db: db.db,
      handle: db,
      bus,
      clock,
      pack: () => DEFAULT_RULE_PACK,
      logger: testLogger,
      groupId: 'huiying-engine',
      // No sweep: a signal counts as consumed only if its message came through the bus.
      resyncMs: 0,
    });
    deployments.push({ name, prefix, db, bus, engine });
  }
});

afterAll(async () => {
  for (const d of deployments) await d.engine.stop();
  for (const d of deployments) await d.bus.close();
  for (const d of deployments) await d.db.drop();
});

it('the consumer group carries the topic prefix, as the topics do', () => {
  for (const d of deployments) {
    expect(d.bus.groupName('huiying-engine')).toBe(`${d.prefix}huiying-engine`);
    expect(d.bus.topicName(TOPICS.signals)).toBe(`${d.prefix}${TOPICS.signals}`);
  }
});

it('two prefixes on one broker: each engine consumes all of its own signals and none of the other’s', async () => {
  const received = new Date(T0 - 3_600_000).toISOString();
  for (const d of deployments) {
    await acceptSignals(
      d.db.db,
      Array.from({ length: N }, (_, i) => ({
        source: 'hotline' as const,
        sourceRef: `${d.name.toUpperCase()}-${i}`,
        title: `部署${d.name}工单${i}：第${i}号路口信号灯故障`,
        publishedAt: received,
        receivedAt: received,
      })),
      'test',
      new Date(T0),
    );
    await new OutboxRelay(d.db.db, (topic, messages) => d.bus.publish(topic as TopicName, messages)).flush();
  }

  const decidedRefs = async (d: Deployment) =>
    rowsOf<{ source_ref: string }>(
      await d.db.db.execute(sql`select source_ref from signals where decision is not null order by source_ref`),
    ).map((r) => r.source_ref);
  for (const d of deployments) {
    await eventually(async () => (await decidedRefs(d)).length === N, `deployment ${d.name}: all ${N} signals consumed`, 45_000);
  }

  for (const d of deployments) {
    const own = Array.from({ length: N }, (_, i) => `${d.name.toUpperCase()}-${i}`).sort();
    expect(await decidedRefs(d)).toEqual(own);
    // A message of the other deployment would have been stored here by the engine (it stores a
    // signal it does not know yet): none was.
    const all = rowsOf<{ source_ref: string }>(await d.db.db.execute(sql`select source_ref from signals order by source_ref`));
    expect(all.map((r) => r.source_ref)).toEqual(own);
  }
}, 90_000);
