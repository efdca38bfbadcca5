/**
 * The ports every production process opens the same way: configuration keys, logger,
 * PostgreSQL (migrated), Kafka (topics ensured) and the outbox relay between them.
 */
import type { TopicName } from '@huiying/bus';
import { KafkaBus } from '@huiying/bus/kafka';
import { logSerializers, Type } from '@huiying/config';
import {
  auditLogUnprotected,
  type Db,
  type DbHandle,
  DEFAULT_OUTBOX_RETENTION_MS,
  migrateAsOwner,
  OutboxRelay,
  openPostgres,
} from '@huiying/db';
import pino, { type Logger } from 'pino';

/** Configuration keys shared by ingest, engine and api (spread into each service's schema). */
export const portsConfig = {
  DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
  KAFKA_BROKERS: Type.String({ minLength: 1 }),
  /** Separates deployments (or test runs) sharing one Kafka cluster. */
  KAFKA_TOPIC_PREFIX: Type.String({ default: '' }),
  LOG_LEVEL: Type.String({ default: 'info' }),
  /**
   * The tables' owner, for migrations only. Set it, and give DATABASE_URL a login that is a
   * member of huiying_app, so the running service cannot alter or drop the audit log.
   */
  MIGRATION_DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  /** Published outbox rows (message payloads, ticket text among them) are deleted after this many hours. */
  OUTBOX_RETENTION_HOURS: Type.Number({ default: DEFAULT_OUTBOX_RETENTION_MS / 3_600_000, minimum: 0 }),
};

export interface PortsConfig {
  DATABASE_URL: string;
  KAFKA_BROKERS: string;
  KAFKA_TOPIC_PREFIX: string;
  LOG_LEVEL: string;
  MIGRATION_DATABASE_URL?: string | undefined;
  OUTBOX_RETENTION_HOURS?: number | undefined;
}

export interface ProductionPorts {
  logger: Logger;
  handle: DbHandle;
  bus: KafkaBus;
  relay: OutboxRelay;
  /** Stop the relay, then close the bus and the database. */
  close(): Promise<void>;
}

/**
 * One warning when the service's own login could rewrite the audit log (it owns the table, is a
 * superuser, or was granted more than INSERT): the log is then no evidence. Returns whether it warned.
 */
export async function warnIfAuditUnprotected(db: Db, logger: Logger): Promise<boolean> {
  const role = await auditLogUnprotected(db);
  if (role === null) return false;
  logger.warn(
    { role },
    `the audit table is not protected: database role ${role} can alter, rewrite or drop audit_log. ` +
      'Run migrations as the owner (MIGRATION_DATABASE_URL) and give DATABASE_URL a login that is a member of huiying_app',
  );
  return true;
}

export async function openProductionPorts(
  name: string,
  config: PortsConfig,
  /** relayLingerMs: the outbox relay's wait after a wake-up (OutboxRelay's lingerMs; default 0). */
  options: { logger?: Logger; relayLingerMs?: number } = {},
): Promise<ProductionPorts> {
  const logger = options.logger ?? pino({ level: config.LOG_LEVEL, name, serializers: logSerializers });
  const handle = openPostgres(config.DATABASE_URL);
  await migrateAsOwner(handle, config.MIGRATION_DATABASE_URL);
  await warnIfAuditUnprotected(handle.db, logger);
  const bus = new KafkaBus({ brokers: config.KAFKA_BROKERS.split(','), clientId: name, topicPrefix: config.KAFKA_TOPIC_PREFIX, logger });
  await bus.ensureTopics();
  const relay = new OutboxRelay(handle.db, (topic, messages) => bus.publish(topic as TopicName, messages), {
    // One Kafka send and one UPDATE per 1000 rows: under batch intake the relay keeps up with one cycle per request.
    batch: 1000,
    retentionMs: (config.OUTBOX_RETENTION_HOURS ?? DEFAULT_OUTBOX_RETENTION_MS / 3_600_000) * 3_600_000,
    onError: (e) => logger.error(e, 'outbox relay'),
    lingerMs: options.relayLingerMs ?? 0,
  });
  return {
    logger,
    handle,
    bus,
    relay,
    async close() {
      await relay.stop();
      await bus.close();
      await handle.close();
    },
  };
}
