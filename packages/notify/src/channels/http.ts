import { DeliveryError, isTransientHttpStatus, isTransientNetworkError } from './port.ts';

/**
 * POST a JSON body with a hard overall timeout (AbortSignal), classifying the outcome. The
 * response body is returned for robots that report errors inside a 200.
 */
export async function postJson(
  url: string,
  body: string,
  options: { timeoutMs: number; headers?: Record<string, string> },
): Promise<{ status: number; text: string }> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', ...options.headers },
      body,
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: 'error',
    });
  } catch (error) {
    throw new DeliveryError(`POST ${redact(url)} failed: ${describe(error)}`, isTransientNetworkError(error));
  }
  const text = await response.text().catch(() => '');
  if (!response.ok) {
    throw new DeliveryError(`POST ${redact(url)}: HTTP ${response.status} ${text.slice(0, 200)}`, isTransientHttpStatus(response.status));
  }
  return { status: response.status, text };
}

/** Robots carry their secret in the query (key=, access_token=): never log it. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    for (const k of [...u.searchParams.keys()]) u.searchParams.set(k, '…');
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const base = error instanceof Error ? error.message : String(error);
  return cause?.code ? `${base} (${cause.code})` : base;
}
