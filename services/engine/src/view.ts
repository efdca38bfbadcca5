import type { IncidentState } from '@huiying/domain';

/** What the read side (clocks table, API, dashboard, mail) needs from the domain's IncidentState. */
export interface IncidentView {
  id: string;
  title: string;
  level: 'I' | 'II' | 'III' | 'IV' | null;
  unitId: string | null;
  status: 'open' | 'closed';
  startAt: number;
  clocks: {
    seq: number;
    kind: string;
    state: 'running' | 'met' | 'breached' | 'cancelled' | 'waived';
    startAt: number;
    dueAt: number;
    respondedAt: number | null;
    late: boolean | null;
  }[];
}

export function incidentView(s: IncidentState): IncidentView {
  return {
    id: s.id,
    title: s.title ?? s.id,
    level: s.level ?? null,
    unitId: s.unit ?? null,
    status: s.status,
    startAt: s.startAt,
    clocks: s.clocks.map((c) => ({
      seq: c.seq,
      kind: c.kind,
      state: c.state,
      startAt: c.startAt,
      dueAt: c.dueAt,
      respondedAt: c.respondedAt ?? null,
      late: c.late ?? null,
    })),
  };
}
