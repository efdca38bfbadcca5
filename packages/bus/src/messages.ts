import { FormatRegistry, type Static, type TSchema, Type } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';

/**
 * Message schemas on the bus. Every message carries `v` (schema version) and `type`; a
 * consumer validates at the edge and dead-letters what it cannot read. A new incompatible
 * shape is a new version (and, when consumers must tell them apart, a new topic `.v2`).
 */
const Iso = Type.String({ format: 'date-time' });

export const SignalMessage = Type.Object({
  v: Type.Literal(1),
  type: Type.Literal('signal'),
  id: Type.String({ minLength: 1 }),
  source: Type.Union([Type.Literal('feed'), Type.Literal('hotline'), Type.Literal('manual')]),
  sourceRef: Type.String({ minLength: 1 }),
  feedId: Type.Optional(Type.String()),
  // No title, content or URL: the citizen's text stays in PostgreSQL (ingest stores the signal
  // before publishing; the engine reads what grouping needs from that row). Older messages that
  // still carry them are accepted and the extra fields ignored. sourceRef (a 12345 ticket id),
  // area, category and unitHint are identifiers and classifications, as the hotline system wrote
  // them unless one held personal data: ingest masks that (services/ingest tickets.ts toSignal).
  area: Type.Optional(Type.String()),
  category: Type.Optional(Type.String()),
  unitHint: Type.Optional(Type.String()),
  publishedAt: Type.Optional(Iso),
  receivedAt: Iso,
});
export type SignalMessage = Static<typeof SignalMessage>;

/** One engine outcome (replay.md's event kinds) for one incident or obligation, as emitted live. */
export const EventMessage = Type.Object({
  v: Type.Literal(1),
  type: Type.Literal('event'),
  id: Type.String({ minLength: 1 }),
  event: Type.String({ minLength: 1 }),
  at: Iso,
  incidentId: Type.Optional(Type.String()),
  obligationId: Type.Optional(Type.String()),
  clock: Type.Optional(Type.String()),
  due: Type.Optional(Iso),
  elapsed: Type.Optional(Type.Number()),
  respondedAt: Type.Optional(Iso),
  late: Type.Optional(Type.Boolean()),
  reason: Type.Optional(Type.String()),
  kind: Type.Optional(Type.String()),
  alertId: Type.Optional(Type.String()),
  unitId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  title: Type.Optional(Type.String()),
});
export type EventMessage = Static<typeof EventMessage>;

export class InvalidMessage extends Error {
  override name = 'InvalidMessage';
}

const isoDate = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (v) => isoDate.test(v) && !Number.isNaN(Date.parse(v)));
}

/** Each schema's checker, compiled once: the engine checks every signal message it consumes. */
const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

export function parseMessage<S extends TSchema>(schema: S, value: unknown): Static<S> {
  let check = compiled.get(schema) as TypeCheck<S> | undefined;
  if (!check) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  if (check.Check(value)) return value;
  const first = Value.Errors(schema, value).First();
  throw new InvalidMessage(first ? `${first.path || '(root)'}: ${first.message}` : 'invalid message');
}
