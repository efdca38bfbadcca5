import { describe, expect, it } from 'vitest';
import { EmbeddedBus, TOPICS } from '../src/index.ts';
import { EventMessage, InvalidMessage, parseMessage, SignalMessage } from '../src/messages.ts';

describe('EmbeddedBus', () => {
  it('delivers in order to each group once, and splits a group between its members', async () => {
    const bus = new EmbeddedBus();
    await bus.ensureTopics();
    const a: string[] = [];
    const b1: string[] = [];
    const b2: string[] = [];
    await bus.subscribe({ topic: TOPICS.signals, groupId: 'a', handler: async (m) => void a.push(String(m.value)) });
    await bus.subscribe({ topic: TOPICS.signals, groupId: 'b', handler: async (m) => void b1.push(String(m.value)) });
    await bus.subscribe({ topic: TOPICS.signals, groupId: 'b', handler: async (m) => void b2.push(String(m.value)) });
    await bus.publish(
      TOPICS.signals,
      ['1', '2', '3', '4'].map((v) => ({ key: 'k', value: v })),
    );
    await bus.drain();
    expect(a).toEqual(['1', '2', '3', '4']);
    expect([...b1, ...b2].sort()).toEqual(['1', '2', '3', '4']);
    expect(b1.length).toBeGreaterThan(0);
    expect(b2.length).toBeGreaterThan(0);
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
