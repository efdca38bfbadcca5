import {
  type Db,
  emails,
  eq,
  incidents,
  monitoringRules,
  notificationsFor,
  responses,
  rowsOf,
  type SQL,
  signals,
  sql,
  units,
} from '@huiying/db';
import type { IncidentState } from '@huiying/domain';
import { incidentView } from '@huiying/engine';
import type { Scope } from '@huiying/identity';

const iso = (d: Date | number | string | null) => (d === null ? null : new Date(d).toISOString());

export interface Page {
  page: number;
  pageSize: number;
}

export interface IncidentFilters extends Page {
  status?: 'open' | 'closed' | undefined;
  level?: 'I' | 'II' | 'III' | 'IV' | 'ungraded' | undefined;
  unit?: string | undefined;
  /** Only incidents with no responsible unit yet (未指派). */
  unassigned?: boolean | undefined;
  clock?: string | undefined;
  state?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  q?: string | undefined;
}

/** `like` with the user's text taken literally. */
const likeOf = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function incidentWhere(scope: Scope, f: Omit<IncidentFilters, keyof Page>): SQL {
  const parts: SQL[] = [sql`true`];
  if (scope.unitId !== null) parts.push(sql`i.unit_id = ${scope.unitId}`);
  if (f.status) parts.push(sql`i.status = ${f.status}`);
  if (f.level === 'ungraded') parts.push(sql`i.level is null`);
  else if (f.level) parts.push(sql`i.level = ${f.level}`);
  if (f.unit) parts.push(sql`i.unit_id = ${f.unit}`);
  if (f.unassigned) parts.push(sql`i.unit_id is null`);
  if (f.clock || f.state)
    parts.push(
      sql`exists (select 1 from clocks c where c.incident_id = i.id ${f.clock ? sql`and c.kind = ${f.clock}` : sql``} ${f.state ? sql`and c.state = ${f.state}` : sql``})`,
    );
  if (f.from !== undefined) parts.push(sql`i.start_at >= ${new Date(f.from).toISOString()}`);
  if (f.to !== undefined) parts.push(sql`i.start_at < ${new Date(f.to).toISOString()}`);
  if (f.q)
    parts.push(
      sql`(i.title ilike ${likeOf(f.q)} or i.id = ${f.q} or exists (select 1 from units qu where qu.id = i.unit_id and qu.name ilike ${likeOf(f.q)}))`,
    );
  return sql.join(parts, sql` and `);
}

/**
 * Incidents a caller may see, most urgent first: those with a breached clock, longest overdue
 * first, then the soonest due running clock, then the rest by last change.
 */
export async function listIncidents(db: Db, scope: Scope, f: IncidentFilters) {
  const where = incidentWhere(scope, f);
  const [rows, count] = await Promise.all([
    db.execute(sql`
      select i.state, i.updated_at, u.name as unit_name
      from incidents i
      left join units u on u.id = i.unit_id
      where ${where}
      order by i.urgent_due asc nulls last, i.updated_at desc, i.id
      limit ${f.pageSize} offset ${(f.page - 1) * f.pageSize}`),
    db.execute(sql`select count(*)::int as n from incidents i where ${where}`),
  ]);
  // A record the engine had to set aside (quarantined, see fireDue) must not take the whole board down.
  const items = rowsOf<{ state: IncidentState; updated_at: string | Date; unit_name: string | null }>(rows).flatMap((r) => {
    try {
      return [toIncidentDto(r.state, new Date(r.updated_at), r.unit_name)];
    } catch {
      return [];
    }
  });
  return { items, total: rowsOf<{ n: number }>(count)[0]?.n ?? 0, page: f.page, pageSize: f.pageSize };
}

/** The incident's row, whoever may see it (callers check the scope with `unitId`). */
export async function getIncident(db: Db, id: string) {
  const [r] = await db
    .select({ state: incidents.state, updatedAt: incidents.updatedAt, unitName: units.name, unitId: incidents.unitId })
    .from(incidents)
    .leftJoin(units, eq(units.id, incidents.unitId))
    .where(eq(incidents.id, id));
  return r ? { unitId: r.unitId, view: toIncidentDto(r.state as IncidentState, r.updatedAt, r.unitName) } : undefined;
}

export function toIncidentDto(state: IncidentState, updatedAt: Date, unitName: string | null) {
  const v = incidentView(state);
  return {
    id: v.id,
    title: v.title,
    level: v.level,
    unit: v.unitId ? { id: v.unitId, name: unitName ?? v.unitId } : null,
    status: v.status,
    startAt: iso(v.startAt)!,
    clocks: v.clocks.map((c) => ({ ...c, startAt: iso(c.startAt)!, dueAt: iso(c.dueAt)!, respondedAt: iso(c.respondedAt) })),
    updatedAt: updatedAt.toISOString(),
  };
}

export interface AlertFilters extends Page {
  open?: boolean | undefined;
  kind?: string | undefined;
  unit?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  q?: string | undefined;
}

function alertWhere(scope: Scope, f: Omit<AlertFilters, keyof Page>): SQL {
  const parts: SQL[] = [sql`true`];
  // A unit sees the alerts raised against it, and those on incidents and duties it now holds.
  if (scope.unitId !== null) parts.push(sql`(a.unit_id = ${scope.unitId} or i.unit_id = ${scope.unitId} or o.unit_id = ${scope.unitId})`);
  if (f.open) parts.push(sql`a.acknowledged_at is null and a.retracted_at is null`);
  if (f.kind) parts.push(sql`a.kind = ${f.kind}`);
  if (f.unit) parts.push(sql`coalesce(a.unit_id, i.unit_id, o.unit_id) = ${f.unit}`);
  if (f.from !== undefined) parts.push(sql`a.at >= ${new Date(f.from).toISOString()}`);
  if (f.to !== undefined) parts.push(sql`a.at < ${new Date(f.to).toISOString()}`);
  if (f.q) parts.push(sql`coalesce(i.title, o.title, a.title, '') ilike ${likeOf(f.q)}`);
  return sql.join(parts, sql` and `);
}

const ALERT_SELECT = sql`
  select a.id, a.incident_id, a.obligation_id, a.kind, a.clock, a.due_at, a.elapsed, a.at,
         a.acknowledged_at, a.acknowledged_by, a.retracted_at,
         coalesce(a.unit_id, i.unit_id, o.unit_id) as unit_id,
         coalesce(i.title, o.title, fd.name, a.title, a.obligation_id, a.incident_id, a.feed_id, '') as title
  from alerts a
  left join incidents i on i.id = a.incident_id
  left join obligations o on o.id = a.obligation_id
  left join feeds fd on fd.id = a.feed_id`;

interface AlertRow {
  id: string;
  incident_id: string | null;
  obligation_id: string | null;
  kind: string;
  clock: string | null;
  due_at: string | Date | null;
  elapsed: number | null;
  at: string | Date;
  acknowledged_at: string | Date | null;
  acknowledged_by: string | null;
  retracted_at: string | Date | null;
  unit_id: string | null;
  title: string;
}

function toAlertDto(r: AlertRow) {
  return {
    id: r.id,
    incidentId: r.incident_id,
    obligationId: r.obligation_id,
    incidentTitle: r.title,
    unitId: r.unit_id,
    kind: r.kind,
    clock: r.clock,
    dueAt: iso(r.due_at),
    elapsed: r.elapsed,
    at: iso(r.at)!,
    acknowledgedAt: iso(r.acknowledged_at),
    acknowledgedBy: r.acknowledged_by,
    retractedAt: iso(r.retracted_at),
  };
}

export type AlertDto = ReturnType<typeof toAlertDto>;

/** Open before settled; breaches before warnings, longest overdue first; then newest. */
export async function listAlerts(db: Db, scope: Scope, f: AlertFilters) {
  const where = alertWhere(scope, f);
  const [rows, count] = await Promise.all([
    db.execute(sql`${ALERT_SELECT} where ${where}
      order by (a.acknowledged_at is null and a.retracted_at is null) desc,
               case a.kind when 'breached' then 0 when 'warning' then 1 else 2 end,
               a.due_at asc nulls last, a.at desc, a.id
      limit ${f.pageSize} offset ${(f.page - 1) * f.pageSize}`),
    db.execute(sql`select count(*)::int as n from alerts a
      left join incidents i on i.id = a.incident_id
      left join obligations o on o.id = a.obligation_id where ${where}`),
  ]);
  return {
    items: rowsOf<AlertRow>(rows).map(toAlertDto),
    total: rowsOf<{ n: number }>(count)[0]?.n ?? 0,
    page: f.page,
    pageSize: f.pageSize,
  };
}

/** The alert with the unit it concerns (for the caller's scope check). */
export async function getAlert(db: Db, id: string): Promise<AlertDto | undefined> {
  const [r] = rowsOf<AlertRow>(await db.execute(sql`${ALERT_SELECT} where a.id = ${id}`));
  return r ? toAlertDto(r) : undefined;
}

/** May a caller with this scope see a record of this unit? */
export function visible(scope: Scope, unitId: string | null | undefined): boolean {
  return scope.unitId === null || scope.unitId === unitId;
}

interface AuditRow {
  id: number | string;
  at: string | Date;
  actor: string;
  action: string;
  entity: string;
  entity_id: string;
  clock: string | null;
  commands: { type: string; level: string | null; unit: string | null; unitName: string | null }[] | null;
}

/** Everything that happened to one incident, for its page. Citizens' ticket text only for duty officers. */
export async function incidentTimeline(db: Db, id: string, withContent: boolean) {
  const [sigs, resps, alertRows, mails, auditRows, notifications] = await Promise.all([
    db
      .select({
        id: signals.id,
        source: signals.source,
        title: signals.title,
        content: signals.content,
        url: signals.url,
        area: signals.area,
        category: signals.category,
        publishedAt: signals.publishedAt,
        receivedAt: signals.receivedAt,
        feedId: signals.feedId,
        decision: signals.decision,
        decisionReason: signals.decisionReason,
        ruleId: signals.ruleId,
        ruleName: monitoringRules.name,
        decisionScore: signals.decisionScore,
        decisionVia: signals.decisionVia,
        decidedAt: signals.decidedAt,
      })
      .from(signals)
      .leftJoin(monitoringRules, eq(monitoringRules.id, signals.ruleId))
      .where(eq(signals.incidentId, id))
      .orderBy(signals.publishedAt),
    db.select().from(responses).where(eq(responses.incidentId, id)).orderBy(responses.publishedAt),
    db.execute(sql`${ALERT_SELECT} where a.incident_id = ${id} order by a.at`),
    db
      .select({
        id: emails.id,
        to: emails.to,
        subject: emails.subject,
        status: emails.status,
        attempts: emails.attempts,
        messageId: emails.messageId,
        createdAt: emails.createdAt,
        sentAt: emails.sentAt,
        lastError: emails.lastError,
      })
      .from(emails)
      .where(eq(emails.incidentId, id))
      .orderBy(emails.createdAt),
    // An incident entry's input is the command (or signal, or both when a ticket opens an assigned
    // incident) that caused it: only its type, level and unit leave the database — a signal's input
    // carries its title, and the timeline shows signals from their own rows, for whoever may see them.
    db.execute(sql`
      select a.id, a.at, a.actor, a.action, a.entity, a.entity_id,
        case when a.action like 'clock.%' then a.result ->> 'clock' end as clock,
        case when a.entity = 'incident' then (
          select coalesce(jsonb_agg(jsonb_build_object('type', c ->> 'type', 'level', c ->> 'level', 'unit', c ->> 'unit',
            'unitName', u.name) order by n), '[]'::jsonb)
          from jsonb_array_elements(case jsonb_typeof(a.input) when 'array' then a.input when 'object' then jsonb_build_array(a.input)
            else '[]'::jsonb end) with ordinality as x(c, n)
          left join units u on u.id = c ->> 'unit'
          where jsonb_typeof(c) = 'object' and c ->> 'type' is not null
        ) end as commands
      from audit_log a
      where (a.entity = 'incident' and a.entity_id = ${id})
         or (a.entity = 'response' and a.entity_id in (select id from responses where incident_id = ${id}))
         or (a.entity = 'signal' and a.entity_id in (select id from signals where incident_id = ${id}))
         or (a.entity = 'alert' and a.entity_id in (select id from alerts where incident_id = ${id}))
      order by a.id`),
    notificationsFor(db, { incidentId: id }),
  ]);
  return {
    signals: sigs.map((s) => ({
      id: s.id,
      source: s.source,
      title: s.title,
      content: withContent ? s.content : null,
      url: s.url,
      area: s.area,
      category: s.category,
      feedId: s.feedId,
      publishedAt: iso(s.publishedAt),
      receivedAt: iso(s.receivedAt)!,
      // Why this signal is part of the incident (monitoring rule, grouping reason and score).
      grouping: {
        decision: s.decision,
        reason: s.decisionReason,
        ruleId: s.ruleId,
        ruleName: s.ruleName,
        score: s.decisionScore,
        via: s.decisionVia,
        decidedAt: iso(s.decidedAt),
      },
    })),
    responses: resps.map((r) => ({
      id: r.id,
      kind: r.kind,
      original: r.original,
      qualifies: r.original,
      publishedAt: iso(r.publishedAt)!,
      recordedAt: iso(r.recordedAt)!,
      unitId: r.unitId,
      channel: r.channel,
      url: r.url,
      recordedBy: r.recordedBy,
    })),
    alerts: rowsOf<AlertRow>(alertRows).map(toAlertDto),
    // The ladder's mail (notifications) beside what the retired breach mailer left in `emails`.
    mails: [
      ...mails.map((m) => ({ ...m, createdAt: iso(m.createdAt)!, sentAt: iso(m.sentAt) })),
      ...notifications
        .filter((n) => n.channel === 'email')
        .map((n) => ({
          id: n.id,
          to: n.recipient,
          subject: n.subject,
          status: n.status,
          attempts: n.attempts,
          messageId: n.messageId,
          createdAt: n.createdAt,
          sentAt: n.sentAt,
          lastError: n.lastError,
        })),
    ].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0)),
    notifications,
    audit: rowsOf<AuditRow>(auditRows).map((a) => ({
      id: Number(a.id),
      at: iso(a.at)!,
      actor: a.actor,
      action: a.action,
      entity: a.entity,
      entityId: a.entity_id,
      clock: a.clock,
      commands: (a.commands ?? []).map((c) => ({
        type: c.type,
        level: c.level,
        unit: c.unit === null ? null : { id: c.unit, name: c.unitName ?? c.unit },
      })),
    })),
  };
}
