import { type TSchema, Type } from '@sinclair/typebox';

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
  unitId: Nullable(Type.String()),
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

export const GradeBody = Type.Object({ level: Level, unit: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false });
export const AssignBody = Type.Object({ unit: Type.String({ minLength: 1 }) }, { additionalProperties: false });
export const OccurredBody = Type.Object({ occurredAt: Iso }, { additionalProperties: false });
export const DismissBody = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false });
export const ResponseBody = Type.Object(
  {
    kind: Type.Union([Type.Literal('release'), Type.Literal('press_conference'), Type.Literal('reply')]),
    original: Type.Boolean({ description: '原创 (true) or 转载 repost (false): a repost meets no clock' }),
    publishedAt: Type.Optional(Iso),
    url: Type.Optional(Type.String({ maxLength: 2000 })),
    channel: Type.Optional(Type.String({ maxLength: 200 })),
    unit: Type.Optional(Type.String({ maxLength: 100 })),
  },
  { additionalProperties: false },
);

export const SignalBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 500 }),
    url: Type.Optional(Type.String({ maxLength: 2000 })),
    publishedAt: Type.Optional(Iso),
  },
  { additionalProperties: false },
);

export const UnitRef = Type.Object({ id: Type.String(), name: Type.String() });

export const PageQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
};

/**
 * Paging for lists a console shows whole when they are small (administration, candidate
 * responses): the same page/pageSize as PageQuery, a larger default page, and a total.
 */
export const LongPageQuery = {
  page: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 200 })),
};

/** The page a list query asks for (defaults as in LongPageQuery), with its row offset. */
export function pageOf(q: { page?: number | undefined; pageSize?: number | undefined }): {
  page: number;
  pageSize: number;
  offset: number;
} {
  const page = q.page ?? 1;
  const pageSize = q.pageSize ?? 200;
  return { page, pageSize, offset: (page - 1) * pageSize };
}

/** A list's text filter: a substring of its names (case-insensitive), or an exact id. */
export const TextQuery = (description: string) => ({ q: Type.Optional(Type.String({ maxLength: 200, description })) });

/** An ILIKE pattern matching `q` anywhere, with `%`, `_` and `\\` taken literally. */
export const likeOf = (q: string): string => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export const Paged = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), total: Type.Integer(), page: Type.Integer(), pageSize: Type.Integer() });

export const IncidentQuery = Type.Object(
  {
    status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('closed')])),
    level: Type.Optional(Type.Union([Level, Type.Literal('ungraded')])),
    unit: Type.Optional(Type.String({ maxLength: 100 })),
    unassigned: Type.Optional(Type.Boolean({ description: 'only incidents with no responsible unit yet (未指派)' })),
    clock: Type.Optional(Type.String({ maxLength: 50, description: 'response | release | press_conference' })),
    state: Type.Optional(Type.String({ maxLength: 20, description: 'a clock state: running | breached | met | cancelled | waived' })),
    from: Type.Optional(Iso),
    to: Type.Optional(Iso),
    q: Type.Optional(Type.String({ maxLength: 200, description: "text in the title or the responsible unit's name, or the incident id" })),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const AlertQuery = Type.Object(
  {
    open: Type.Optional(Type.Boolean()),
    kind: Type.Optional(Type.String({ maxLength: 50 })),
    unit: Type.Optional(Type.String({ maxLength: 100 })),
    from: Type.Optional(Iso),
    to: Type.Optional(Iso),
    q: Type.Optional(Type.String({ maxLength: 200 })),
    ...PageQuery,
  },
  { additionalProperties: false },
);

export const Timeline = Type.Object({
  incident: IncidentView,
  signals: Type.Array(
    Type.Object({
      id: Type.String(),
      source: Type.String(),
      title: Nullable(Type.String()),
      content: Type.Union([Type.String(), Type.Null()], { description: '12345 ticket text: duty officers only' }),
      url: Nullable(Type.String()),
      area: Nullable(Type.String()),
      category: Nullable(Type.String()),
      feedId: Nullable(Type.String()),
      publishedAt: Nullable(Iso),
      receivedAt: Iso,
      grouping: Type.Object(
        {
          decision: Nullable(Type.String({ description: 'opened | joined | promoted | attached' })),
          reason: Nullable(Type.String({ description: 'link | ticket_matter | similar_text | new_matter | manual | before_grouping' })),
          ruleId: Nullable(Type.String()),
          ruleName: Nullable(Type.String()),
          score: Type.Union([Type.Number(), Type.Null()], { description: 'bigram similarity to the signal it was grouped with' }),
          via: Nullable(Type.String({ description: 'the signal it was grouped with (or the closest one when it opened)' })),
          decidedAt: Nullable(Iso),
        },
        { description: '归并决定 why this signal belongs to the incident' },
      ),
    }),
  ),
  responses: Type.Array(
    Type.Object({
      id: Type.String(),
      kind: Type.String(),
      original: Type.Boolean(),
      qualifies: Type.Boolean({ description: 'an original response counts; a repost (转载) does not' }),
      publishedAt: Iso,
      recordedAt: Iso,
      unitId: Nullable(Type.String()),
      channel: Nullable(Type.String()),
      url: Nullable(Type.String()),
      recordedBy: Nullable(Type.String()),
    }),
  ),
  alerts: Type.Array(AlertView),
  mails: Type.Array(
    Type.Object({
      id: Type.String(),
      to: Type.String(),
      subject: Type.String(),
      status: Type.String(),
      attempts: Type.Integer(),
      messageId: Nullable(Type.String()),
      createdAt: Iso,
      sentAt: Nullable(Iso),
      lastError: Nullable(Type.String()),
    }),
  ),
  audit: Type.Array(
    Type.Object({
      id: Type.Integer(),
      at: Iso,
      actor: Type.String(),
      action: Type.String(),
      entity: Type.String(),
      entityId: Type.String(),
      clock: Nullable(Type.String({ description: 'the clock of a clock.* entry (response | release | press_conference)' })),
      commands: Type.Array(
        Type.Object({
          type: Type.String({ description: 'grade | assign | occurred | dismiss | response | signal' }),
          level: Nullable(Type.String({ description: 'a grade command: I | II | III | IV' })),
          unit: Type.Union([Type.Object({ id: Type.String(), name: Type.String() }), Type.Null()], {
            description: 'grade or assign: the unit given the incident',
          }),
        }),
        {
          description:
            'the incident commands behind an incident entry (a grading, an assignment …): their type, level and unit only — ' +
            'no signal text or citizen data',
        },
      ),
    }),
  ),
});

export const Role = Type.Union([Type.Literal('duty'), Type.Literal('unit'), Type.Literal('leader'), Type.Literal('admin')]);

export const UserView = Type.Object({
  id: Type.String(),
  username: Type.String(),
  displayName: Type.String(),
  role: Role,
  unit: Type.Union([UnitRef, Type.Null()]),
});

export const Me = Type.Object({ user: UserView, csrfToken: Type.String({ description: 'send as x-csrf-token on every change' }) });

/** A conditional GET whose If-None-Match names the current page's ETag: no body. */
export const NotModified = Type.Null({ description: 'Not Modified: the page named by If-None-Match is current' });
