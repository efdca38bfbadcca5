/**
 * 通报 and 约谈 candidates (issue 10, steps 4 and 5), one query for every reader: the leaders'
 * daily and weekly digests (digest.ts) and the leaders' statistics (services/api stats routes,
 * the 通报 draft).
 *
 * 通报: a clock whose ladder snapshot has a breach step marked `reportCandidate` (the default
 * ladders: the leaders' step, 4 h after the due of the 5 h and 24 h clocks, 12 h for the 48 h
 * clock and working-day duties) and that was still without a qualifying response when that step
 * fell due — decided by the domain (`reportCandidacy`), from the clock's own snapshot, so a
 * jurisdiction changing its ladder changes no past candidate, and independent of whether anyone
 * had an address for the step's messages. It became a candidate at the step's instant; a period
 * lists the candidates that became one in it.
 *
 * 约谈: a unit with at least `rule.breaches` breaches (breach alerts not retracted, counted for the
 * unit responsible when the breach happened) in one of the rule's periods (month, quarter, year,
 * Asia/Shanghai). A report period lists the rule periods overlapping it, each with its breaches.
 * The rule is that of the unit's jurisdiction (units.jurisdiction; the rule pack's overrides).
 *
 * Periods here are [from, to) on the instant (as `periodOf` assigns instants to periods).
 */
import { type DbOrTx, rowsOf, sql } from '@huiying/db';
import {
  type ClockState,
  DEFAULT_JURISDICTION,
  interviewGroupsByJurisdiction,
  type InterviewRule,
  type InterviewRules,
  interviewWindow,
  type Ladder,
  reportCandidacy,
} from '@huiying/domain';

export interface CandidateUnit {
  id: string;
  name: string;
}

export interface ReportCandidate {
  source: 'incident' | 'duty';
  /** Incident id or duty id. */
  id: string;
  /** The incident clock's seq; 0 for a duty. */
  seq: number;
  title: string;
  /** Clock kind or duty kind. */
  kind: string;
  level: string | null;
  /** The unit responsible when the breach happened (the breach alert's), else the clock's; null = unassigned. */
  unit: CandidateUnit | null;
  dueAt: number;
  /** Still overdue, or met late (after it became a candidate). */
  state: 'breached' | 'met';
  respondedAt: number | null;
  /** Met: respondedAt − due; still open: now − due. */
  overdueMs: number;
  /** The ladder step that made it a candidate, and when. */
  step: string;
  candidateAt: number;
}

export interface CandidateQuery {
  now: number;
  /** Inclusive; absent = from the beginning. */
  from?: number;
  /** Exclusive; absent = up to now. */
  to?: number;
  /** A unit user's scope: only this unit's candidates. */
  unitId?: string;
}

type Ms = string | Date;
const msOf = (v: Ms | null): number | null => (v === null ? null : new Date(v).getTime());

interface CandidateRow {
  source: 'incident' | 'duty';
  id: string;
  seq: number | string;
  kind: string;
  state: string;
  level: string | null;
  title: string | null;
  unit_id: string | null;
  due_at: Ms;
  responded_at: Ms | null;
  ladder: { ladder?: Ladder; progress?: { since?: number } } | null;
}

/**
 * The 通报 candidates that became one in [from, to) and by `now`, oldest first. The scan reads
 * only the clocks and duties whose candidacy instant (`report_candidacy_at`, written with the
 * row from its ladder snapshot, migration 0029) falls in the period — by its index — and that
 * were still unmet then; the domain decides again from each clock's ladder snapshot.
 */
export async function loadReportCandidates(db: DbOrTx, q: CandidateQuery): Promise<ReportCandidate[]> {
  const now = q.now;
  const to = Math.min(q.to ?? now + 1, now + 1);
  const from = q.from ?? 0;
  if (from >= to) return [];
  const toIso = new Date(to).toISOString();
  const fromIso = new Date(from).toISOString();
  const rows = rowsOf<CandidateRow>(
    await db.execute(sql`
      select 'incident'::text as source, c.incident_id as id, c.seq, c.kind, c.state, i.level, i.title,
        case when b.id is not null then b.unit_id else c.unit_id end as unit_id,
        c.due_at, c.responded_at,
        -- With its snapshot in place, stored inline or by reference (migration 0038).
        clock_ladder_of((select x->'ladder' from jsonb_array_elements(i.state->'clocks') x where (x->>'seq')::int = c.seq limit 1)) as ladder
      from clocks c
        join incidents i on i.id = c.incident_id
        left join alerts b on b.kind = 'breached' and b.incident_id = c.incident_id and b.clock = c.kind and b.due_at = c.due_at
      where c.report_candidacy_at >= ${fromIso}::timestamptz and c.report_candidacy_at < ${toIso}::timestamptz
        and (c.state in ('breached', 'running') or (c.state = 'met' and c.responded_at > c.report_candidacy_at))
      union all
      select 'duty', o.id, 0, o.kind, o.status, null, coalesce(o.title, o.id), o.unit_id,
        o.due_at, to_timestamp((o.state->>'respondedAt')::float8 / 1000), o.state->'ladder'
      from obligations o
      where o.report_candidacy_at >= ${fromIso}::timestamptz and o.report_candidacy_at < ${toIso}::timestamptz
        and (o.status = 'breached'
          -- A suspended count (补正, 征求第三方意见) does not run out while suspended.
          or (o.status = 'running' and jsonb_typeof(o.state->'suspension') is distinct from 'object')
          or (o.status = 'met' and to_timestamp((o.state->>'respondedAt')::float8 / 1000) > o.report_candidacy_at))`),
  );
  const found: (Omit<ReportCandidate, 'unit'> & { unitId: string | null })[] = [];
  for (const r of rows) {
    if (q.unitId !== undefined && r.unit_id !== q.unitId) continue;
    const ladder = r.ladder?.ladder;
    const since = r.ladder?.progress?.since;
    if (!ladder || typeof since !== 'number') continue; // stored before the ladder existed
    const dueAt = new Date(r.due_at).getTime();
    const respondedAt = msOf(r.responded_at);
    const c = reportCandidacy({ state: r.state as ClockState, dueAt, respondedAt }, ladder, since, now);
    if (c === null || c.at < from || c.at >= to) continue;
    const met = r.state === 'met';
    found.push({
      source: r.source,
      id: r.id,
      seq: Number(r.seq),
      title: r.title ?? r.id,
      kind: r.kind,
      level: r.level,
      unitId: r.unit_id,
      dueAt,
      state: met ? 'met' : 'breached',
      respondedAt: met ? respondedAt : null,
      overdueMs: (met && respondedAt !== null ? respondedAt : now) - dueAt,
      step: c.step,
      candidateAt: c.at,
    });
  }
  const names = await unitNames(
    db,
    found.flatMap((f) => (f.unitId === null ? [] : [f.unitId])),
  );
  return found
    .sort((a, b) => a.candidateAt - b.candidateAt || a.dueAt - b.dueAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : a.seq - b.seq))
    .map(({ unitId, ...f }) => ({ ...f, unit: unitId === null ? null : { id: unitId, name: names.get(unitId) ?? unitId } }));
}

export interface InterviewBreach {
  source: 'incident' | 'duty';
  id: string;
  title: string;
  /** The clock or duty kind the breach was of. */
  kind: string | null;
  dueAt: number | null;
  /** When the breach happened (the alert's instant). */
  at: number;
}

export interface InterviewCandidateRow {
  unit: CandidateUnit;
  /** The rule period: '2026-Q4', '2026-11' or '2026'. */
  period: string;
  /** The 约谈 rule of the unit's jurisdiction. */
  rule: InterviewRule;
  breaches: InterviewBreach[];
}

/**
 * 约谈 candidates for the rule periods overlapping [from, to) (by `now`; a period still under way
 * counts its breaches so far), most breaches first.
 */
export async function loadInterviewCandidates(
  db: DbOrTx,
  rules: InterviewRule | InterviewRules,
  q: CandidateQuery & { from: number; to: number },
): Promise<InterviewCandidateRow[]> {
  const window = interviewWindow(rules, q.from, Math.min(q.to, q.now + 1));
  if (window === null) return [];
  const lo = window.from;
  const hi = Math.min(window.to, q.now + 1);
  const rows = rowsOf<{
    unit: string;
    jurisdiction: string;
    at: Ms;
    incident_id: string | null;
    obligation_id: string | null;
    title: string | null;
    kind: string | null;
    due_at: Ms | null;
  }>(
    await db.execute(sql`
      select a.unit_id as unit, coalesce(u.jurisdiction, ${DEFAULT_JURISDICTION}) as jurisdiction, a.at, a.incident_id, a.obligation_id,
        coalesce(i.title, o.title) as title, coalesce(a.clock, o.kind) as kind, a.due_at
      from alerts a
        left join incidents i on i.id = a.incident_id
        left join obligations o on o.id = a.obligation_id
        left join units u on u.id = a.unit_id
      where a.kind = 'breached' and a.retracted_at is null and a.unit_id is not null
        and a.at >= ${new Date(lo).toISOString()}::timestamptz and a.at < ${new Date(hi).toISOString()}::timestamptz
        ${q.unitId !== undefined ? sql`and a.unit_id = ${q.unitId}` : sql``}`),
  );
  const breaches = rows.map((r) => ({
    unit: r.unit,
    jurisdiction: r.jurisdiction,
    at: new Date(r.at).getTime(),
    source: (r.incident_id !== null ? 'incident' : 'duty') as 'incident' | 'duty',
    id: r.incident_id ?? r.obligation_id ?? '',
    title: r.title ?? r.incident_id ?? r.obligation_id ?? '',
    kind: r.kind,
    dueAt: msOf(r.due_at),
  }));
  const groups = interviewGroupsByJurisdiction(breaches, rules, q.from, Math.min(q.to, q.now + 1));
  const names = await unitNames(
    db,
    groups.map((g) => g.unit),
  );
  return groups.map((g) => ({
    unit: { id: g.unit, name: names.get(g.unit) ?? g.unit },
    period: g.period,
    rule: g.rule,
    breaches: g.breaches.map(({ unit: _unit, jurisdiction: _jurisdiction, ...b }) => b),
  }));
}

async function unitNames(db: DbOrTx, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = rowsOf<{ id: string; name: string }>(
    await db.execute(
      sql`select id, name from units where id in (${sql.join(
        [...new Set(ids)].map((id) => sql`${id}`),
        sql`, `,
      )})`,
    ),
  );
  return new Map(rows.map((r) => [r.id, r.name]));
}
