/**
 * Typed calls to the API. Every non-2xx answer becomes an ApiRequestError with the API's
 * stable code. Unsafe requests carry the session's CSRF token; a 401 anywhere means the
 * session is gone, and the app goes back to the log-in page (see session.ts).
 */
import type {
  AdminUnit,
  AdminUser,
  EvidenceItem,
  MonitoringRule,
  MonitoringRuleBody,
  NewToken,
  Roster,
  RosterShift,
  RosterShiftBody,
  SessionInfo,
  SignalPage,
  Timeline,
} from './identity.ts';
import type {
  Alert,
  ApiError,
  Feed,
  FeedBody,
  FeedPatch,
  ResponseCandidate,
  GradeRequest,
  Incident,
  IncidentQuery,
  JsonOf,
  ListResponse,
  Obligation,
  QueryOf,
  ResponseRequest,
  SignalRequest,
  SuspendRequest,
  TimeInfo,
  Unit,
} from './types.ts';

export class ApiRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** The offending field (a JSON pointer) when the API names one, e.g. a rule pack's `/clocks/release/spanHours`. */
    readonly path?: string,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

function isApiError(x: unknown): x is ApiError {
  return typeof x === 'object' && x !== null && typeof (x as ApiError).code === 'string' && typeof (x as ApiError).message === 'string';
}

type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

let csrfToken: string | null = null;
let onUnauthorized: () => void = () => undefined;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** For requests that do not go through `request` (file uploads). */
export function currentCsrfToken(): string | null {
  return csrfToken;
}

/** Called on any 401 except from the log-in itself (wrong password is not "logged out"). */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export async function request<T>(method: HttpMethod, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken !== null) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body), credentials: 'same-origin' });
  } catch {
    throw new ApiRequestError('NETWORK', '无法连接服务器，请检查网络', 0);
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/auth/login') onUnauthorized();
    if (isApiError(parsed)) throw new ApiRequestError(parsed.code, parsed.message, res.status, pathOf(parsed));
    throw new ApiRequestError(`HTTP_${res.status}`, `请求失败（HTTP ${res.status}）`, res.status);
  }
  return parsed as T;
}

function pathOf(x: object): string | undefined {
  const path = (x as { path?: unknown }).path;
  return typeof path === 'string' ? path : undefined;
}

/** Loose check used on POST answers: the API may return the updated incident, or not. */
export function looksLikeIncident(x: unknown): x is Incident {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as Incident).id === 'string' &&
    typeof (x as Incident).updatedAt === 'string' &&
    Array.isArray((x as Incident).clocks)
  );
}

/** Check on duty answers: an unexpected body must not replace a good row. */
export function looksLikeObligation(x: unknown): x is Obligation {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as Obligation).id === 'string' &&
    typeof (x as Obligation).state === 'string' &&
    typeof (x as Obligation).dueAt === 'string' &&
    typeof (x as Obligation).dueDate === 'string'
  );
}

const enc = encodeURIComponent;
const incidentPath = (id: string, action: string): string => `/api/incidents/${enc(id)}/${action}`;
const obligationPath = (id: string, action: string): string => `/api/obligations/${enc(id)}/${action}`;

/** Query string from defined, non-empty values; a list repeats its parameter (`outcome=late&outcome=breached`). */
export function query(params: Record<string, string | number | boolean | readonly string[] | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) for (const x of v as readonly string[]) q.append(k, x);
    else if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

/** Lists are paged once identity lands; the board asks for one large page, urgency-ordered. */
const BOARD_PAGE = { page: 1, pageSize: 500 };

export const api = {
  login: (username: string, password: string) => request<SessionInfo>('POST', '/api/auth/login', { username, password }),
  me: () => request<SessionInfo>('GET', '/api/auth/me'),
  logout: () => request<unknown>('POST', '/api/auth/logout'),

  time: () => request<TimeInfo>('GET', '/api/time'),
  units: () => request<JsonOf<'/api/units', 'get'>>('GET', '/api/units') as Promise<ListResponse<Unit>>,

  /** The board's page of open incidents, most urgent first, filtered on the server (filters.ts serverQueries). */
  openIncidents: (q: IncidentQuery = {}) =>
    request<ListResponse<Incident>>('GET', `/api/incidents${query({ status: 'open', ...q, ...BOARD_PAGE })}`),
  incident: (id: string) => request<Incident>('GET', `/api/incidents/${enc(id)}`),
  timeline: (id: string) => request<Timeline>('GET', `/api/incidents/${enc(id)}/timeline`),
  evidence: (id: string) => request<{ items: EvidenceItem[] }>('GET', `/api/incidents/${enc(id)}/evidence`),
  grade: (id: string, body: GradeRequest) => request<unknown>('POST', incidentPath(id, 'grade'), body),
  assign: (id: string, unit: string) => request<unknown>('POST', incidentPath(id, 'assign'), { unit }),
  occurred: (id: string, occurredAt: string) => request<unknown>('POST', incidentPath(id, 'occurred'), { occurredAt }),
  dismiss: (id: string, reason: string) => request<unknown>('POST', incidentPath(id, 'dismiss'), { reason }),
  attachSignal: (id: string, body: SignalRequest) => request<unknown>('POST', incidentPath(id, 'signals'), body),
  recordResponse: (id: string, body: ResponseRequest) => request<unknown>('POST', incidentPath(id, 'responses'), body),

  openAlerts: () => request<ListResponse<Alert>>('GET', `/api/alerts${query({ open: true, ...BOARD_PAGE })}`),
  ack: (alertId: string) => request<unknown>('POST', `/api/alerts/${enc(alertId)}/ack`, {}),

  /** The duties panel's page: open duties first, soonest due first (the server's order), 500 at most. */
  obligations: () => request<ListResponse<Obligation>>('GET', `/api/obligations${query(BOARD_PAGE)}`),
  fulfil: (id: string) => request<unknown>('POST', obligationPath(id, 'fulfil'), {}),
  extend: (id: string) => request<unknown>('POST', obligationPath(id, 'extend'), {}),
  suspend: (id: string, body: SuspendRequest) => request<unknown>('POST', obligationPath(id, 'suspend'), body),
  resume: (id: string) => request<unknown>('POST', obligationPath(id, 'resume'), {}),

  /** 线索检索: stored signals, newest first (matched=false: those no monitoring rule took). */
  signals: (q: { matched?: boolean; q?: string; page?: number; pageSize?: number }) =>
    request<SignalPage>('GET', `/api/signals${query(q)}`),
  /** 合并: the `from` incidents' signals, start and responses move into `id`; they close. */
  mergeIncidents: (id: string, from: string[]) => request<Incident>('POST', incidentPath(id, 'merge'), { from }),
  /** 拆分: the chosen signals become a new incident. */
  splitIncident: (id: string, signals: string[]) => request<Incident>('POST', incidentPath(id, 'split'), { signals }),
  /** 人工立案: open an incident for a stored signal. */
  promoteSignal: (id: string, note?: string) => request<Incident>('POST', `/api/signals/${enc(id)}/promote`, note ? { note } : {}),
  feeds: {
    list: (q: QueryOf<'/api/feeds'> = {}) => request<JsonOf<'/api/feeds', 'get'>>('GET', `/api/feeds${query(q)}`),
    create: (body: FeedBody) => request<Feed>('POST', '/api/feeds', body),
    update: (id: string, patch: FeedPatch) => request<Feed>('PATCH', `/api/feeds/${enc(id)}`, patch),
    pause: (id: string) => request<Feed>('POST', `/api/feeds/${enc(id)}/pause`),
    resume: (id: string) => request<Feed>('POST', `/api/feeds/${enc(id)}/resume`),
    remove: (id: string) => request<unknown>('DELETE', `/api/feeds/${enc(id)}`),
  },
  candidates: {
    list: (q: QueryOf<'/api/response-candidates'> = {}) =>
      request<JsonOf<'/api/response-candidates', 'get'>>('GET', `/api/response-candidates${query(q)}`),
    accept: (id: string, reason?: string) =>
      request<ResponseCandidate>('POST', `/api/response-candidates/${enc(id)}/accept`, reason ? { reason } : {}),
    reject: (id: string, reason?: string) =>
      request<ResponseCandidate>('POST', `/api/response-candidates/${enc(id)}/reject`, reason ? { reason } : {}),
  },

  roster: (from?: string, to?: string) => {
    const q = new URLSearchParams({ ...(from ? { from } : {}), ...(to ? { to } : {}) }).toString();
    return request<Roster>('GET', `/api/roster${q ? `?${q}` : ''}`);
  },
  admin: {
    monitoringRules: (q: QueryOf<'/api/admin/monitoring-rules'> = {}) =>
      request<JsonOf<'/api/admin/monitoring-rules', 'get'>>('GET', `/api/admin/monitoring-rules${query(q)}`),
    createMonitoringRule: (body: MonitoringRuleBody) => request<MonitoringRule>('POST', '/api/admin/monitoring-rules', body),
    updateMonitoringRule: (id: string, patch: Partial<Omit<MonitoringRuleBody, 'jurisdiction'>>) =>
      request<MonitoringRule>('PATCH', `/api/admin/monitoring-rules/${enc(id)}`, patch),
    deleteMonitoringRule: (id: string) => request<unknown>('DELETE', `/api/admin/monitoring-rules/${enc(id)}`),
    /** Paged and searchable; a picker that needs every unit reads `api.units()` (GET /api/units) instead. */
    units: (q: QueryOf<'/api/admin/units'> = {}) => request<JsonOf<'/api/admin/units', 'get'>>('GET', `/api/admin/units${query(q)}`),
    createUnit: (u: AdminUnit) => request<AdminUnit>('POST', '/api/admin/units', u),
    updateUnit: (id: string, patch: Partial<Omit<AdminUnit, 'id'>>) => request<AdminUnit>('PATCH', `/api/admin/units/${enc(id)}`, patch),
    users: (q: QueryOf<'/api/admin/users'> = {}) => request<JsonOf<'/api/admin/users', 'get'>>('GET', `/api/admin/users${query(q)}`),
    createUser: (u: {
      username: string;
      displayName: string;
      role: string;
      unitId: string | null;
      password: string;
      email?: string | null;
      phone?: string | null;
    }) => request<AdminUser>('POST', '/api/admin/users', u),
    updateUser: (
      id: string,
      patch: { role?: string; unitId?: string | null; disabled?: boolean; password?: string; email?: string | null; phone?: string | null },
    ) => request<AdminUser>('PATCH', `/api/admin/users/${enc(id)}`, patch),
    tokens: (q: QueryOf<'/api/admin/tokens'> = {}) => request<JsonOf<'/api/admin/tokens', 'get'>>('GET', `/api/admin/tokens${query(q)}`),
    createToken: (name: string, scopes: string[]) => request<NewToken>('POST', '/api/admin/tokens', { name, scopes }),
    revokeToken: (id: string) => request<unknown>('DELETE', `/api/admin/tokens/${enc(id)}`),
    rulePack: () => request<JsonOf<'/api/admin/rule-pack', 'get'>>('GET', '/api/admin/rule-pack'),
    rulePackVersions: (page = 1, pageSize = 20) =>
      request<JsonOf<'/api/admin/rule-packs', 'get'>>('GET', `/api/admin/rule-packs?page=${page}&pageSize=${pageSize}`),
    /** Validates, stores and activates; a bad pack is an ApiRequestError with the field's `path`. */
    addRulePack: (document: unknown, note?: string) =>
      request<JsonOf<'/api/admin/rule-packs', 'post', 201>>('POST', '/api/admin/rule-packs', { document, ...(note ? { note } : {}) }),
    activateRulePack: (version: number) =>
      request<JsonOf<'/api/admin/rule-packs/{version}/activate', 'post'>>('POST', `/api/admin/rule-packs/${version}/activate`),
    /** Sends a permanently failed notification again; its 投递失败 alert is withdrawn. */
    retryNotification: (id: string) => request<{ retried: boolean }>('POST', `/api/admin/notifications/${enc(id)}/retry`, {}),
    /** 值班表 (administrators write; duty officers and leaders read through api.roster). */
    addShift: (body: RosterShiftBody) => request<RosterShift>('POST', '/api/admin/roster', body),
    updateShift: (id: string, patch: Partial<RosterShiftBody>) => request<RosterShift>('PATCH', `/api/admin/roster/${enc(id)}`, patch),
    removeShift: (id: string) => request<unknown>('DELETE', `/api/admin/roster/${enc(id)}`),
    calendar: () => request<JsonOf<'/api/calendar', 'get'>>('GET', '/api/calendar'),
    putCalendarYear: (year: number, body: { holidays: string[]; workdays: string[]; source?: string }) =>
      request<unknown>('PUT', `/api/calendar/years/${year}`, body),
  },
};
