/**
 * The HTTP/SSE contract between the API service and the duty officers' board.
 * Instants are ISO-8601 strings on the wire; the board compares them with Date.parse.
 */

export type Level = 'I' | 'II' | 'III' | 'IV';
export type ClockKind = 'response' | 'release' | 'press_conference';
export type ClockState = 'running' | 'met' | 'breached' | 'cancelled' | 'waived';
export type ResponseKind = 'release' | 'press_conference' | 'reply';
/** calendar_missing: a working-day due was counted Monday–Friday because a holiday year is missing. */
/** engine_error: the engine could not process this incident and took it off the timer (quarantined). */
export type AlertKind = 'warning' | 'breached' | 'nonqualifying_response' | 'calendar_missing' | 'engine_error';

/** GET /api/time — the (possibly simulated) system time and its speed. */
export interface TimeInfo {
  now: string;
  /** Simulated seconds per real second; 1 in production, e.g. 600 in a drill (演练). */
  scale: number;
}

export interface Unit {
  id: string;
  name: string;
}

export interface Clock {
  seq: number;
  kind: ClockKind;
  state: ClockState;
  startAt: string;
  dueAt: string;
  respondedAt: string | null;
  late: boolean | null;
}

export interface Incident {
  id: string;
  title: string;
  /** null while 待研判 (not yet graded). */
  level: Level | null;
  unit: Unit | null;
  status: 'open' | 'closed';
  startAt: string;
  clocks: Clock[];
  updatedAt: string;
}

export interface Alert {
  id: string;
  /** Set for incident alerts; obligation alerts carry obligationId instead. */
  incidentId: string | null;
  obligationId?: string | null;
  incidentTitle: string;
  kind: AlertKind;
  /** The clock kind the alert is about; null for a non-qualifying response. */
  clock: string | null;
  dueAt: string | null;
  /** Fraction of the clock's span elapsed (e.g. 0.5) for a warning; null otherwise. */
  elapsed: number | null;
  at: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
}

export type ObligationKind = 'policy_interpretation' | 'service_change' | 'proposal_reply' | 'penalty_disclosure' | 'disclosure_request';
export type ObligationState = 'running' | 'met' | 'breached';
/** correction 补正 (the count restarts on resume); third_party 征求第三方意见 (that time does not count). */
export type SuspendReason = 'correction' | 'third_party';

/**
 * GET /api/obligations — a working-day disclosure duty (工作日时限事项). The API declares
 * kind, state and reason as plain strings: the board shows an unknown value as sent.
 */
export interface Obligation {
  id: string;
  kind: string;
  title: string | null;
  unit: Unit | null;
  state: string;
  issuedAt: string;
  /** The last working day, 'YYYY-MM-DD' in Beijing; dueAt is the end of it. */
  dueDate: string;
  dueAt: string;
  /** Counted Monday–Friday because a year of the holiday calendar is missing. */
  provisional: boolean;
  extended: boolean;
  /** While suspended the count stands still and dueAt is frozen. */
  suspended: { since: string; reason: string } | null;
  respondedAt: string | null;
  late: boolean | null;
}

/** POST /api/obligations/:id/fulfil, /extend, /resume */
export type ByRequest = Record<string, never>;

/** POST /api/obligations/:id/suspend */
export interface SuspendRequest {
  reason: SuspendReason;
}

/** GET /api/incidents?status=open, GET /api/alerts?open=true, GET /api/obligations */
export interface ListResponse<T> {
  items: T[];
}

/** Body of every non-2xx answer. */
export interface ApiError {
  code: string;
  message: string;
}

/** POST /api/alerts/:id/ack */
export type AckRequest = Record<string, never>;

/** POST /api/incidents/:id/grade */
export interface GradeRequest {
  level: Level;
}

/** POST /api/incidents/:id/responses */
export interface ResponseRequest {
  kind: ResponseKind;
  original: boolean;
  url?: string;
  publishedAt?: string;
}

/** GET /api/stream — Server-Sent Events, by event name. Duties have no event of their own (yet):
 * an alert with `obligationId` tells the board to re-read GET /api/obligations. */
export interface StreamEventMap {
  hello: unknown;
  alert: Alert;
  incident: Incident;
}
