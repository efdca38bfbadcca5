/** Typed calls to the API. Every non-2xx answer becomes an ApiRequestError with the API's code. */
import type {
  AckRequest,
  Alert,
  ApiError,
  ByRequest,
  GradeRequest,
  Incident,
  ListResponse,
  Obligation,
  ResponseRequest,
  SuspendRequest,
  TimeInfo,
} from './api-types.ts';

export class ApiRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

function isApiError(x: unknown): x is ApiError {
  return typeof x === 'object' && x !== null && typeof (x as ApiError).code === 'string' && typeof (x as ApiError).message === 'string';
}

/** The session's CSRF token (from /api/auth/me), sent on every change. */
let csrf: Promise<string> | undefined;
const csrfToken = () =>
  (csrf ??= fetch('/api/auth/me', { headers: { accept: 'application/json' } })
    .then((r) => (r.ok ? (r.json() as Promise<{ csrfToken: string }>) : { csrfToken: '' }))
    .then((me) => me.csrfToken));

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET') headers['x-csrf-token'] = await csrfToken();
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
    });
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
    if (isApiError(parsed)) throw new ApiRequestError(parsed.code, parsed.message, res.status);
    throw new ApiRequestError(`HTTP_${res.status}`, `请求失败（HTTP ${res.status}）`, res.status);
  }
  return parsed as T;
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

const obligationPath = (id: string, action: string): string => `/api/obligations/${encodeURIComponent(id)}/${action}`;

export const api = {
  time: () => request<TimeInfo>('GET', '/api/time'),
  openIncidents: () => request<ListResponse<Incident>>('GET', '/api/incidents?status=open'),
  openAlerts: () => request<ListResponse<Alert>>('GET', '/api/alerts?open=true'),
  ack: (alertId: string, body: AckRequest) => request<unknown>('POST', `/api/alerts/${encodeURIComponent(alertId)}/ack`, body),
  grade: (incidentId: string, body: GradeRequest) =>
    request<unknown>('POST', `/api/incidents/${encodeURIComponent(incidentId)}/grade`, body),
  recordResponse: (incidentId: string, body: ResponseRequest) =>
    request<unknown>('POST', `/api/incidents/${encodeURIComponent(incidentId)}/responses`, body),
  obligations: () => request<ListResponse<Obligation>>('GET', '/api/obligations'),
  fulfil: (id: string, body: ByRequest) => request<unknown>('POST', obligationPath(id, 'fulfil'), body),
  extend: (id: string, body: ByRequest) => request<unknown>('POST', obligationPath(id, 'extend'), body),
  suspend: (id: string, body: SuspendRequest) => request<unknown>('POST', obligationPath(id, 'suspend'), body),
  resume: (id: string, body: ByRequest) => request<unknown>('POST', obligationPath(id, 'resume'), body),
};
