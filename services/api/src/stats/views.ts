/**
 * The request and response schemas of the 领导统计 routes (routes.ts): the filters every route
 * takes, and the views it answers with — in the OpenAPI document as they are validated.
 */
import { type Static, type TLiteral, type TUnion, Type } from '@sinclair/typebox';
import { ErrorBody } from '../schemas.ts';
import { DUTY_KINDS, INCIDENT_KINDS, LEVELS, OUTCOMES } from './queries.ts';

/** A string enum typed as its union (TypeBox's Union over a mapped array loses the literal types). */
export const oneOf = <T extends string>(values: readonly T[], options: { description?: string } = {}) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  ) as unknown as TUnion<TLiteral<T>[]>;
export const Iso = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);

export const FilterQuery = {
  from: Type.Optional(
    Type.String({
      pattern: '^\\d{4}-\\d{2}-\\d{2}([T ].+)?$',
      description: '起 (exclusive) on the due instant: YYYY-MM-DD (start of that day, Asia/Shanghai) or an ISO-8601 instant',
    }),
  ),
  to: Type.Optional(
    Type.String({
      pattern: '^\\d{4}-\\d{2}-\\d{2}([T ].+)?$',
      description: '止 (inclusive) on the due instant: YYYY-MM-DD (the whole of that day, Asia/Shanghai) or an ISO-8601 instant',
    }),
  ),
  month: Type.Optional(
    Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'YYYY-MM: deadlines due in that month (instead of from/to)' }),
  ),
  unit: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: "unit id; 'none' = no responsible unit" })),
  level: Type.Optional(oneOf(LEVELS, { description: 'incident level; excludes working-day duties' })),
  kind: Type.Optional(oneOf([...INCIDENT_KINDS, ...DUTY_KINDS], { description: 'clock kind or working-day duty kind' })),
  source: Type.Optional(
    Type.Union([Type.Literal('incident'), Type.Literal('duty')], { description: 'incident clocks or working-day duties only' }),
  ),
};
export const Filters = Type.Object(FilterQuery, { additionalProperties: false });
/** The drill-down's outcomes, and the same for the export of its items (view=items): the export lists what the drawer shows. */
export const Outcomes = Type.Optional(
  Type.Array(oneOf(OUTCOMES), {
    maxItems: 4,
    description: 'one outcome, or several (repeat the parameter): on_time, late and breached are the 到期 count',
  }),
);
export type FiltersQuery = Static<typeof Filters>;

export const PeriodView = Type.Object({ from: Type.Union([Iso, Type.Null()]), to: Type.Union([Iso, Type.Null()]), label: Type.String() });

/** The medians and p90 are read from per-minute histograms of the rollup (group-stats.ts, rollup.ts). */
const MINUTE_PRECISION =
  'percentile_cont; computed from the statistics rollup over values floored to the minute (a start or end inside a month: those deadlines exactly), so within one minute of the exact value';

export const StatsRowView = Type.Object({
  key: Type.Union([Type.String(), Type.Null()], {
    description: "unit id / level ('ungraded') / kind / 'YYYY-MM' / 'all'; null = no unit (by unit) or duties (by level)",
  }),
  label: Type.String(),
  counted: Type.Integer({ description: 'deadlines that fell due: onTime + late + breached' }),
  onTime: Type.Integer(),
  late: Type.Integer({ description: 'met after the due' }),
  breached: Type.Integer({ description: 'past due, still without a qualifying response' }),
  pending: Type.Integer({ description: 'running, not yet due (not in the rate)' }),
  retracted: Type.Integer({ description: 'on-time deadlines whose breach alert was retracted' }),
  onTimeRate: Nullable(Type.Number({ description: 'onTime / counted' })),
  overdue: Type.Object({
    count: Type.Integer(),
    totalMs: Type.Number(),
    maxMs: Nullable(Type.Number()),
    medianMs: Nullable(Type.Number({ description: MINUTE_PRECISION })),
  }),
  firstResponse: Type.Object({
    incidents: Type.Integer(),
    medianMs: Nullable(Type.Number({ description: MINUTE_PRECISION })),
    p90Ms: Nullable(Type.Number({ description: MINUTE_PRECISION })),
  }),
});
export const RankedView = Type.Intersect([StatsRowView, Type.Object({ rank: Type.Integer() })]);

const UnitRef = Type.Union([Type.Object({ id: Type.String(), name: Type.String() }), Type.Null()]);
/** Which deadline a row is: an incident's clock (id, seq) or a working-day duty, with what names it. */
const DeadlineRef = {
  source: Type.Union([Type.Literal('incident'), Type.Literal('duty')]),
  id: Type.String(),
  seq: Type.Integer(),
  title: Type.String(),
  kind: Type.String(),
  level: Type.Union([Type.String(), Type.Null()]),
  unit: UnitRef,
};

export const ItemView = Type.Object({
  ...DeadlineRef,
  startAt: Iso,
  dueAt: Iso,
  respondedAt: Type.Union([Iso, Type.Null()]),
  outcome: Type.Union([Type.Literal('on_time'), Type.Literal('late'), Type.Literal('breached'), Type.Literal('pending')]),
  overdueMs: Nullable(Type.Number()),
  retracted: Type.Boolean(),
});

export const ReportCandidateView = Type.Object({
  ...DeadlineRef,
  dueAt: Iso,
  state: Type.Union([Type.Literal('breached'), Type.Literal('met')], { description: 'breached: still overdue; met: answered late' }),
  respondedAt: Type.Union([Iso, Type.Null()]),
  overdueMs: Type.Number({ description: 'met: respondedAt − due; breached: now − due' }),
  step: Type.String({ description: 'the ladder step that made it a candidate (its id, e.g. leaders)' }),
  candidateAt: Iso,
});
export const InterviewCandidateView = Type.Object({
  unit: Type.Object({ id: Type.String(), name: Type.String() }),
  period: Type.String({ description: "the 约谈 rule's period: '2026-Q4', '2026-11' or '2026'" }),
  rule: Type.Object(
    { breaches: Type.Integer(), period: Type.String() },
    { description: "the 约谈 rule of the unit's jurisdiction (the rule pack may override it per jurisdiction)" },
  ),
  breachCount: Type.Integer(),
  breaches: Type.Array(
    Type.Object({
      source: Type.Union([Type.Literal('incident'), Type.Literal('duty')]),
      id: Type.String(),
      title: Type.String(),
      kind: Type.Union([Type.String(), Type.Null()]),
      dueAt: Type.Union([Iso, Type.Null()]),
      at: Iso,
    }),
  ),
});

export const errors = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody };
export const Figures = (items: ReturnType<typeof Type.Array>) => Type.Object({ period: PeriodView, generatedAt: Iso, items });
export const binary = (type: string, description: string) => ({
  description,
  content: { [type]: { schema: Type.String({ format: 'binary' }) } },
});

export const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
export const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
