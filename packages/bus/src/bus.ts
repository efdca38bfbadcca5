/**
 * The message bus port. Kafka in production (kafka.ts), an in-process bus in the embedded
 * default and unit tests (embedded.ts). Nothing outside this package imports kafkajs.
 */
export const TOPICS = {
  signals: 'huiying.signals.v1',
  events: 'huiying.events.v1',
  deadLetter: 'huiying.dead-letter.v1',
} as const;
export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

export interface OutgoingMessage {
  /** Partitioning key: one incident's (or one source's) messages stay ordered. */
  key: string;
  /** Already validated message body (see messages.ts); serialised as JSON. */
  value: unknown;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  /** Parsed JSON, not yet validated: consumers validate with messages.ts. */
  value: unknown;
}

export interface SubscribeOptions {
  topic: TopicName;
  /** Consumer group: processes sharing a group split the partitions between them. */
  groupId: string;
  /** Where a group with no committed offset starts: the oldest message (default) or only new ones. */
  fromBeginning?: boolean;
  /**
   * Called once per message, in order per partition. The offset is committed only after the
   * promise resolves, so handlers must be idempotent (delivery is at-least-once).
   */
  handler: (message: IncomingMessage) => Promise<void>;
}

export interface Subscription {
  close(): Promise<void>;
}

export interface Bus {
  /** Create topics if missing (idempotent). */
  ensureTopics(topics?: readonly TopicName[]): Promise<void>;
  publish(topic: TopicName, messages: readonly OutgoingMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  close(): Promise<void>;
}
