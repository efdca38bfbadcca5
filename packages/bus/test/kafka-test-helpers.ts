/**
 * Helpers for the Kafka integration tests (packages/bus/test/kafka.integration.test.ts).
 * They talk to the real broker started by `bash infra/kafka/kafka.sh start`; nothing here
 * mocks Kafka. kafkajs is used directly only for test plumbing the Bus port does not offer
 * (writing a non-JSON record, inspecting and deleting topics).
 */
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { Kafka, Partitioners, logLevel, type Admin } from 'kafkajs';

export const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092')
  .split(',')
  .map((b) => b.trim())
  .filter((b) => b.length > 0);

/** Unique per test-file run: topics and groups of one run never see another run's. */
export const RUN_ID = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
export const RUN_PREFIX = `it.${RUN_ID}.`;

function tcpProbe(broker: string, timeoutMs: number): Promise<void> {
  const at = broker.lastIndexOf(':');
  const host = broker.slice(0, at);
  const port = Number(broker.slice(at + 1));
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    const fail = (why: string): void => {
      socket.destroy();
      reject(new Error(why));
    };
    socket.setTimeout(timeoutMs, () => fail(`timed out after ${timeoutMs} ms`));
    socket.once('error', (err) => fail(err.message));
    socket.connect(port, host, () => {
      socket.end();
      resolve();
    });
  });
}

/** Throws a message that says what to do when no broker listens. Never skips. */
export async function assertBrokerReachable(): Promise<void> {
  const failures: string[] = [];
  for (const broker of BROKERS) {
    try {
      await tcpProbe(broker, 3_000);
      return;
    } catch (err) {
      failures.push(`${broker}: ${(err as Error).message}`);
    }
  }
  throw new Error(
    `Kafka broker not reachable (${failures.join('; ') || 'KAFKA_BROKERS is empty'}). ` +
      'These integration tests need a real broker: run `bash infra/kafka/kafka.sh start` ' +
      '(or point KAFKA_BROKERS at one).',
  );
}

export const rawKafka = new Kafka({
  brokers: BROKERS,
  clientId: `bus-it-raw-${RUN_ID}`,
  logLevel: logLevel.WARN,
});

export async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = rawKafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Writes records as-is (e.g. a value that is not JSON), bypassing the Bus. */
export async function produceRaw(topic: string, messages: Array<{ key: string; value: string }>): Promise<void> {
  const producer = rawKafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/** Deletes every topic this run created. */
export async function deleteRunTopics(): Promise<void> {
  await withAdmin(async (admin) => {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(RUN_PREFIX));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  });
}

/**
 * Polls until `condition` holds: bounded waiting for asynchronous delivery, not a sleep.
 * Fails with `what` and the last observed state after timeoutMs.
 */
export async function waitFor(
  what: string,
  condition: () => boolean,
  { timeoutMs = 20_000, intervalMs = 25, state }: { timeoutMs?: number; intervalMs?: number; state?: () => unknown } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      const seen = state ? ` Last state: ${JSON.stringify(state())}` : '';
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
