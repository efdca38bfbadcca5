/**
 * Kafka implementation of the Bus port (bus.ts). kafkajs is used here and in kafka/ and nowhere
 * else, so the client can be swapped (e.g. for @confluentinc/kafka-javascript's KafkaJS-style API)
 * without touching callers.
 *
 * Delivery contract (see bus.ts): at-least-once. A message's offset is committed only after
 * its handler resolved, or after the message was copied to the dead-letter topic.
 *
 * - A new consumer group (no committed offsets) starts at the oldest message unless
 *   `fromBeginning: false` (then at the end), like EmbeddedBus.
 * - Values are JSON. A message whose value is not JSON (or is null) is copied to the
 *   dead-letter topic with reason `invalid-json` and skipped.
 * - A handler that throws is retried (`maxAttempts`, default 3, with doubling backoff). If
 *   the last attempt throws too, the original message (key, raw value, headers) is copied to
 *   the dead-letter topic with reason `handler-failed`, the source topic/partition/offset,
 *   group and error message in `x-dlq-*` headers, and consumption continues. If that copy
 *   cannot be written, eachMessage throws: kafkajs does not commit and delivers it again.
 * - Messages read from the dead-letter topic itself are never dead-lettered again: a value
 *   that is not JSON is delivered as its UTF-8 string, a failing handler is logged at error
 *   level and the message is skipped (it stays in the dead-letter topic).
 *
 * Kafka-specific extras, not part of the port: delivered messages also carry `headers`
 * (read them with `messageHeaders()` / `deadLetterInfo()`), and `topicPrefix` maps every
 * logical topic to `<prefix><name>` on the broker (isolated test runs, shared clusters).
 *
 * Here the bus itself; its parts in kafka/: config.ts (options, the kafkajs client),
 * producer.ts, consumer.ts (delivery, retries, dead-lettering), admin.ts (topics), headers.ts
 * (record and dead-letter headers).
 */
import type { Kafka } from 'kafkajs';
import { pino, type Logger } from 'pino';
import { TOPICS, type Bus, type OutgoingMessage, type SubscribeOptions, type Subscription, type TopicName } from './bus.ts';
import { createMissingTopics } from './kafka/admin.ts';
import { consumerTuning, createKafka, type KafkaBusOptions } from './kafka/config.ts';
import { KafkaConsumers } from './kafka/consumer.ts';
import { KafkaProducer, toRecords } from './kafka/producer.ts';

export type { KafkaBusOptions, KafkaLogLevelName } from './kafka/config.ts';
export {
  DEAD_LETTER_HEADERS,
  type DeadLetterInfo,
  deadLetterInfo,
  type DeadLetterReason,
  type KafkaIncomingMessage,
  messageHeaders,
} from './kafka/headers.ts';

export class KafkaBus implements Bus {
  private readonly kafka: Kafka;
  private readonly logger: Logger;
  private readonly partitions: number;
  private readonly replicationFactor: number | undefined;
  private readonly topicPrefix: string;
  private readonly producer: KafkaProducer;
  private readonly consumers: KafkaConsumers;
  private closed = false;

  constructor(options: KafkaBusOptions) {
    if (options.brokers.length === 0) throw new Error('KafkaBus: brokers must not be empty');
    const root = options.logger ?? pino({ level: 'warn' });
    this.logger = root.child({ component: 'bus.kafka' });
    this.partitions = options.partitions ?? 3;
    this.replicationFactor = options.replicationFactor;
    this.topicPrefix = options.topicPrefix ?? '';
    this.kafka = createKafka(options, root);
    this.producer = new KafkaProducer(this.kafka);
    this.consumers = new KafkaConsumers({
      kafka: this.kafka,
      logger: this.logger,
      tuning: consumerTuning(options.consumer),
      batchConcurrency: options.consumer?.partitionsConsumedConcurrently ?? this.partitions,
      maxAttempts: Math.max(1, options.maxAttempts ?? 3),
      retryBackoffMs: Math.max(0, options.retryBackoffMs ?? 100),
      topicName: (topic) => this.topicName(topic),
      send: (physicalTopic, messages) => this.producer.send(physicalTopic, messages),
    });
  }

  /** The broker-side name of a logical topic. */
  topicName(topic: TopicName): string {
    return `${this.topicPrefix}${topic}`;
  }

  async ensureTopics(topics: readonly TopicName[] = Object.values(TOPICS)): Promise<void> {
    this.assertOpen();
    const wanted = [...new Set(topics.map((t) => this.topicName(t)))];
    await createMissingTopics(this.kafka, wanted, {
      partitions: this.partitions,
      replicationFactor: this.replicationFactor,
      logger: this.logger,
    });
  }

  async publish(topic: TopicName, messages: readonly OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    const records = toRecords(messages);
    await this.producer.send(this.topicName(topic), records);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    return this.consumers.subscribe(options);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await this.consumers.closeAll();
    results.push(...(await Promise.allSettled([this.producer.close()])));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) {
      throw new AggregateError(
        failed.map((f) => f.reason),
        'KafkaBus.close: some clients failed to disconnect',
      );
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('KafkaBus is closed');
  }
}
