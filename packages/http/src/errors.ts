/**
 * The catalogue of error codes every HTTP process (api, ingest) returns. Clients see
 * `{ code, message }`; a 5xx never carries internal detail. services/api/test/errors.test.ts
 * fails if a code is thrown but not listed here.
 */
export const ERROR_CATALOGUE = {
  HY_VALIDATION: {
    status: 400,
    description: '请求参数不合法 The request body, query or path failed validation; the message names the field.',
  },
  HY_RULE_PACK_INVALID: {
    status: 400,
    description:
      '规则包不合法 The rule pack document does not match the rule-pack schema; `path` names the field (a JSON pointer) and the message says why. Nothing was stored.',
  },
  HY_UNAUTHENTICATED: {
    status: 401,
    description: '未登录 No valid session or API token; log in (POST /api/auth/login) or send a bearer token.',
  },
  HY_AUTH_FAILED: { status: 401, description: '用户名或密码错误 Wrong username or password, or the account is disabled.' },
  HY_FORBIDDEN: { status: 403, description: '无权操作 Your role or token scope does not allow this.' },
  HY_CSRF: {
    status: 403,
    description: '缺少或错误的 CSRF 令牌 A cookie-authenticated change needs the x-csrf-token header from /api/auth/me.',
  },
  HY_NOT_FOUND: { status: 404, description: '对象不存在 The incident, alert or route does not exist (or is not yours to see).' },
  HY_CONFLICT: { status: 409, description: '状态冲突 The command does not apply to the current state (e.g. a closed incident).' },
  HY_TOO_LARGE: { status: 413, description: '请求过大 The request body is larger than this endpoint accepts.' },
  HY_RATE_LIMITED: { status: 429, description: '请求过于频繁 Too many attempts; wait and retry.' },
  HY_INTERNAL: { status: 500, description: '内部错误 Something failed on our side; details are in the server log.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Sent beside code and message (e.g. the offending field's `path`); the route's error schema must list it. */
    readonly details?: { path?: string },
  ) {
    super(message);
  }
  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }
}

/** An ISO-8601 body field as an instant; schema-valid but impossible times (e.g. a leap second) are a 400. */
export function instantOf(field: string, value: string): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new ApiError('HY_VALIDATION', `body/${field} is not a valid instant`);
  return ms;
}
