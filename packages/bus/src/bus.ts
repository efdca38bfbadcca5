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

export type OutgoingMessage =
  | {
      /** Partitioning key: one incident's (or one source's) messages stay ordered. */
      key: string;
      /** Already validated message body (see messages.ts); serialised as JSON. */
      value: unknown;
      json?: undefined;
    }
  | {
      key: string;
      /**
       * The body already serialised as JSON text (the outbox stores it so): sent as it is, byte
       * for byte, instead of parsed and serialised again.
       */
      json: string;
      value?: undefined;
    };

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  /** Parsed JSON, not yet validated: consumers validate with messages.ts. */
  value: unknown;
}

/** Messages of one partition, in offset order (so in per-key order). */
export interface IncomingBatch {
  topic: string;
  partition: number;
  messages: IncomingMessage[];
}

interface SubscribeCommon {
  topic: TopicName;
  /**
   * Consumer group: processes sharing a group split the partitions between them. A key maps
   * to one partition, and a partition to one member of the group at a time, so one key's
   * messages reach one member, in order. A logical name, like the topic: KafkaBus puts its topic
   * prefix in front (KafkaBus.groupName), so deployments sharing a broker never share a group.
   */
  groupId: string;
  /** Where a group with no committed offset starts: the oldest message (default) or only new ones. */
  fromBeginning?: boolean;
  /**
   * The group is this subscription's alone (one process's fan-out group, such as an API
   * process's `huiying-api-<uuid>`): closing the subscription deletes it with its offsets, so
   * processes that come and go leave no groups behind on the broker. (A process that dies
   * without closing leaves it to the broker's offset retention, seven days by default.)
   */
  ephemeral?: boolean;
}

export type SubscribeOptions = SubscribeCommon &
  (
    | {
        /**
         * Called once per message, in order per partition. The offset is committed only after the
         * promise resolves, so handlers must be idempotent (delivery is at-least-once).
         */
        handler: (message: IncomingMessage) => Promise<void>;
        batchHandler?: undefined;
      }
    | {
        /**
         * Called with consecutive messages of one partition (at most `maxBatchSize`); partitions
         * are handled in parallel, one batch at a time per partition, so per-key order holds.
         * Offsets are committed after the promise resolves. A batch that keeps failing is retried
         * message by message (batches of one), so only a message that fails on its own is
         * dead-lettered. Handlers must be idempotent (delivery is at-least-once).
         */
        batchHandler: (batch: IncomingBatch) => Promise<void>;
        /** Default 500. */
        maxBatchSize?: number;
        handler?: undefined;
      }
  );

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
