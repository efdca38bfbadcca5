/** 通报候选 and 约谈候选 for a month, quarter or year: GET /api/stats/candidates. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { DEFAULT_JURISDICTION, DEFAULT_LADDER_PACK, interviewRuleFor, periodOf, periodRange } from '@huiying/domain';
import { loadInterviewCandidates, loadReportCandidates } from '@huiying/engine';
import { ApiError, READERS } from '@huiying/http';
import type { FastifyPluginAsync } from 'fastify';
import { statsHelpers, type StatsRoutesOptions } from './route-context.ts';
import { errors, InterviewCandidateView, Iso, ReportCandidateView } from './views.ts';

/** 通报候选 returned by default (candidates longest first); the totals count all. */
const CANDIDATES_LIMIT = 200;

export const candidateRoutes: FastifyPluginAsync<StatsRoutesOptions> = async (
  fastify,
  { db, clock, interview = DEFAULT_LADDER_PACK.interview },
) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { context } = statsHelpers(db, clock);
  /** The 约谈 rules now: those of the rule pack in force when `interview` asks the pack. */
  const rulesNow = () => (typeof interview === 'function' ? interview() : interview);

  app.get(
    '/api/stats/candidates',
    {
      config: { access: READERS },
      schema: {
        tags: ['stats'],
        summary: '通报候选与约谈候选：超时后仍未回应、已提请领导的事项；一个周期内多次超时的单位',
        description:
          '通报候选: incidents and duties whose ladder step marked as a 通报 candidate (the leaders’ step) fell due in the period ' +
          'while still without a qualifying response. 约谈候选: units with at least the rule’s number of breaches in one of ' +
          'the rule’s periods overlapping the period. A unit user sees its own unit only.',
        querystring: Type.Object(
          {
            period: Type.Optional(
              Type.String({
                pattern: '^\\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$',
                description: "YYYY-MM, YYYY-Qn or YYYY (Asia/Shanghai); default: the 约谈 rule's period holding now",
              }),
            ),
            unit: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'unit id' })),
            limit: Type.Optional(
              Type.Integer({
                minimum: 1,
                maximum: 1000,
                description: `通报候选 returned at most (candidates longest first; default ${CANDIDATES_LIMIT}); each 约谈候选 lists at most this many of its breaches`,
              }),
            ),
            offset: Type.Optional(
              Type.Integer({
                minimum: 0,
                maximum: 10_000_000,
                description: '通报候选 skipped before the first returned (a page of the list, in the same order; default 0)',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            period: Type.Object({ key: Type.String(), from: Iso, to: Iso, label: Type.String() }),
            generatedAt: Iso,
            rule: Type.Object({ breaches: Type.Integer(), period: Type.String() }),
            /** All 通报候选 of the period, also when `reports` holds only the first `limit`. */
            reportTotal: Type.Integer(),
            /** 通报候选 per unit, most first (every candidate counted). */
            reportsByUnit: Type.Array(
              Type.Object({
                unit: Type.Union([Type.Object({ id: Type.String(), name: Type.String() }), Type.Null()]),
                count: Type.Integer(),
              }),
            ),
            reports: Type.Array(ReportCandidateView),
            interviews: Type.Array(InterviewCandidateView),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      // One reading of the pack in force for the whole answer; the deployment's own jurisdiction's
      // rule gives the period's default granularity and the rule shown.
      const rules = rulesNow();
      const rule = interviewRuleFor(rules, DEFAULT_JURISDICTION);
      const { period: key = periodOf(clock.now(), rule.period), unit, limit = CANDIDATES_LIMIT, offset = 0 } = request.query;
      const c = await context(request, unit === undefined ? {} : { unit });
      if (unit === 'none') throw new ApiError('HY_NOT_FOUND', 'unit none not found');
      const range = periodRange(key);
      if (range === null) throw new ApiError('HY_VALIDATION', 'querystring/period is not a month, quarter or year');
      const now = clock.now();
      const unitId = c.scope.unitId ?? unit;
      const q = { now, from: range.from, to: range.to, ...(unitId !== undefined ? { unitId } : {}) };
      const [reports, interviews] = [await loadReportCandidates(db, q), await loadInterviewCandidates(db, rules, q)];
      const iso = (ms: number) => new Date(ms).toISOString();
      return {
        period: { key, from: iso(range.from), to: iso(range.to), label: candidatePeriodLabel(key) },
        generatedAt: iso(now),
        rule: { breaches: rule.breaches, period: rule.period },
        reportTotal: reports.length,
        reportsByUnit: [
          ...reports
            .reduce((m, r) => {
              const k = r.unit?.id ?? '';
              const e = m.get(k) ?? { unit: r.unit, count: 0 };
              e.count++;
              return m.set(k, e);
            }, new Map<string, { unit: (typeof reports)[number]['unit']; count: number }>())
            .values(),
        ].sort((a, b) => b.count - a.count || (a.unit?.id ?? '').localeCompare(b.unit?.id ?? '')),
        // A year of a large jurisdiction can hold hundreds of thousands: `limit` of them from `offset` (candidates since longest first).
        reports: reports.slice(offset, offset + limit).map((r) => ({
          ...r,
          dueAt: iso(r.dueAt),
          respondedAt: r.respondedAt === null ? null : iso(r.respondedAt),
          candidateAt: iso(r.candidateAt),
        })),
        interviews: interviews.map((i) => ({
          unit: i.unit,
          period: i.period,
          rule: { breaches: i.rule.breaches, period: i.rule.period },
          breachCount: i.breaches.length,
          breaches: i.breaches.slice(0, limit).map((b) => ({ ...b, dueAt: b.dueAt === null ? null : iso(b.dueAt), at: iso(b.at) })),
        })),
      };
    },
  );
};

/** 2026年第四季度 / 2026年11月 / 2026年. */
function candidatePeriodLabel(key: string): string {
  const [y, rest] = key.split('-');
  if (rest === undefined) return `${y}年`;
  if (rest.startsWith('Q')) return `${y}年第${'一二三四'[Number(rest.slice(1)) - 1]}季度`;
  return `${y}年${Number(rest)}月`;
}
