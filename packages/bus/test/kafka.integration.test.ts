/**
 * KafkaBus against a REAL broker (no mocks). Start one first:
 *
 *   bash infra/kafka/kafka.sh start          # 127.0.0.1:19092
 *   pnpm exec vitest run --project integration packages/bus
 *
 * KAFKA_BROKERS overrides the address. If no broker answers, every test fails with a message
 * saying so (they are never skipped). Each test uses its own topic prefix and group ids
 * (unique per run), so runs and tests do not see each other's messages; the run's topics
 * and groups are deleted afterwards. BUS_TEST_LOG_LEVEL=warn shows the bus's logs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { TOPICS, type IncomingBatch, type IncomingMessage } from '../src/bus.ts';
import { partitionFor } from '../src/partitioner.ts';
import { KafkaBus, deadLetterInfo, type KafkaBusOptions } from '../src/kafka.ts';
import {
  BROKERS,
  RUN_ID,
  RUN_PREFIX,
  assertBrokerReachable,
  deleteRunTopics,
  produceRaw,
  waitFor,
  withAdmin,
} from './kafka-test-helpers.ts';

const logger = pino({ level: process.env.BUS_TEST_LOG_LEVEL ?? 'silent' });

let reachable: Promise<void> | undefined;
const buses: KafkaBus[] = [];

/** A bus whose topics are `<run prefix><label>.<name>`, created (ensureTopics) before use. */
async function newBus(label: string, options: Partial<KafkaBusOptions> = {}): Promise<KafkaBus> {
  reachable ??= assertBrokerReachable();
  await reachable;
  const bus = new KafkaBus({
    brokers: BROKERS,
    clientId: `bus-it-${label}`,
    topicPrefix: `${RUN_PREFIX}${label}.`,
    logger,
    retryBackoffMs: 20,
    ...options,
  });
  buses.push(bus);
  await bus.ensureTopics();
  return bus;
}

const group = (label: string): string => `${RUN_PREFIX}${label}.group`;

function collector(): { messages: IncomingMessage[]; handler: (m: IncomingMessage) => Promise<void> } {
  const messages: IncomingMessage[] = [];
  return { messages, handler: async (m) => void messages.push(m) };
}

const valueOf = <T>(m: IncomingMessage | undefined): T => m?.value as T;

afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  if (
    !reachable ||
    !(await reachable.then(
      () => true,
      () => false,
    ))
  )
    return;
  await deleteRunTopics();
  await withAdmin(async (admin) => {
    const { groups } = await admin.listGroups();
    const ours = groups.map((g) => g.groupId).filter((id) => id.startsWith(RUN_PREFIX));
    if (ours.length > 0) await admin.deleteGroups(ours).catch(() => undefined);
  });
});

describe(`KafkaBus on a real broker (${BROKERS.join(',')}, run ${RUN_ID})`, () => {
  it('ensureTopics is idempotent and creates every topic with the configured partitions', async () => {
    const bus = await newBus('topics'); // first call
    await bus.ensureTopics(); // second call: all exist
    await bus.ensureTopics([TOPICS.signals]);
    // Two processes racing to create the same topics must both succeed.
    const a = new KafkaBus({ brokers: BROKERS, clientId: 'bus-it-race-a', topicPrefix: `${RUN_PREFIX}race.`, logger });
    const b = new KafkaBus({ brokers: BROKERS, clientId: 'bus-it-race-b', topicPrefix: `${RUN_PREFIX}race.`, logger });
    buses.push(a, b);
    await Promise.all([a.ensureTopics(), b.ensureTopics()]);

    expect(bus.topicName(TOPICS.signals)).toBe(`${RUN_PREFIX}topics.huiying.signals.v1`);
    const names = [...Object.values(TOPICS).map((t) => bus.topicName(t)), ...Object.values(TOPICS).map((t) => a.topicName(t))];
    const metadata = await withAdmin((admin) => admin.fetchTopicMetadata({ topics: names }));
    const partitions = Object.fromEntries(metadata.topics.map((t) => [t.name, t.partitions.length]));
    expect(partitions).toEqual(Object.fromEntries(names.map((n) => [n, 3])));
  });

  it('delivers key and JSON value of a published message (publish → subscribe roundtrip)', async () => {
    const bus = await newBus('roundtrip');
    const got = collector();
    // Warm the producer so the publish below goes out right after subscribe() resolves (a
    // cold producer would hide a subscribe() that returns before its offsets are fixed).
    await bus.publish(TOPICS.events, [{ key: 'warm-up', value: {} }]);
    // fromBeginning false on purpose: subscribe() resolves only once the consumer's starting
    // offsets are fixed, so a message published right after is not missed.
    await bus.subscribe({ topic: TOPICS.signals, groupId: group('roundtrip'), fromBeginning: false, handler: got.handler });

    const value = { sourceId: 'gov-cn', title: '关于“回应时效”的通报', count: 42, nested: { ok: true, list: [1, null, 'x'] } };
    await bus.publish(TOPICS.signals, [{ key: 'incident-7', value }]);
    // A body already serialised (the outbox's stored jsonb text, spaced as PostgreSQL prints it) goes as it is.
    await bus.publish(TOPICS.signals, [{ key: 'incident-7', json: '{"n": 1, "title": "通报", "list": [1, null]}' }]);

    await waitFor('the roundtrip messages', () => got.messages.length >= 2);
    expect(got.messages).toHaveLength(2);
    const [message, text] = got.messages;
    expect(message).toMatchObject({ topic: TOPICS.signals, key: 'incident-7', value });
    expect(message?.partition).toBeTypeOf('number');
    expect(message?.offset).toMatch(/^\d+$/);
    expect(text).toMatchObject({ key: 'incident-7', value: { n: 1, title: '通报', list: [1, null] }, partition: message?.partition });
  });

  it('keeps messages with the same key in publish order', async () => {
    const bus = await newBus('order');
    const got = collector();
    await bus.subscribe({ topic: TOPICS.events, groupId: group('order'), fromBeginning: true, handler: got.handler });

    const keys = ['incident-a', 'incident-b', 'incident-c', 'incident-d'];
    const perKey = 30;
    // Several sequential publishes, each interleaving all keys.
    for (let round = 0; round < perKey / 5; round++) {
      await bus.publish(
        TOPICS.events,
        Array.from({ length: 5 }, (_, i) => round * 5 + i).flatMap((seq) => keys.map((key) => ({ key, value: { key, seq } }))),
      );
    }

    const total = keys.length * perKey;
    await waitFor(`${total} messages`, () => got.messages.length >= total, { state: () => got.messages.length });
    expect(got.messages).toHaveLength(total);
    const expected = Array.from({ length: perKey }, (_, i) => i);
    for (const key of keys) {
      const ofKey = got.messages.filter((m) => m.key === key);
      expect(
        ofKey.map((m) => valueOf<{ seq: number }>(m).seq),
        key,
      ).toEqual(expected);
      expect(new Set(ofKey.map((m) => m.partition)).size, `${key} stays on one partition`).toBe(1);
    }
  });

  it('hands a batch handler consecutive messages of one partition, keys where the embedded bus puts them, poison dead-lettered alone', async () => {
    const bus = await newBus('batch');
    const batches: IncomingBatch[] = [];
    const dead = collector();
    await bus.subscribe({ topic: TOPICS.deadLetter, groupId: group('batch-dlq'), fromBeginning: true, handler: dead.handler });
    await bus.subscribe({
      topic: TOPICS.signals,
      groupId: group('batch'),
      fromBeginning: true,
      maxBatchSize: 50,
      batchHandler: async (batch) => {
        if (batch.messages.some((m) => valueOf<{ seq: number }>(m).seq === -1)) throw new Error('poison in batch');
        batches.push(batch);
      },
    });
    const keys = Array.from({ length: 9 }, (_, i) => `incident-${i}`);
    const perKey = 40;
    await bus.publish(TOPICS.signals, Array.from({ length: perKey }, (_, seq) => keys.map((key) => ({ key, value: { key, seq } }))).flat());
    await bus.publish(TOPICS.signals, [
      { key: 'incident-0', value: { key: 'incident-0', seq: -1 } },
      { key: 'incident-0', value: { key: 'incident-0', seq: perKey } },
    ]);
    const total = keys.length * perKey + 1;
    const seen = () => batches.flatMap((b) => b.messages);
    await waitFor(`${total} messages in batches`, () => seen().length >= total, { state: () => seen().length });
    await waitFor('the poison in the dead-letter topic', () => dead.messages.length >= 1);
    expect(batches.every((b) => b.messages.length <= 50 && b.messages.every((m) => m.partition === b.partition))).toBe(true);
    expect(batches.some((b) => b.messages.length > 1)).toBe(true);
    for (const key of keys) {
      const ofKey = seen().filter((m) => m.key === key);
      const want = Array.from({ length: key === 'incident-0' ? perKey + 1 : perKey }, (_, i) => i);
      expect(
        ofKey.map((m) => valueOf<{ seq: number }>(m).seq),
        key,
      ).toEqual(want);
      expect(new Set(ofKey.map((m) => m.partition)), key).toEqual(new Set([partitionFor(key, 3)]));
    }
    expect(dead.messages.map((m) => valueOf<{ seq: number }>(m).seq)).toEqual([-1]);
  });

  it('loses nothing when many publish() calls run concurrently on the idempotent producer', async () => {
    // kafkajs's idempotent producer once dropped concurrent sends silently (tulios/kafkajs#1005).
    const bus = await newBus('concurrent');
    const got = collector();
    await bus.subscribe({ topic: TOPICS.signals, groupId: group('concurrent'), handler: got.handler });
    const total = 200;
    await Promise.all(Array.from({ length: total }, (_, id) => bus.publish(TOPICS.signals, [{ key: `feed-${id % 7}`, value: { id } }])));
    await waitFor(`${total} messages`, () => got.messages.length >= total, { state: () => got.messages.length });
    expect(new Set(got.messages.map((m) => valueOf<{ id: number }>(m).id)).size).toBe(total);
    expect(got.messages).toHaveLength(total);
  });

  it('retries a failing handler: fails twice, then succeeds on the same message (not dead-lettered)', async () => {
    const bus = await newBus('retry');
    const attempts = new Map<string, IncomingMessage[]>();
    const handled: string[] = [];
    const dead = collector();
    await bus.subscribe({ topic: TOPICS.deadLetter, groupId: group('retry-dlq'), fromBeginning: true, handler: dead.handler });
    await bus.subscribe({
      topic: TOPICS.signals,
      groupId: group('retry'),
      fromBeginning: true,
      handler: async (m) => {
        const { id, failTimes } = valueOf<{ id: string; failTimes: number }>(m);
        const seen = [...(attempts.get(id) ?? []), m];
        attempts.set(id, seen);
        if (seen.length <= failTimes) throw new Error(`transient failure ${seen.length} of ${id}`);
        handled.push(id);
      },
    });

    // Same key → same partition → handled in this order. The sentinel always fails, so once
    // it is in the dead-letter topic, "flaky" has been fully processed: had it been
    // dead-lettered, it would be there first.
    await bus.publish(TOPICS.signals, [
      { key: 'incident-r', value: { id: 'flaky', failTimes: 2 } },
      { key: 'incident-r', value: { id: 'sentinel', failTimes: 1_000 } },
    ]);
    await waitFor('the sentinel in the dead-letter topic', () => dead.messages.length >= 1);

    const flaky = attempts.get('flaky') ?? [];
    expect(flaky).toHaveLength(3);
    expect(new Set(flaky.map((m) => `${m.partition}:${m.offset}`)).size, 'same message each attempt').toBe(1);
    expect(handled).toEqual(['flaky']);
    expect(dead.messages.map((m) => valueOf<{ id: string }>(m).id)).toEqual(['sentinel']);
    expect(attempts.get('sentinel')).toHaveLength(3); // maxAttempts default
  });

  it('sends a message whose handler always fails to the dead-letter topic, with its origin, and goes on', async () => {
    const bus = await newBus('dlq');
    const dead = collector();
    const handled: string[] = [];
    await bus.subscribe({ topic: TOPICS.deadLetter, groupId: group('dlq-reader'), fromBeginning: true, handler: dead.handler });
    let poisonAttempts = 0;
    let poisonOffset: { partition: number; offset: string } | undefined;
    await bus.subscribe({
      topic: TOPICS.events,
      groupId: group('dlq'),
      fromBeginning: true,
      handler: async (m) => {
        const { id } = valueOf<{ id: string }>(m);
        if (id === 'poison') {
          poisonAttempts++;
          poisonOffset = { partition: m.partition, offset: m.offset };
          throw new Error('cannot handle poison: 数据库不可用');
        }
        handled.push(id);
      },
    });

    const poison = { id: 'poison', payload: { nested: [1, 2, 3] } };
    await bus.publish(TOPICS.events, [
      { key: 'incident-p', value: poison },
      { key: 'incident-p', value: { id: 'after-poison' } },
    ]);

    await waitFor('the poison message in the dead-letter topic', () => dead.messages.length >= 1);
    await waitFor('the message after the poison one', () => handled.includes('after-poison'));
    expect(poisonAttempts).toBe(3);
    expect(dead.messages).toHaveLength(1);
    const [letter] = dead.messages;
    expect(letter).toMatchObject({ topic: TOPICS.deadLetter, key: 'incident-p', value: poison });
    expect(deadLetterInfo(letter!)).toEqual({
      reason: 'handler-failed',
      sourceTopic: bus.topicName(TOPICS.events),
      sourcePartition: poisonOffset?.partition,
      sourceOffset: poisonOffset?.offset,
      groupId: bus.groupName(group('dlq')),
      error: 'cannot handle poison: 数据库不可用',
      attempts: 3,
    });
    expect(handled).toEqual(['after-poison']);
  });

  it('dead-letters a value that is not JSON without calling the handler, and goes on', async () => {
    const bus = await newBus('badjson');
    const dead = collector();
    const got = collector();
    await bus.subscribe({ topic: TOPICS.deadLetter, groupId: group('badjson-dlq'), fromBeginning: true, handler: dead.handler });
    await bus.subscribe({ topic: TOPICS.signals, groupId: group('badjson'), fromBeginning: true, handler: got.handler });

    await produceRaw(bus.topicName(TOPICS.signals), [{ key: 'incident-j', value: '{not json' }]);
    await bus.publish(TOPICS.signals, [{ key: 'incident-j', value: { ok: true } }]);

    await waitFor('the valid message after the broken one', () => got.messages.length >= 1);
    await waitFor('the broken message in the dead-letter topic', () => dead.messages.length >= 1);
    expect(got.messages.map((m) => m.value)).toEqual([{ ok: true }]);
    const [letter] = dead.messages;
    // Read from the dead-letter topic, a non-JSON original is delivered as its text.
    expect(letter).toMatchObject({ key: 'incident-j', value: '{not json' });
    const info = deadLetterInfo(letter!);
    expect(info).toMatchObject({
      reason: 'invalid-json',
      sourceTopic: bus.topicName(TOPICS.signals),
      groupId: bus.groupName(group('badjson')),
    });
    expect(info?.error).toMatch(/JSON/);
  });

  it('starts a new group at the oldest message by default, like EmbeddedBus', async () => {
    const bus = await newBus('default-start');
    await bus.publish(TOPICS.events, [{ key: 'incident-e', value: { id: 'before-subscribe' } }]);
    const got = collector();
    await bus.subscribe({ topic: TOPICS.events, groupId: group('default-start'), handler: got.handler });
    await waitFor('the message published before subscribing', () => got.messages.length >= 1);
    expect(got.messages.map((m) => m.value)).toEqual([{ id: 'before-subscribe' }]);
  });

  it('commits the offset after the handler resolved: a restarted group resumes after it', async () => {
    const bus = await newBus('commit');
    const first = collector();
    const sub = await bus.subscribe({ topic: TOPICS.events, groupId: group('commit'), fromBeginning: true, handler: first.handler });
    await bus.publish(TOPICS.events, [{ key: 'incident-c', value: { id: 'm1' } }]);
    await waitFor('m1', () => first.messages.length >= 1);
    await sub.close();

    await bus.publish(TOPICS.events, [{ key: 'incident-c', value: { id: 'm2' } }]);
    const second = collector();
    await bus.subscribe({ topic: TOPICS.events, groupId: group('commit'), fromBeginning: true, handler: second.handler });
    await waitFor('m2', () => second.messages.length >= 1);
    expect(first.messages.map((m) => valueOf<{ id: string }>(m).id)).toEqual(['m1']);
    expect(second.messages.map((m) => valueOf<{ id: string }>(m).id)).toEqual(['m2']);
  });

  it('deletes an ephemeral group from the broker when its subscription closes; a durable group stays', async () => {
    const bus = await newBus('ephemeral');
    const [temp, kept] = [collector(), collector()];
    const subs = [
      await bus.subscribe({ topic: TOPICS.events, groupId: group('ephemeral'), ephemeral: true, handler: temp.handler }),
      await bus.subscribe({ topic: TOPICS.events, groupId: group('durable'), handler: kept.handler }),
    ];
    await bus.publish(TOPICS.events, [{ key: 'incident-x', value: { id: 'x1' } }]);
    await waitFor('x1 in both groups', () => temp.messages.length >= 1 && kept.messages.length >= 1);
    const groupIds = async () => (await withAdmin((admin) => admin.listGroups())).groups.map((g) => g.groupId);
    const [ephemeral, durable] = [bus.groupName(group('ephemeral')), bus.groupName(group('durable'))];
    expect(await groupIds()).toEqual(expect.arrayContaining([ephemeral, durable]));
    for (const s of subs) await s.close();
    const after = await groupIds();
    expect(after).not.toContain(ephemeral);
    expect(after).toContain(durable);
  });

  it('prefixes consumer groups as it prefixes topics: two prefixes on one broker, one logical group, no partition lost', async () => {
    const pair = [await newBus('prefix-a'), await newBus('prefix-b')];
    // The same logical group on both, as two deployments' engines both use `huiying-engine`.
    const logical = group('shared-name');
    expect(pair.map((b) => b.groupName(logical))).toEqual([`${RUN_PREFIX}prefix-a.${logical}`, `${RUN_PREFIX}prefix-b.${logical}`]);
    const got = [collector(), collector()];
    for (const [i, bus] of pair.entries()) await bus.subscribe({ topic: TOPICS.signals, groupId: logical, handler: got[i]!.handler });
    const total = 30;
    for (const [i, bus] of pair.entries())
      await bus.publish(
        TOPICS.signals,
        Array.from({ length: total }, (_, id) => ({ key: `source-${id}`, value: { bus: i, id } })),
      );
    for (const [i, g] of got.entries()) {
      await waitFor(`bus ${i}: all ${total} of its messages`, () => g.messages.length >= total);
      expect(new Set(g.messages.map((m) => m.partition)).size, 'every partition of its topic read').toBe(3);
      expect(g.messages.every((m) => valueOf<{ bus: number }>(m).bus === i)).toBe(true);
    }
    await withAdmin(async (admin) => {
      const { groups } = await admin.listGroups();
      const ids = groups.map((g) => g.groupId);
      expect(ids).toEqual(expect.arrayContaining(pair.map((b) => b.groupName(logical))));
      expect(ids).not.toContain(logical);
    });
  });

  it('splits the partitions between two consumers of one group: together they see every message exactly once', async () => {
    const bus = await newBus('group');
    const seen: Array<{ consumer: 'A' | 'B'; id: number; partition: number }> = [];
    const handlerFor = (consumer: 'A' | 'B') => async (m: IncomingMessage) => {
      seen.push({ consumer, id: valueOf<{ id: number }>(m).id, partition: m.partition });
    };
    // Both members joined (and the group rebalanced) before anything is published.
    await bus.subscribe({ topic: TOPICS.signals, groupId: group('group'), fromBeginning: true, handler: handlerFor('A') });
    await bus.subscribe({ topic: TOPICS.signals, groupId: group('group'), fromBeginning: true, handler: handlerFor('B') });

    const total = 90;
    await bus.publish(
      TOPICS.signals,
      Array.from({ length: total }, (_, id) => ({ key: `source-${id % 30}`, value: { id } })),
    );

    await waitFor(`all ${total} messages`, () => new Set(seen.map((s) => s.id)).size >= total, {
      state: () => ({ seen: seen.length, distinct: new Set(seen.map((s) => s.id)).size }),
    });
    expect(seen).toHaveLength(total); // no duplicates
    expect(new Set(seen.map((s) => s.id)).size).toBe(total);

    const partitionsOf = (c: 'A' | 'B') => new Set(seen.filter((s) => s.consumer === c).map((s) => s.partition));
    const a = partitionsOf('A');
    const b = partitionsOf('B');
    expect(a.size, 'consumer A got partitions').toBeGreaterThan(0);
    expect(b.size, 'consumer B got partitions').toBeGreaterThan(0);
    expect(
      [...a].filter((p) => b.has(p)),
      'no partition read by both',
    ).toEqual([]);
    expect([...a, ...b].sort()).toEqual([0, 1, 2]);
  });
});
