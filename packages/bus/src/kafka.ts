/**
 * Kafka implementation of the Bus port (bus.ts). kafkajs is used here and nowhere else, so
 * the client can be swapped (e.g. for @confluentinc/kafka-javascript's KafkaJS-style API)
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
 * logical topic to `<prefix><name>` on the broker, and every consumer group likewise (isolated
 * test runs, shared clusters; see groupName()).
 */
import {
  Kafka,
  Partitioners,
  logLevel as KafkaLogLevel,
  type Admin,
  type Consumer,
  type IHeaders,
  type KafkaMessage,
  type LogEntry,
  type Producer,
} from 'kafkajs';
import { pino, type Logger } from 'pino';
import {
  TOPICS,
  type Bus,
  type IncomingBatch,
  type IncomingMessage,
  type OutgoingMessage,
  type SubscribeOptions,
  type Subscription,
  type TopicName,
} from './bus.ts';

export type KafkaLogLevelName = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  /** Receives the bus's own logs and kafkajs's (child `{ component: 'kafkajs' }`). */
  logger?: Logger;
  /** Partitions for topics created by ensureTopics (default 3). */
  partitions?: number;
  /** Replication factor for ensureTopics; default: the broker's default.replication.factor. */
  replicationFactor?: number;
  /** Physical topic name = topicPrefix + logical name (default ''); consumer groups carry it too. */
  topicPrefix?: string;
  /** kafkajs log level (default 'warn'). */
  kafkaLogLevel?: KafkaLogLevelName;
  /** Handler attempts per message before it goes to the dead-letter topic (default 3). */
  maxAttempts?: number;
  /** Backoff before the 2nd attempt; doubles for each further attempt (default 100 ms). */
  retryBackoffMs?: number;
  /** Consumer tuning; the defaults favour fast group joins and low latency. */
  consumer?: {
    sessionTimeout?: number;
    heartbeatInterval?: number;
    rebalanceTimeout?: number;
    maxWaitTimeInMs?: number;
    /** Partitions handled in parallel per subscription (order stays per partition). Default 1. */
    partitionsConsumedConcurrently?: number;
    /** How long subscribe() waits for the group join and first fetch (default 30 000 ms). */
    readyTimeoutMs?: number;
  };
}

/** Headers on dead-letter copies. */
export const DEAD_LETTER_HEADERS = {
  reason: 'x-dlq-reason',
  sourceTopic: 'x-dlq-source-topic',
  sourcePartition: 'x-dlq-source-partition',
  sourceOffset: 'x-dlq-source-offset',
  groupId: 'x-dlq-group-id',
  error: 'x-dlq-error',
  attempts: 'x-dlq-attempts',
  at: 'x-dlq-at',
} as const;

export type DeadLetterReason = 'invalid-json' | 'handler-failed';

export interface DeadLetterInfo {
  reason: string;
  /** Physical (broker) topic the original was read from. */
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: string;
  /** Broker-side consumer group (with the topic prefix, see KafkaBus.groupName). */
  groupId: string;
  error: string;
  attempts: number;
}

/** What KafkaBus hands to handlers: the port's IncomingMessage plus the record headers. */
export interface KafkaIncomingMessage extends IncomingMessage {
  headers: Readonly<Record<string, string>>;
}

/** Record headers of a message delivered by KafkaBus ({} for other buses). */
export function messageHeaders(message: IncomingMessage): Readonly<Record<string, string>> {
  const headers = (message as Partial<KafkaIncomingMessage>).headers;
  return headers !== null && typeof headers === 'object' ? headers : {};
}

/** The dead-letter metadata of a message read from the dead-letter topic, if any. */
export function deadLetterInfo(message: IncomingMessage): DeadLetterInfo | undefined {
  const h = messageHeaders(message);
  const reason = h[DEAD_LETTER_HEADERS.reason];
  if (reason === undefined) return undefined;
  return {
    reason,
    sourceTopic: h[DEAD_LETTER_HEADERS.sourceTopic] ?? '',
    sourcePartition: Number(h[DEAD_LETTER_HEADERS.sourcePartition] ?? -1),
    sourceOffset: h[DEAD_LETTER_HEADERS.sourceOffset] ?? '',
    groupId: h[DEAD_LETTER_HEADERS.groupId] ?? '',
    error: h[DEAD_LETTER_HEADERS.error] ?? '',
    attempts: Number(h[DEAD_LETTER_HEADERS.attempts] ?? 0),
  };
}

const DEFAULT_CONSUMER = {
  // The broker's group.min.session.timeout.ms is 6 s by default.
  sessionTimeout: 10_000,
  heartbeatInterval: 500,
  rebalanceTimeout: 10_000,
  maxWaitTimeInMs: 100,
  partitionsConsumedConcurrently: 1,
  readyTimeoutMs: 30_000,
};

const KAFKA_LEVELS: Record<KafkaLogLevelName, KafkaLogLevel> = {
  nothing: KafkaLogLevel.NOTHING,
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.INFO,
  debug: KafkaLogLevel.DEBUG,
};

/** Header values must stay small; error messages can be long. */
const MAX_HEADER_CHARS = 2_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return String(err);
  } catch {
    return 'unknown error';
  }
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) out[name] = last.toString();
  }
  return out;
}

/**
 * kafkajs → pino. kafkajs logs every error *response* at error level from its Connection
 * even when it then retries (e.g. "coordinator is loading") or returns the error to the
 * caller, who decides; those become warn so error means "something is actually broken".
 * The warning that a bounded retry count weakens the idempotent producer is expected (see
 * getProducer()) and goes to debug.
 */
function makeLogCreator(logger: Logger) {
  return (_level: KafkaLogLevel) =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log;
      let method: 'error' | 'warn' | 'info' | 'debug';
      switch (level) {
        case KafkaLogLevel.ERROR:
          method = namespace === 'Connection' ? 'warn' : 'error';
          break;
        case KafkaLogLevel.WARN:
          method = message.startsWith('Limiting retries for the idempotent producer') ? 'debug' : 'warn';
          break;
        case KafkaLogLevel.INFO:
          method = 'info';
          break;
        default:
          method = 'debug';
      }
      logger[method]({ namespace, ...extra }, message);
    };
}

interface ActiveSubscription extends Subscription {
  readonly groupId: string;
}

export class KafkaBus implements Bus {
  private readonly kafka: Kafka;
  private readonly logger: Logger;
  private readonly partitions: number;
  private readonly replicationFactor: number | undefined;
  private readonly topicPrefix: string;
  private readonly maxAttempts: number;
  private readonly retryBackoffMs: number;
  private readonly consumerOptions: typeof DEFAULT_CONSUMER;
  private readonly configuredConcurrency: number | undefined;
  private readonly subscriptions = new Set<ActiveSubscription>();
  private producer: Promise<Producer> | undefined;
  private closed = false;

  constructor(options: KafkaBusOptions) {
    if (options.brokers.length === 0) throw new Error('KafkaBus: brokers must not be empty');
    const root = options.logger ?? pino({ level: 'warn' });
    this.logger = root.child({ component: 'bus.kafka' });
    this.partitions = options.partitions ?? 3;
    this.replicationFactor = options.replicationFactor;
    this.topicPrefix = options.topicPrefix ?? '';
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.retryBackoffMs = Math.max(0, options.retryBackoffMs ?? 100);
    this.consumerOptions = { ...DEFAULT_CONSUMER, ...stripUndefined(options.consumer ?? {}) };
    this.configuredConcurrency = options.consumer?.partitionsConsumedConcurrently;
    this.kafka = new Kafka({
      brokers: options.brokers,
      clientId: options.clientId,
      logLevel: KAFKA_LEVELS[options.kafkaLogLevel ?? 'warn'],
      logCreator: makeLogCreator(root.child({ component: 'kafkajs' })),
    });
  }

  /** The broker-side name of a logical topic. */
  topicName(topic: TopicName): string {
    return `${this.topicPrefix}${topic}`;
  }

  /**
   * The broker-side name of a consumer group: the topic prefix separates groups as it separates
   * topics. Deployments, test runs and benches sharing one broker under different prefixes used to
   * join the same group (`huiying-engine`) whatever their prefix: a member subscribed to another
   * prefix's topics took part in the assignment, was handed partitions it does not read ("Consumer
   * group received unsubscribed topics"), and they went to nobody. Every consumer of this bus gets
   * its group from here, so no caller has to remember the prefix.
   */
  groupName(groupId: string): string {
    return `${this.topicPrefix}${groupId}`;
  }

  async ensureTopics(topics: readonly TopicName[] = Object.values(TOPICS)): Promise<void> {
    this.assertOpen();
    const wanted = [...new Set(topics.map((t) => this.topicName(t)))];
    if (wanted.length === 0) return;
    const admin: Admin = this.kafka.admin();
    await admin.connect();
    try {
      // Only ask for the missing ones: CreateTopics on an existing topic "fails" per topic,
      // which kafkajs logs loudly. A concurrent creator is still fine (TOPIC_ALREADY_EXISTS
      // is treated as success by kafkajs).
      const existing = new Set(await admin.listTopics());
      const missing = wanted.filter((t) => !existing.has(t));
      if (missing.length > 0) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: this.partitions,
            ...(this.replicationFactor === undefined ? {} : { replicationFactor: this.replicationFactor }),
          })),
        });
        this.logger.info({ topics: missing, partitions: this.partitions }, 'created topics');
      }
    } finally {
      await admin.disconnect();
    }
  }

  async publish(topic: TopicName, messages: readonly OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    if (messages.length === 0) return;
    const records = messages.map((m) => {
      const json = m.json ?? JSON.stringify(m.value);
      if (json === undefined) {
        throw new TypeError(`KafkaBus.publish: value for key "${m.key}" is not JSON-serialisable`);
      }
      return { key: m.key, value: json };
    });
    await this.send(this.topicName(topic), records);
  }

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    this.assertOpen();
    // A group without committed offsets starts at the beginning unless told otherwise, as
    // EmbeddedBus does (same port, same behaviour); existing groups resume where they were.
    const { topic, fromBeginning = true } = options;
    const physical = this.topicName(topic);
    const groupId = this.groupName(options.groupId);
    const isDeadLetter = topic === TOPICS.deadLetter;
    const log = this.logger.child({ topic: physical, groupId });
    const tuning = this.consumerOptions;

    const consumer: Consumer = this.kafka.consumer({
      groupId,
      sessionTimeout: tuning.sessionTimeout,
      heartbeatInterval: tuning.heartbeatInterval,
      rebalanceTimeout: tuning.rebalanceTimeout,
      maxWaitTimeInMs: tuning.maxWaitTimeInMs,
      allowAutoTopicCreation: false,
    });

    const ready = this.whenReady(consumer, tuning.readyTimeoutMs, physical, groupId);
    // Keep a rejection that happens while we are still in connect()/subscribe() handled.
    ready.catch(() => undefined);

    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [physical], fromBeginning });
      const { batchHandler, handler } = options;
      if (batchHandler) {
        const maxBatchSize = Math.max(1, options.maxBatchSize ?? 500);
        await consumer.run({
          autoCommit: true,
          eachBatchAutoResolve: false,
          // Batches are for throughput: every partition this member holds at once (order stays per partition).
          partitionsConsumedConcurrently: this.configuredConcurrency ?? this.partitions,
          eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
            for (let i = 0; i < batch.messages.length; i += maxBatchSize) {
              if (!isRunning() || isStale()) return;
              const chunk = batch.messages.slice(i, i + maxBatchSize);
              await this.dispatchBatch({
                topic,
                physical,
                isDeadLetter,
                groupId,
                partition: batch.partition,
                chunk,
                batchHandler,
                heartbeat,
                log,
              });
              resolveOffset(chunk[chunk.length - 1]!.offset);
              await commitOffsetsIfNecessary();
              await heartbeat();
            }
          },
        });
      } else {
        await consumer.run({
          autoCommit: true,
          partitionsConsumedConcurrently: tuning.partitionsConsumedConcurrently,
          eachMessage: async ({ partition, message, heartbeat }) => {
            await this.dispatch({
              topic,
              physical,
              isDeadLetter,
              groupId,
              partition,
              message,
              handler,
              heartbeat,
              log,
            });
          },
        });
      }
      await ready;
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }

    let closing: Promise<void> | undefined;
    const subscription: ActiveSubscription = {
      groupId,
      close: () => {
        // Waits for the message in flight, commits, leaves the group.
        closing ??= consumer.disconnect().finally(() => this.subscriptions.delete(subscription));
        return closing;
      },
    };
    this.subscriptions.add(subscription);
    log.debug({ fromBeginning }, 'subscribed');
    return subscription;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled([...this.subscriptions].map((s) => s.close()));
    const producer = await this.producer?.catch(() => undefined); // never connected: nothing to do
    this.producer = undefined;
    if (producer) results.push(...(await Promise.allSettled([producer.disconnect()])));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) {
      throw new AggregateError(
        failed.map((f) => f.reason),
        'KafkaBus.close: some clients failed to disconnect',
      );
    }
  }

  // --- internals ----------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new Error('KafkaBus is closed');
  }

  /** One idempotent producer (acks=all), connected on first use. */
  private getProducer(): Promise<Producer> {
    if (!this.producer) {
      const producer = this.kafka.producer({
        // kafkajs serialises an idempotent producer's requests per broker (sequence numbers).
        idempotent: true,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
        // kafkajs retries an idempotent producer forever by default; bounded here (≈20 s of
        // backoff: rides out a leader election or broker restart) so a publish against a
        // dead cluster or a missing topic fails instead of hanging. A failed publish may be
        // retried by the caller: delivery is at-least-once anyway.
        retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
      });
      const connecting = producer.connect().then(() => producer);
      this.producer = connecting;
      connecting.catch(() => {
        if (this.producer === connecting) this.producer = undefined; // retry next time
      });
    }
    return this.producer;
  }

  private async send(
    physicalTopic: string,
    messages: Array<{ key: string | Buffer | null; value: string | Buffer | null; headers?: IHeaders }>,
  ): Promise<void> {
    const producer = await this.getProducer();
    await producer.send({ topic: physicalTopic, acks: -1, messages });
  }

  /**
   * Resolves once the consumer has joined its group and finished a first fetch (so the
   * starting offsets are resolved: a message published afterwards is seen even with
   * fromBeginning false), or at once when it joined without partitions. Rejects on a
   * crash kafkajs will not restart from, or after timeoutMs.
   */
  private whenReady(consumer: Consumer, timeoutMs: number, topic: string, groupId: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let joined = false;
      const stops: Array<() => void> = [];
      const finish = (err?: Error): void => {
        clearTimeout(timer);
        for (const stop of stops) stop();
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(
        () => finish(new Error(`KafkaBus.subscribe: group "${groupId}" not ready on "${topic}" within ${timeoutMs} ms`)),
        timeoutMs,
      );
      stops.push(
        consumer.on(consumer.events.GROUP_JOIN, (event) => {
          joined = true;
          const assigned = Object.values(event.payload.memberAssignment).flat();
          if (assigned.length === 0) finish();
        }),
        consumer.on(consumer.events.FETCH, () => {
          if (joined) finish();
        }),
        consumer.on(consumer.events.CRASH, (event) => {
          const payload = event.payload as { error: Error; restart: boolean };
          if (!payload.restart) finish(payload.error);
        }),
      );
    });
  }

  /**
   * One chunk of a partition's fetch: values that are not JSON are dead-lettered (or, on the
   * dead-letter topic, delivered as text) and left out; the rest go to the handler as one batch,
   * retried as a whole; a batch that keeps failing (and a batch of one) goes message by message
   * through dispatch(), so only a message that fails on its own is dead-lettered.
   */
  private async dispatchBatch(ctx: {
    topic: TopicName;
    physical: string;
    isDeadLetter: boolean;
    groupId: string;
    partition: number;
    chunk: KafkaMessage[];
    batchHandler: (batch: IncomingBatch) => Promise<void>;
    heartbeat: () => Promise<void>;
    log: Logger;
  }): Promise<void> {
    const { topic, physical, isDeadLetter, groupId, partition, chunk, batchHandler, heartbeat, log } = ctx;
    const messages: KafkaIncomingMessage[] = [];
    const readable: KafkaMessage[] = [];
    for (const message of chunk) {
      const incoming = await this.decode({ topic, physical, isDeadLetter, groupId, partition, message, log });
      if (!incoming) continue;
      readable.push(message);
      messages.push(incoming);
    }
    if (messages.length === 0) return;
    if (messages.length > 1) {
      for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
        try {
          await batchHandler({ topic, partition, messages });
          return;
        } catch (err) {
          log.warn({ partition, size: messages.length, attempt, err }, 'batch handler failed');
          if (attempt < this.maxAttempts) {
            await sleep(this.retryBackoffMs * 2 ** (attempt - 1));
            await heartbeat();
          }
        }
      }
    }
    for (const message of readable) {
      await this.dispatch({
        topic,
        physical,
        isDeadLetter,
        groupId,
        partition,
        message,
        handler: (m) => batchHandler({ topic, partition, messages: [m] }),
        heartbeat,
        log,
      });
    }
  }

  /**
   * The message as handlers see it, its value parsed as JSON. A value that is not JSON is
   * dead-lettered here (undefined: leave the message out), except on the dead-letter topic,
   * where it is delivered as text.
   */
  private async decode(ctx: {
    topic: TopicName;
    physical: string;
    isDeadLetter: boolean;
    groupId: string;
    partition: number;
    message: KafkaMessage;
    log: Logger;
  }): Promise<KafkaIncomingMessage | undefined> {
    const { topic, physical, isDeadLetter, groupId, partition, message, log } = ctx;
    let value: unknown;
    try {
      if (message.value === null) throw new Error('message has no value');
      value = JSON.parse(message.value.toString('utf8'));
    } catch (err) {
      if (isDeadLetter) {
        value = message.value === null ? null : message.value.toString('utf8');
      } else {
        log.error({ partition, offset: message.offset, err: errorMessage(err) }, 'value is not JSON; dead-lettering');
        await this.deadLetter(message, 'invalid-json', { physical, partition, groupId, error: err, attempts: 0 });
        return undefined;
      }
    }
    return {
      topic,
      partition,
      offset: message.offset,
      key: message.key === null ? '' : message.key.toString('utf8'),
      value,
      headers: headersToStrings(message.headers),
    };
  }

  private async dispatch(ctx: {
    topic: TopicName;
    physical: string;
    isDeadLetter: boolean;
    groupId: string;
    partition: number;
    message: KafkaMessage;
    handler: (message: IncomingMessage) => Promise<void>;
    heartbeat: () => Promise<void>;
    log: Logger;
  }): Promise<void> {
    const { topic, physical, isDeadLetter, groupId, partition, message, handler, heartbeat, log } = ctx;
    const { offset } = message;
    const incoming = await this.decode({ topic, physical, isDeadLetter, groupId, partition, message, log });
    if (!incoming) return;

    for (let attempt = 1; ; attempt++) {
      try {
        await handler(incoming);
        return; // kafkajs resolves the offset only now
      } catch (err) {
        if (attempt >= this.maxAttempts) {
          if (isDeadLetter) {
            log.error(
              { partition, offset, attempts: attempt, err },
              'handler failed on a dead-letter message; skipped (it stays in the dead-letter topic)',
            );
            return;
          }
          log.error({ partition, offset, attempts: attempt, err }, 'handler failed; dead-lettering');
          await this.deadLetter(message, 'handler-failed', { physical, partition, groupId, error: err, attempts: attempt });
          return;
        }
        log.warn({ partition, offset, attempt, err }, 'handler failed; retrying');
      }
      await sleep(this.retryBackoffMs * 2 ** (attempt - 1));
      // Keeps the membership alive during long retries. If the group is rebalancing this
      // throws: the offset is not committed and the message is delivered again.
      await heartbeat();
    }
  }

  private async deadLetter(
    message: KafkaMessage,
    reason: DeadLetterReason,
    info: { physical: string; partition: number; groupId: string; error: unknown; attempts: number },
  ): Promise<void> {
    const headers: IHeaders = {
      ...(message.headers ?? {}),
      [DEAD_LETTER_HEADERS.reason]: reason,
      [DEAD_LETTER_HEADERS.sourceTopic]: info.physical,
      [DEAD_LETTER_HEADERS.sourcePartition]: String(info.partition),
      [DEAD_LETTER_HEADERS.sourceOffset]: message.offset,
      [DEAD_LETTER_HEADERS.groupId]: info.groupId,
      [DEAD_LETTER_HEADERS.error]: errorMessage(info.error).slice(0, MAX_HEADER_CHARS),
      [DEAD_LETTER_HEADERS.attempts]: String(info.attempts),
      [DEAD_LETTER_HEADERS.at]: new Date().toISOString(),
    };
    // Throws if it cannot be written: eachMessage fails, nothing is committed, and kafkajs
    // delivers the message again (after its own retries / consumer restart).
    await this.send(this.topicName(TOPICS.deadLetter), [{ key: message.key, value: message.value, headers }]);
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
