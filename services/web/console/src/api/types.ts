/**
 * The HTTP/SSE contract between the API and the console. Wire shapes come from the
 * generated OpenAPI types (schema.gen.ts, `pnpm gen:api`); the server declares kinds and
 * states as plain strings, so the console narrows them here, and the `Conforms` checks at
 * the bottom fail the typecheck if a narrowed type drifts from what the server publishes.
 * Instants are ISO-8601 strings on the wire; the console compares them with Date.parse.
 */
import type { paths } from './schema.gen.ts';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** The JSON body of a 2xx answer of `method path`. */
export type JsonOf<P extends keyof paths, M extends Method, S extends number = 200> = paths[P][M] extends {
  responses: infer R;
}
  ? R extends Record<S, { content: { 'application/json': infer J } }>
    ? J
    : never
  : never;
/** The query string of `GET path`: its filters and paging (page, pageSize, q …). */
export type QueryOf<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } } ? NonNullable<Q> : never;
/** The JSON request body of `method path`. */
export type BodyOf<P extends keyof paths, M extends Method> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

type WireIncident = JsonOf<'/api/incidents/{id}', 'get'>;
/** The filters of GET /api/incidents the board sends (the server's filter of its page). */
export type IncidentQuery = Pick<
  NonNullable<paths['/api/incidents']['get']['parameters']['query']>,
  'level' | 'unit' | 'unassigned' | 'q' | 'state'
>;
type WireClock = WireIncident['clocks'][number];
type WireAlert = JsonOf<'/api/alerts', 'get'>['items'][number];
type WireObligation = JsonOf<'/api/obligations', 'get'>['items'][number];

export type Level = 'I' | 'II' | 'III' | 'IV';
export type ClockKind = 'response' | 'release' | 'press_conference';
export type ClockState = 'running' | 'met' | 'breached' | 'cancelled' | 'waived';
export type ResponseKind = 'release' | 'press_conference' | 'reply';
/** calendar_missing: a working-day due was counted Monday–Friday because a holiday year is missing. */
/** engine_error: the engine could not process this incident and took it off the timer (quarantined). */
/** feed_failing: a feed has failed for an hour; channel_silent: an official channel is silent past its rule. */
/** delivery_failed: a notification failed for good (its id is `delivery_failed:<notification id>`); an administrator may retry it. */
export type AlertKind =
  | 'warning'
  | 'breached'
  | 'nonqualifying_response'
  | 'calendar_missing'
  | 'engine_error'
  | 'feed_failing'
  | 'channel_silent'
  | 'delivery_failed';

/** GET /api/time — the (possibly simulated) system time and its speed. */
export interface TimeInfo {
  now: string;
  /** Simulated seconds per real second; 1 in production, e.g. 600 in a drill (演练). */
  scale: number;
}

export type Unit = NonNullable<WireIncident['unit']>;

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

/** POST /api/obligations/:id/suspend (the actor is the signed-in user: no `by`). */
export interface SuspendRequest {
  reason: SuspendReason;
}

/** Lists: `{ items }`, and once identity lands `{ items, total, page, pageSize }`. */
export interface ListResponse<T> {
  items: T[];
  total?: number;
  page?: number;
  pageSize?: number;
}

/** Body of every non-2xx answer. */
export interface ApiError {
  code: string;
  message: string;
}

/** POST /api/incidents/:id/grade */
export interface GradeRequest {
  level: Level;
  unit?: string;
}

/** POST /api/incidents/:id/responses */
export interface ResponseRequest {
  kind: ResponseKind;
  /** 原创 (true) or 转载 repost (false): a repost meets no clock. */
  original: boolean;
  url?: string;
  channel?: string;
  publishedAt?: string;
}

/** POST /api/incidents/:id/signals — 补充线索 */
export interface SignalRequest {
  title: string;
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

// ---------------------------------------------------------------------------------------
// Drift checks: each narrowed type must still be a valid instance of the published shape.

type Conforms<Narrow, Wire> = Narrow extends Wire ? true : never;
export const conformance: [
  Conforms<Clock, WireClock>,
  Conforms<Incident, WireIncident>,
  Conforms<Omit<Alert, 'obligationId'> & { obligationId: string | null; retractedAt: string | null; unitId: string | null }, WireAlert>,
  Conforms<Obligation, WireObligation>,
] = [true, true, true, true];

/** GET /api/feeds — a feed with its health (信息源管理). */
export type Feed = JsonOf<'/api/feeds', 'get'>['items'][number];
export type FeedBody = BodyOf<'/api/feeds', 'post'>;
export type FeedPatch = BodyOf<'/api/feeds/{id}', 'patch'>;
/** GET /api/response-candidates — an official channel's item proposed as an incident's response (候选回应). */
export type ResponseCandidate = JsonOf<'/api/response-candidates', 'get'>['items'][number];
