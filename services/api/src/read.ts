import { alerts, and, type Db, desc, eq, incidents, isNull, obligations, sql, units } from '@huiying/db';
import { incidentView } from '@huiying/engine';
import type { IncidentState } from '@huiying/domain';

const iso = (d: Date | number | null) => (d === null ? null : new Date(d).toISOString());

/** Read-side queries shaping rows for the API and the live stream. */
export async function listIncidents(db: Db, status?: string) {
  const rows = await db
    .select({ state: incidents.state, updatedAt: incidents.updatedAt, unitName: units.name })
    .from(incidents)
    .leftJoin(units, eq(units.id, incidents.unitId))
    .where(status ? eq(incidents.status, status) : undefined)
    .orderBy(desc(incidents.updatedAt))
    .limit(500);
  // A record the engine had to set aside (quarantined, see fireDue) must not take the whole board down.
  return rows.flatMap((r) => {
    try {
      return [toIncidentDto(r.state as IncidentState, r.updatedAt, r.unitName)];
    } catch {
      return [];
    }
  });
}

export async function getIncident(db: Db, id: string) {
  const [r] = await db
    .select({ state: incidents.state, updatedAt: incidents.updatedAt, unitName: units.name })
    .from(incidents)
    .leftJoin(units, eq(units.id, incidents.unitId))
    .where(eq(incidents.id, id));
  return r ? toIncidentDto(r.state as IncidentState, r.updatedAt, r.unitName) : undefined;
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

const alertColumns = {
  id: alerts.id,
  incidentId: alerts.incidentId,
  obligationId: alerts.obligationId,
  // Obligation alerts carry the duty's title (or id) where the board shows an incident's title.
  incidentTitle: sql<string | null>`coalesce(${incidents.title}, ${obligations.title}, ${alerts.obligationId})`,
  kind: alerts.kind,
  clock: alerts.clock,
  dueAt: alerts.dueAt,
  elapsed: alerts.elapsed,
  at: alerts.at,
  acknowledgedAt: alerts.acknowledgedAt,
  acknowledgedBy: alerts.acknowledgedBy,
  retractedAt: alerts.retractedAt,
};

type AlertRow = { [K in keyof typeof alertColumns]: unknown };

function toAlertDto(r: AlertRow) {
  return {
    id: r.id as string,
    incidentId: r.incidentId as string | null,
    obligationId: r.obligationId as string | null,
    incidentTitle: (r.incidentTitle as string | null) ?? (r.incidentId as string | null) ?? '',
    kind: r.kind as string,
    clock: r.clock as string | null,
    dueAt: iso(r.dueAt as Date | null),
    elapsed: r.elapsed as number | null,
    at: iso(r.at as Date)!,
    acknowledgedAt: iso(r.acknowledgedAt as Date | null),
    acknowledgedBy: r.acknowledgedBy as string | null,
    retractedAt: iso(r.retractedAt as Date | null),
  };
}

export async function listAlerts(db: Db, open: boolean) {
  const rows = await db
    .select(alertColumns)
    .from(alerts)
    .leftJoin(incidents, eq(incidents.id, alerts.incidentId))
    .leftJoin(obligations, eq(obligations.id, alerts.obligationId))
    .where(open ? and(isNull(alerts.acknowledgedAt), isNull(alerts.retractedAt)) : undefined)
    .orderBy(desc(alerts.at))
    .limit(500);
  return rows.map(toAlertDto);
}

export async function getAlert(db: Db, id: string) {
  const [r] = await db
    .select(alertColumns)
    .from(alerts)
    .leftJoin(incidents, eq(incidents.id, alerts.incidentId))
    .leftJoin(obligations, eq(obligations.id, alerts.obligationId))
    .where(eq(alerts.id, id));
  return r ? toAlertDto(r) : undefined;
}
