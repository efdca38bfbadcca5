/**
 * The catalogue of error codes the API returns. Clients see `{ code, message }`; a 5xx never
 * carries internal detail. test/errors.test.ts fails if a code is thrown but not listed here.
 */
export const ERROR_CATALOGUE = {
  HY_VALIDATION: {
    status: 400,
    description: '请求参数不合法 The request body, query or path failed validation; the message names the field.',
  },
  HY_UNAUTHENTICATED: { status: 401, description: '未登录 No session or token, or it has expired.' },
  HY_FORBIDDEN: { status: 403, description: '无权操作 The caller’s role may not do this.' },
  HY_NOT_FOUND: { status: 404, description: '对象不存在 The incident, alert or route does not exist.' },
  HY_CONFLICT: { status: 409, description: '状态冲突 The command does not apply to the current state (e.g. a closed incident).' },
  HY_INTERNAL: { status: 500, description: '内部错误 Something failed on our side; details are in the server log.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
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
