import { Type } from '@sinclair/typebox';

const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const Level = Type.Union([Type.Literal('I'), Type.Literal('II'), Type.Literal('III'), Type.Literal('IV')]);

export const ClockView = Type.Object({
  seq: Type.Integer(),
  kind: Type.String(),
  state: Type.String(),
  startAt: Iso,
  dueAt: Iso,
  respondedAt: Nullable(Iso),
  late: Type.Union([Type.Boolean(), Type.Null()]),
});

export const IncidentView = Type.Object({
  id: Type.String(),
  title: Type.String(),
  level: Type.Union([Level, Type.Null()]),
  unit: Type.Union([Type.Object({ id: Type.String(), name: Type.String() }), Type.Null()]),
  status: Type.String(),
  startAt: Iso,
  clocks: Type.Array(ClockView),
  updatedAt: Iso,
});

export const AlertView = Type.Object({
  id: Type.String(),
  incidentId: Nullable(Type.String()),
  obligationId: Nullable(Type.String()),
  incidentTitle: Type.String(),
  kind: Type.String(),
  clock: Nullable(Type.String()),
  dueAt: Nullable(Iso),
  elapsed: Type.Union([Type.Number(), Type.Null()]),
  at: Iso,
  acknowledgedAt: Nullable(Iso),
  acknowledgedBy: Nullable(Type.String()),
  retractedAt: Nullable(Iso),
});

export const ErrorBody = Type.Object({ code: Type.String(), message: Type.String() });
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 100 }) });

export const GradeBody = Type.Object(
  { level: Level, unit: Type.Optional(Type.String({ minLength: 1 })), by: Type.Optional(Type.String({ maxLength: 100 })) },
  { additionalProperties: false },
);
export const AssignBody = Type.Object(
  { unit: Type.String({ minLength: 1 }), by: Type.Optional(Type.String({ maxLength: 100 })) },
  { additionalProperties: false },
);
export const OccurredBody = Type.Object(
  { occurredAt: Iso, by: Type.Optional(Type.String({ maxLength: 100 })) },
  { additionalProperties: false },
);
export const DismissBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 500 }), by: Type.Optional(Type.String({ maxLength: 100 })) },
  { additionalProperties: false },
);
export const ResponseBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('release'), Type.Literal('press_conference'), Type.Literal('reply')]),
    original: Type.Boolean({ description: '原创 (true) or 转载 repost (false): a repost meets no clock' }),
    publishedAt: Type.Optional(Iso),
    url: Type.Optional(Type.String({ maxLength: 2000 })),
    channel: Type.Optional(Type.String({ maxLength: 200 })),
    unit: Type.Optional(Type.String({ maxLength: 100 })),
    by: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);
export const AckBody = Type.Object({ by: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false });

export const SignalBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 500 }),
    url: Type.Optional(Type.String({ maxLength: 2000 })),
    publishedAt: Type.Optional(Iso),
    by: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);
