/** KafkaBus's admin side: creating the topics it uses, deleting a subscription's own group. */
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';

/** Creates those of the (physical) topics that do not exist yet. */
export async function createMissingTopics(
  kafka: Kafka,
  wanted: readonly string[],
  o: { partitions: number; replicationFactor: number | undefined; logger: Logger },
): Promise<void> {
  if (wanted.length === 0) return;
  const admin: Admin = kafka.admin();
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
          numPartitions: o.partitions,
          ...(o.replicationFactor === undefined ? {} : { replicationFactor: o.replicationFactor }),
        })),
      });
      o.logger.info({ topics: missing, partitions: o.partitions }, 'created topics');
    }
  } finally {
    await admin.disconnect();
  }
}

/** Deletes an empty consumer group and its committed offsets (a group with members is refused by the broker). */
export async function deleteGroup(kafka: Kafka, groupId: string): Promise<void> {
  const admin: Admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteGroups([groupId]);
  } finally {
    await admin.disconnect();
  }
}
