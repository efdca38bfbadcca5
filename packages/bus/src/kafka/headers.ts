/**
 * Record headers: what KafkaBus hands to handlers beside the port's message, and the headers
 * of the copies it writes to the dead-letter topic (written by the consumer side, read back
 * with deadLetterInfo()).
 */
import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { IncomingMessage } from '../bus.ts';
import { errorMessage } from './config.ts';

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

/** Where a dead-lettered message was read, and why it failed. */
export interface DeadLetterSource {
  physical: string;
  partition: number;
  groupId: string;
  error: unknown;
  attempts: number;
}

/** Header values must stay small; error messages can be long. */
const MAX_HEADER_CHARS = 2_000;

/** The headers of a message's dead-letter copy: its own, plus the x-dlq-* ones. */
export function deadLetterHeaders(message: KafkaMessage, reason: DeadLetterReason, info: DeadLetterSource): IHeaders {
  return {
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
}

/** A record's headers as strings (the last value of a repeated header). */
export function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) out[name] = last.toString();
  }
  return out;
}
