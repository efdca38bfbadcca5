/**
 * What KafkaBus is configured with, shared by its producer, consumer and admin sides: the
 * options and their defaults, the kafkajs client (its logs routed to pino).
 */
import { Kafka, logLevel as KafkaLogLevel, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';

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
  /** Physical topic name = topicPrefix + logical name (default ''). */
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

const DEFAULT_CONSUMER = {
  // The broker's group.min.session.timeout.ms is 6 s by default.
  sessionTimeout: 10_000,
  heartbeatInterval: 500,
  rebalanceTimeout: 10_000,
  maxWaitTimeInMs: 100,
  partitionsConsumedConcurrently: 1,
  readyTimeoutMs: 30_000,
};

export type ConsumerTuning = typeof DEFAULT_CONSUMER;

/** The consumer tuning: the defaults, overridden by what `consumer` sets. */
export function consumerTuning(consumer: KafkaBusOptions['consumer']): ConsumerTuning {
  return { ...DEFAULT_CONSUMER, ...stripUndefined(consumer ?? {}) };
}

const KAFKA_LEVELS: Record<KafkaLogLevelName, KafkaLogLevel> = {
  nothing: KafkaLogLevel.NOTHING,
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.INFO,
  debug: KafkaLogLevel.DEBUG,
};

/** The kafkajs client, logging to `root`'s child `{ component: 'kafkajs' }`. */
export function createKafka(options: KafkaBusOptions, root: Logger): Kafka {
  return new Kafka({
    brokers: options.brokers,
    clientId: options.clientId,
    logLevel: KAFKA_LEVELS[options.kafkaLogLevel ?? 'warn'],
    logCreator: makeLogCreator(root.child({ component: 'kafkajs' })),
  });
}

/**
 * kafkajs → pino. kafkajs logs every error *response* at error level from its Connection
 * even when it then retries (e.g. "coordinator is loading") or returns the error to the
 * caller, who decides; those become warn so error means "something is actually broken".
 * The warning that a bounded retry count weakens the idempotent producer is expected (see
 * KafkaProducer) and goes to debug.
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

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return String(err);
  } catch {
    return 'unknown error';
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
