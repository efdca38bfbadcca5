import { describe, expect, it } from 'vitest';
import { Partitioners } from 'kafkajs';
import { EmbeddedBus, type IncomingBatch, type IncomingMessage, TOPICS } from '../src/index.ts';
import { partitionFor } from '../src/partitioner.ts';
import { EventMessage, InvalidMessage, parseMessage, SignalMessage } from '../src/messages.ts';

describe('EmbeddedBus (in-process)', () => {
  it('delivers in order to each group once; within a group one key goes to one member, in order', async () => {
    const bus = new EmbeddedBus({ partitions: 3 });
    await bus.ensureTopics();
    const a: string[] = [];
    const b1: { key: string; v: number }[] = [];
    const b2: { key: string; v: number }[] = [];
    const record = (into: { key: string; v: number }[]) => async (m: IncomingMessage) => void into.push({ key: m.key, v: Number(m.value) });
    await bus.subscribe({ topic: TOPICS.signals, groupId: 'a', handler: async (m) => void a.push(`${m.key}:${String(m.value)}`) });
    await bus.subscribe({ topic: TOPICS.signals, groupId: 'b', handler: record(b1) });
    await bus.subscribe({ topic: TOPICS.signals, groupId: 'b', handler: record(b2) });
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    await bus.publish(TOPICS.signals, Array.from({ length: 10 }, (_, v) => keys.map((key) => ({ key, value: v }))).flat());
    await bus.drain();
    // Group a saw everything, and each key's messages in publish order.
    expect(a).toHaveLength(120);
    for (const key of keys) expect(a.filter((x) => x.startsWith(`${key}:`))).toEqual(Array.from({ length: 10 }, (_, v) => `${key}:${v}`));
    // Group b split the keys: every key went to exactly one member, all ten of its messages in order.
    expect(b1.length + b2.length).toBe(120);
    expect(b1.length).toBeGreaterThan(0);
    expect(b2.length).toBeGreaterThan(0);
    for (const key of keys) {
      const in1 = b1.filter((m) => m.key === key).map((m) => m.v);
      const in2 = b2.filter((m) => m.key === key).map((m) => m.v);
      expect(in1.length === 0 || in2.length === 0).toBe(true);
      expect([...in1, ...in2]).toEqual(Array.from({ length: 10 }, (_, v) => v));
    }
  });

  it('delivers a body given as JSON text parsed, like one given as a value', async () => {
    const bus = new EmbeddedBus();
    await bus.ensureTopics();
    const got: IncomingMessage[] = [];
    await bus.subscribe({ topic: TOPICS.events, groupId: 'g', handler: async (m) => void got.push(m) });
    await bus.publish(TOPICS.events, [
      { key: 'k', json: '{"n": 1, "title": "通报"}' },
      { key: 'k', value: { n: 2 } },
    ]);
    await bus.drain();
    expect(got.map((m) => m.value)).toEqual([{ n: 1, title: '通报' }, { n: 2 }]);
  });

  it("maps a key to the partition Kafka's default partitioner picks", () => {
    const kafka = Partitioners.DefaultPartitioner();
    const partitionMetadata = [0, 1, 2, 3, 4].map((partitionId) => ({
      partitionId,
      leader: 0,
      replicas: [0],
      isr: [0],
      partitionErrorCode: 0,
    }));
    for (const key of ['sig_0', 'inc_abc', '北京市', 'x'.repeat(37), '']) {
      expect(partitionFor(key, 5)).toBe(kafka({ topic: 't', partitionMetadata, message: { key, value: null } }));
    }
  });

  it('hands a batch handler consecutive messages of one partition, partitions in parallel', async () => {
    const bus = new EmbeddedBus({ partitions: 2 });
    await bus.ensureTopics();
    const batches: IncomingBatch[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    await bus.subscribe({
      topic: TOPICS.signals,
      groupId: 'g',
      maxBatchSize: 4,
      batchHandler: async (batch) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((r) => setImmediate(r));
        batches.push(batch);
        inFlight--;
      },
    });
    const keys = Array.from({ length: 8 }, (_, i) => `key-${i}`);
    await bus.publish(TOPICS.signals, Array.from({ length: 5 }, (_, v) => keys.map((key) => ({ key, value: v }))).flat());
    await bus.drain();
    expect(batches.every((b) => b.messages.length >= 1 && b.messages.length <= 4)).toBe(true);
    expect(batches.every((b) => b.messages.every((m) => m.partition === b.partition && bus.partitionOf(m.key) === b.partition))).toBe(true);
    expect(maxInFlight).toBe(2);
    const seen = batches.flatMap((b) => b.messages);
    expect(seen).toHaveLength(40);
    for (const key of keys) expect(seen.filter((m) => m.key === key).map((m) => m.value)).toEqual([0, 1, 2, 3, 4]);
  });

  it('retries a failing batch message by message and dead-letters only the poison', async () => {
    const dead: unknown[] = [];
    const bus = new EmbeddedBus({ partitions: 1, maxAttempts: 2, onDeadLetter: (m) => dead.push(m.value) });
    await bus.ensureTopics();
    const ok: unknown[] = [];
    await bus.subscribe({
      topic: TOPICS.signals,
      groupId: 'g',
      batchHandler: async (batch) => {
        if (batch.messages.some((m) => m.value === 'poison')) throw new Error('bad batch');
        ok.push(...batch.messages.map((m) => m.value));
      },
    });
    await bus.publish(
      TOPICS.signals,
      ['a', 'poison', 'b'].map((value) => ({ key: 'k', value })),
    );
    await bus.drain();
    expect(ok).toEqual(['a', 'b']);
    expect(dead).toEqual(['poison']);
  });

  it('retries a failing handler and dead-letters what keeps failing, then carries on', async () => {
    const dead: unknown[] = [];
    const bus = new EmbeddedBus({ maxAttempts: 3, onDeadLetter: (m) => dead.push(m.value) });
    await bus.ensureTopics();
    let attempts = 0;
    const ok: unknown[] = [];
    await bus.subscribe({
      topic: TOPICS.events,
      groupId: 'g',
      handler: async (m) => {
        if (m.value === 'poison') throw new Error(`attempt ${++attempts}`);
        ok.push(m.value);
      },
    });
    await bus.publish(TOPICS.events, [
      { key: 'x', value: 'poison' },
      { key: 'x', value: 'fine' },
    ]);
    await bus.drain();
    expect(attempts).toBe(3);
    expect(dead).toEqual(['poison']);
    expect(ok).toEqual(['fine']);
    const deadLettered: unknown[] = [];
    await bus.subscribe({ topic: TOPICS.deadLetter, groupId: 'dlq', handler: async (m) => void deadLettered.push(m.value) });
    await bus.drain();
    expect(deadLettered).toEqual(['poison']);
  });

  it('keeps only what an active group has yet to consume, and a late group starts at the oldest kept', async () => {
    const bus = new EmbeddedBus();
    await bus.ensureTopics();
    let slowSeen = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    await bus.subscribe({ topic: TOPICS.events, groupId: 'fast', handler: async () => undefined });
    await bus.subscribe({
      topic: TOPICS.events,
      groupId: 'slow',
      handler: async () => {
        if (++slowSeen === 1) await gate;
      },
    });
    await bus.publish(
      TOPICS.events,
      Array.from({ length: 5000 }, (_, i) => ({ key: 'k', value: i })),
    );
    await new Promise((r) => setImmediate(r));
    // The slow group still holds the first message: nothing can be dropped yet.
    expect(bus.retained(TOPICS.events)).toBe(5000);
    release();
    await bus.drain();
    expect(slowSeen).toBe(5000);
    expect(bus.retained(TOPICS.events)).toBeLessThan(1000);
    const kept = bus.retained(TOPICS.events);
    const late: unknown[] = [];
    await bus.subscribe({ topic: TOPICS.events, groupId: 'late', handler: async (m) => void late.push(m.value) });
    await bus.publish(TOPICS.events, [{ key: 'k', value: 5000 }]);
    await bus.drain();
    expect(late).toEqual(Array.from({ length: kept + 1 }, (_, i) => 5000 - kept + i));
  });

  it('forgets an ephemeral group with its last member, as KafkaBus deletes it; a durable group resumes where it was', async () => {
    const bus = new EmbeddedBus();
    await bus.ensureTopics();
    const seen: Record<string, unknown[]> = { ephemeral: [], durable: [] };
    const join = (name: 'ephemeral' | 'durable') =>
      bus.subscribe({
        topic: TOPICS.events,
        groupId: name,
        fromBeginning: false,
        ephemeral: name === 'ephemeral',
        handler: async (m) => void seen[name]!.push(m.value),
      });
    const first = [await join('ephemeral'), await join('durable')];
    await bus.publish(TOPICS.events, [{ key: 'k', value: 'm1' }]);
    await bus.drain();
    for (const s of first) await s.close();
    // Published while neither group has a member.
    await bus.publish(TOPICS.events, [{ key: 'k', value: 'm2' }]);
    await join('ephemeral');
    await join('durable');
    await bus.publish(TOPICS.events, [{ key: 'k', value: 'm3' }]);
    await bus.drain();
    // The ephemeral group was new again (fromBeginning false: from the end); the durable one kept its place.
    expect(seen).toEqual({ ephemeral: ['m1', 'm3'], durable: ['m1', 'm2', 'm3'] });
  });

  it('refuses unknown topics', async () => {
    const bus = new EmbeddedBus();
    await expect(bus.publish(TOPICS.signals, [{ key: 'k', value: 1 }])).rejects.toThrow(/unknown topic/);
  });
});

describe('message schemas', () => {
  const signal = { v: 1, type: 'signal', id: 's1', source: 'hotline', sourceRef: 'T-1', receivedAt: '2026-03-02T08:00:00+08:00' };
  it('accepts a valid versioned signal', () => {
    expect(parseMessage(SignalMessage, signal)).toEqual(signal);
  });
  it.each([
    [{ ...signal, v: 2 }, '/v'],
    [{ ...signal, source: 'fax' }, '/source'],
    [{ ...signal, receivedAt: '2026-03-02 08:00' }, '/receivedAt'],
    [{ ...signal, receivedAt: '2026-03-02T08:00:00' }, '/receivedAt'],
  ])('rejects %j naming %s', (bad, path) => {
    expect(() => parseMessage(SignalMessage, bad)).toThrow(InvalidMessage);
    expect(() => parseMessage(SignalMessage, bad)).toThrow(path);
  });
  it('validates events', () => {
    expect(() => parseMessage(EventMessage, { v: 1, type: 'event', id: 'e', event: 'breached', at: 'yesterday' })).toThrow(/at/);
  });
});
