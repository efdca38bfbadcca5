import type { Bus, IncomingMessage, OutgoingMessage, SubscribeOptions, Subscription, TopicName } from './bus.ts';
import { TOPICS } from './bus.ts';

/** A topic's messages from absolute offset `base` on; consumed messages are trimmed away. */
class TopicLog {
  base = 0;
  items: IncomingMessage[] = [];
  get end(): number {
    return this.base + this.items.length;
  }
  at(offset: number): IncomingMessage | undefined {
    return this.items[offset - this.base];
  }
  push(topic: string, key: string, value: unknown): void {
    this.items.push({ topic, partition: 0, offset: String(this.end), key, value });
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

interface Group {
  cursor: number;
  members: SubscribeOptions[];
  next: number;
  running: boolean;
}

/**
 * In-process bus for the embedded default and tests: one ordered log per topic, one cursor
 * per consumer group, messages delivered one at a time per group (so per-key order holds).
 * Same contract as Kafka: at-least-once, retried, dead-lettered after repeated failure. Unlike
 * Kafka it keeps only what some active group has yet to consume (memory stays bounded in a
 * long-running embedded process); a group subscribing later starts at the oldest message kept.
 */
export class EmbeddedBus implements Bus {
  private logs = new Map<string, TopicLog>();
  private groups = new Map<string, Group>();
  private closed = false;
  private idle: (() => void)[] = [];

  constructor(private readonly options: { maxAttempts?: number; onDeadLetter?: (m: IncomingMessage, error: unknown) => void } = {}) {}

  async ensureTopics(topics: readonly TopicName[] = Object.values(TOPICS)): Promise<void> {
    for (const t of topics) if (!this.logs.has(t)) this.logs.set(t, new TopicLog());
  }

  async publish(topic: TopicName, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    const log = this.logs.get(topic);
    if (!log) throw new Error(`unknown topic ${topic} (call ensureTopics first)`);
    for (const m of messages) {
      // Serialise like Kafka would, so nothing depends on sharing object identity.
      log.push(topic, m.key, JSON.parse(JSON.stringify(m.value)));
    }
    for (const [name, group] of this.groups) if (name.startsWith(`${topic}\u0000`)) this.pump(topic, group);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    const log = this.logs.get(options.topic);
    if (!log) throw new Error(`unknown topic ${options.topic} (call ensureTopics first)`);
    const name = `${options.topic}\u0000${options.groupId}`;
    let group = this.groups.get(name);
    if (!group) {
      group = { cursor: options.fromBeginning === false ? log.end : log.base, members: [], next: 0, running: false };
      this.groups.set(name, group);
    }
    group.cursor = Math.max(group.cursor, log.base);
    group.members.push(options);
    this.pump(options.topic, group);
    const g = group;
    return {
      close: async () => {
        g.members = g.members.filter((m) => m !== options);
      },
    };
  }

  /** Messages of a topic still held in memory (diagnostics, tests). */
  retained(topic: TopicName): number {
    return this.logs.get(topic)?.items.length ?? 0;
  }

  /** Resolves when every group has consumed everything published so far (for tests and drills). */
  async drain(): Promise<void> {
    while (
      [...this.groups.entries()].some(
        ([name, g]) => g.running || (g.members.length > 0 && g.cursor < (this.logs.get(name.split('\u0000')[0]!)?.end ?? 0)),
      )
    ) {
      await new Promise<void>((r) => this.idle.push(r));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.groups.clear();
    for (const r of this.idle.splice(0)) r();
  }

  private pump(topic: string, group: Group): void {
    if (group.running || this.closed) return;
    group.running = true;
    void (async () => {
      const log = this.logs.get(topic)!;
      while (!this.closed && group.members.length > 0 && group.cursor < log.end) {
        const message = log.at(group.cursor)!;
        const member = group.members[group.next++ % group.members.length]!;
        await this.deliver(member, message);
        group.cursor++;
      }
      group.running = false;
      this.trim(topic, log);
      for (const r of this.idle.splice(0)) r();
    })();
  }

  private trim(topic: string, log: TopicLog): void {
    let min = log.end;
    for (const [name, g] of this.groups) {
      if (name.startsWith(`${topic}\u0000`) && g.members.length > 0) min = Math.min(min, g.cursor);
    }
    log.trimTo(min);
  }

  private async deliver(member: SubscribeOptions, message: IncomingMessage): Promise<void> {
    const attempts = this.options.maxAttempts ?? 3;
    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        await member.handler(message);
        return;
      } catch (error) {
        lastError = error;
      }
    }
    this.logs.get(TOPICS.deadLetter)?.push(TOPICS.deadLetter, message.key, message.value);
    this.options.onDeadLetter?.(message, lastError);
  }
}
