/**
 * KafkaBus's consumer side: a consumer group member per subscription, delivering each
 * message (or each partition's batch) to the handler with retries, and copying what cannot be
 * handled to the dead-letter topic (the contract in ../kafka.ts).
 */
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import { TOPICS, type IncomingBatch, type IncomingMessage, type SubscribeOptions, type Subscription, type TopicName } from '../bus.ts';
import { deleteGroup } from './admin.ts';
import { type ConsumerTuning, errorMessage } from './config.ts';
import { deadLetterHeaders, type DeadLetterReason, type DeadLetterSource, headersToStrings, type KafkaIncomingMessage } from './headers.ts';
import type { ProducerRecord } from './producer.ts';

export interface ConsumerSettings {
  kafka: Kafka;
  logger: Logger;
  tuning: ConsumerTuning;
  /** Partitions consumed at once by a batch handler's subscription (configured, else a topic's partition count). */
  batchConcurrency: number;
  /** Handler attempts per message (at least 1). */
  maxAttempts: number;
  /** Backoff before the 2nd attempt; doubles for each further attempt. */
  retryBackoffMs: number;
  /** The broker-side name of a logical topic. */
  topicName(topic: TopicName): string;
  /** Writes records to a (physical) topic: the producer's send. */
  send(physicalTopic: string, messages: ProducerRecord[]): Promise<void>;
}

interface ActiveSubscription extends Subscription {
  readonly groupId: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Every subscription of one KafkaBus. */
export class KafkaConsumers {
  private readonly subscriptions = new Set<ActiveSubscription>();

  constructor(private readonly o: ConsumerSettings) {}

  async subscribe(options: SubscribeOptions): Promise<Subscription> {
    // A group without committed offsets starts at the beginning unless told otherwise, as
    // EmbeddedBus does (same port, same behaviour); existing groups resume where they were.
    const { topic, groupId, fromBeginning = true } = options;
    const physical = this.o.topicName(topic);
    const isDeadLetter = topic === TOPICS.deadLetter;
    const log = this.o.logger.child({ topic: physical, groupId });
    const tuning = this.o.tuning;

    const consumer: Consumer = this.o.kafka.consumer({
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
          partitionsConsumedConcurrently: this.o.batchConcurrency,
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
        // Waits for the message in flight, commits, leaves the group (and deletes it when it is ours alone).
        closing ??= consumer
          .disconnect()
          .then(() => (options.ephemeral ? this.forget(groupId, log) : undefined))
          .finally(() => this.subscriptions.delete(subscription));
        return closing;
      },
    };
    this.subscriptions.add(subscription);
    log.debug({ fromBeginning }, 'subscribed');
    return subscription;
  }

  /** Deletes an ephemeral subscription's group once it has left it; a failure is logged, the close goes on. */
  private async forget(groupId: string, log: Logger): Promise<void> {
    try {
      await deleteGroup(this.o.kafka, groupId);
      log.debug('ephemeral group deleted');
    } catch (err) {
      log.warn({ err: errorMessage(err) }, 'could not delete the ephemeral consumer group; the broker expires it with its offsets');
    }
  }

  /** Closes every open subscription; what each close came to. */
  closeAll(): Promise<PromiseSettledResult<void>[]> {
    return Promise.allSettled([...this.subscriptions].map((s) => s.close()));
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
      for (let attempt = 1; attempt <= this.o.maxAttempts; attempt++) {
        try {
          await batchHandler({ topic, partition, messages });
          return;
        } catch (err) {
          log.warn({ partition, size: messages.length, attempt, err }, 'batch handler failed');
          if (attempt < this.o.maxAttempts) {
            await sleep(this.o.retryBackoffMs * 2 ** (attempt - 1));
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
        if (attempt >= this.o.maxAttempts) {
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
      await sleep(this.o.retryBackoffMs * 2 ** (attempt - 1));
      // Keeps the membership alive during long retries. If the group is rebalancing this
      // throws: the offset is not committed and the message is delivered again.
      await heartbeat();
    }
  }

  private async deadLetter(message: KafkaMessage, reason: DeadLetterReason, info: DeadLetterSource): Promise<void> {
    const headers = deadLetterHeaders(message, reason, info);
    // Throws if it cannot be written: eachMessage fails, nothing is committed, and kafkajs
    // delivers the message again (after its own retries / consumer restart).
    await this.o.send(this.o.topicName(TOPICS.deadLetter), [{ key: message.key, value: message.value, headers }]);
  }
}
