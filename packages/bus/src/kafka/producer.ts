/** KafkaBus's producer side: the records it writes, and the one producer that writes them. */
import { type IHeaders, type Kafka, Partitioners, type Producer } from 'kafkajs';
import type { OutgoingMessage } from '../bus.ts';

export interface ProducerRecord {
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: IHeaders;
}

/** The port's messages as records: each value as JSON (its `json` when given). */
export function toRecords(messages: readonly OutgoingMessage[]): ProducerRecord[] {
  return messages.map((m) => {
    const json = m.json ?? JSON.stringify(m.value);
    if (json === undefined) {
      throw new TypeError(`KafkaBus.publish: value for key "${m.key}" is not JSON-serialisable`);
    }
    return { key: m.key, value: json };
  });
}

/** One idempotent producer (acks=all), connected on first use. */
export class KafkaProducer {
  private producer: Promise<Producer> | undefined;

  constructor(private readonly kafka: Kafka) {}

  async send(physicalTopic: string, messages: ProducerRecord[]): Promise<void> {
    const producer = await this.connected();
    await producer.send({ topic: physicalTopic, acks: -1, messages });
  }

  /** Disconnects the producer if it ever connected; rejects only if that disconnect fails. */
  async close(): Promise<void> {
    const producer = await this.producer?.catch(() => undefined); // never connected: nothing to do
    this.producer = undefined;
    if (producer) await producer.disconnect();
  }

  private connected(): Promise<Producer> {
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
}
