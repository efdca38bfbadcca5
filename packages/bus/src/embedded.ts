import type { Bus, IncomingBatch, IncomingMessage, OutgoingMessage, SubscribeOptions, Subscription, TopicName } from './bus.ts';
import { TOPICS } from './bus.ts';
import { partitionFor } from './partitioner.ts';

/** One partition's messages from absolute offset `base` on; consumed messages are trimmed away. */
class PartitionLog {
  base = 0;
  items: IncomingMessage[] = [];
  constructor(private readonly partition: number) {}
  get end(): number {
    return this.base + this.items.length;
  }
  at(offset: number): IncomingMessage | undefined {
    return this.items[offset - this.base];
  }
  slice(from: number, count: number): IncomingMessage[] {
    return this.items.slice(from - this.base, from - this.base + count);
  }
  push(topic: string, key: string, value: unknown): void {
    this.items.push({ topic, partition: this.partition, offset: String(this.end), key, value });
  }
  /** Drop what every active group has consumed (in chunks, so trimming stays cheap). */
  trimTo(offset: number): void {
    if (offset - this.base >= TRIM_CHUNK) {
      this.items.splice(0, offset - this.base);
      this.base = offset;
    }
  }
}

const TRIM_CHUNK = 1000;
const DEFAULT_BATCH = 500;

interface Group {
  topic: string;
  cursors: number[];
  running: boolean[];
  /** In join order; partition p belongs to members[p % members.length]. */
  members: SubscribeOptions[];
}

/**
 * In-process bus for the embedded default and tests, with Kafka's per-key semantics: a topic
 * has `partitions` ordered logs, a key always maps to one of them (Kafka's default partitioner:
 * murmur2 of the key), and within a consumer group each partition belongs to one member, so
 * one key's messages reach one member, in order. Partitions are consumed in parallel, one
 * message (or one batch) at a time each. Same contract as Kafka: at-least-once, retried,
 * dead-lettered after repeated failure. Unlike Kafka it keeps only what some active group has
 * yet to consume (memory stays bounded in a long-running embedded process); a group
 * subscribing later starts at the oldest message kept.
 */
export class EmbeddedBus implements Bus {
  private logs = new Map<string, PartitionLog[]>();
  private groups = new Map<string, Group>();
  private closed = false;
  private idle: (() => void)[] = [];
  private readonly partitions: number;

  constructor(
    private readonly options: {
      /** Partitions per topic (default 3, like KafkaBus). */
      partitions?: number;
      maxAttempts?: number;
      onDeadLetter?: (m: IncomingMessage, error: unknown) => void;
    } = {},
  ) {
    this.partitions = Math.max(1, options.partitions ?? 3);
  }

  async ensureTopics(topics: readonly TopicName[] = Object.values(TOPICS)): Promise<void> {
    for (const t of topics) {
      if (!this.logs.has(t))
        this.logs.set(
          t,
          Array.from({ length: this.partitions }, (_, p) => new PartitionLog(p)),
        );
    }
  }

  async publish(topic: TopicName, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    const logs = this.logs.get(topic);
    if (!logs) throw new Error(`unknown topic ${topic} (call ensureTopics first)`);
    for (const m of messages) {
      // Serialise like Kafka would, so nothing depends on sharing object identity.
      this.append(logs, topic, m.key, JSON.parse(m.json ?? JSON.stringify(m.value)));
    }
    for (const group of this.groups.values()) if (group.topic === topic) this.pumpAll(group);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const logs = this.logs.get(options.topic);
    if (!logs) throw new Error(`unknown topic ${options.topic} (call ensureTopics first)`);
    const name = `${options.topic}\u0000${options.groupId}`;
    let group = this.groups.get(name);
    if (!group) {
      group = {
        topic: options.topic,
        cursors: logs.map((l) => (options.fromBeginning === false ? l.end : l.base)),
        running: logs.map(() => false),
        members: [],
      };
      this.groups.set(name, group);
    }
    const g = group;
    g.cursors = g.cursors.map((c, p) => Math.max(c, logs[p]!.base));
    g.members.push(options);
    this.pumpAll(g);
    return {
      close: async () => {
        g.members = g.members.filter((m) => m !== options);
        // An ephemeral group is forgotten with its last member, as KafkaBus deletes it on the broker.
        if (options.ephemeral && g.members.length === 0 && this.groups.get(name) === g) this.groups.delete(name);
      },
    };
  }

  /** Messages of a topic still held in memory (diagnostics, tests). */
  retained(topic: TopicName): number {
    return (this.logs.get(topic) ?? []).reduce((n, l) => n + l.items.length, 0);
  }

  /** The partition a key maps to on this bus (tests, diagnostics). */
  partitionOf(key: string): number {
    return partitionFor(key, this.partitions);
  }

  /** Resolves when every group has consumed everything published so far (for tests and drills). */
  async drain(): Promise<void> {
    const busy = (g: Group): boolean => {
      const logs = this.logs.get(g.topic) ?? [];
      return g.running.some(Boolean) || (g.members.length > 0 && g.cursors.some((c, p) => c < (logs[p]?.end ?? 0)));
    };
    while ([...this.groups.values()].some(busy)) {
      await new Promise<void>((r) => this.idle.push(r));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.groups.clear();
    for (const r of this.idle.splice(0)) r();
  }

  private append(logs: PartitionLog[], topic: string, key: string, value: unknown): void {
    logs[partitionFor(key, logs.length)]!.push(topic, key, value);
  }

  private pumpAll(group: Group): void {
    for (let p = 0; p < group.cursors.length; p++) this.pump(group, p);
  }

  /** One loop per (group, partition): sequential within the partition, parallel across them. */
  private pump(group: Group, p: number): void {
    if (group.running[p] || this.closed) return;
    group.running[p] = true;
    void (async () => {
      const log = this.logs.get(group.topic)![p]!;
      while (!this.closed && group.members.length > 0 && group.cursors[p]! < log.end) {
        // Looked up per delivery: a member joining or leaving moves the partition, like a rebalance.
        const member = group.members[p % group.members.length]!;
        if (member.batchHandler) {
          const messages = log.slice(group.cursors[p]!, member.maxBatchSize ?? DEFAULT_BATCH);
          await this.deliverBatch(member, { topic: group.topic, partition: p, messages });
          group.cursors[p]! += messages.length;
        } else {
          await this.deliver(member, log.at(group.cursors[p]!)!);
          group.cursors[p]!++;
        }
      }
      group.running[p] = false;
      this.trim(group.topic, p);
      for (const r of this.idle.splice(0)) r();
    })();
  }

  private trim(topic: string, p: number): void {
    const log = this.logs.get(topic)![p]!;
    let min = log.end;
    for (const g of this.groups.values()) {
      if (g.topic === topic && g.members.length > 0) min = Math.min(min, g.cursors[p]!);
    }
    log.trimTo(min);
  }

  private async attempt(call: () => Promise<void>): Promise<{ ok: true } | { ok: false; error: unknown }> {
    const attempts = this.options.maxAttempts ?? 3;
    let error: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        await call();
        return { ok: true };
      } catch (e) {
        error = e;
      }
    }
    return { ok: false, error };
  }

  private async deliverBatch(member: SubscribeOptions, batch: IncomingBatch): Promise<void> {
    const handler = member.batchHandler!;
    if ((await this.attempt(() => handler(batch))).ok) return;
    // Find the poison: each message on its own, so the others still get through.
    for (const message of batch.messages) {
      const single = await this.attempt(() => handler({ ...batch, messages: [message] }));
      if (!single.ok) this.deadLetter(message, single.error);
    }
  }

  private async deliver(member: SubscribeOptions, message: IncomingMessage): Promise<void> {
    const result = await this.attempt(() => member.handler!(message));
    if (!result.ok) this.deadLetter(message, result.error);
  }

  private deadLetter(message: IncomingMessage, error: unknown): void {
    const logs = this.logs.get(TOPICS.deadLetter);
    if (logs) this.append(logs, TOPICS.deadLetter, message.key, message.value);
    this.options.onDeadLetter?.(message, error);
    for (const group of this.groups.values()) if (group.topic === TOPICS.deadLetter) this.pumpAll(group);
  }
}
