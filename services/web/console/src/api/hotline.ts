/**
 * 12345 热线接入: hotline sources (administrators) and the upload of exported ticket files
 * (duty officers, administrators). The file is sent as the request body, as the API expects.
 */
import { ApiRequestError, currentCsrfToken, query, request } from './client.ts';
import type { JsonOf, QueryOf } from './types.ts';

export type HotlineSource = JsonOf<'/api/admin/hotline-sources', 'get'>['items'][number];
/** POST /api/admin/hotline-sources: the signing secret, shown once. */
export type NewHotlineSource = JsonOf<'/api/admin/hotline-sources', 'post', 201>;
export type ImportReport = JsonOf<'/api/hotline/imports', 'post'>;

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/** The content type the import route takes for a picked file (by name: browsers often leave CSV's type empty). */
export function uploadType(file: File): string {
  if (/\.xlsx$/i.test(file.name)) return XLSX;
  if (/\.csv$/i.test(file.name)) return 'text/csv';
  return 'application/octet-stream';
}

async function upload<T>(path: string, file: File): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': uploadType(file) };
  const token = currentCsrfToken();
  if (token !== null) headers['x-csrf-token'] = token;
  let res: Response;
  try {
    res = await fetch(path, { method: 'POST', headers, body: file, credentials: 'same-origin' });
  } catch {
    throw new ApiRequestError('NETWORK', '无法连接服务器，请检查网络', 0);
  }
  const parsed: unknown = await res.json().catch(() => undefined);
  if (!res.ok) {
    const e = parsed as { code?: unknown; message?: unknown } | undefined;
    if (typeof e?.code === 'string' && typeof e.message === 'string') throw new ApiRequestError(e.code, e.message, res.status);
    throw new ApiRequestError(`HTTP_${res.status}`, `请求失败（HTTP ${res.status}）`, res.status);
  }
  return parsed as T;
}

export const hotlineApi = {
  sources: (q: QueryOf<'/api/admin/hotline-sources'> = {}) =>
    request<JsonOf<'/api/admin/hotline-sources', 'get'>>('GET', `/api/admin/hotline-sources${query(q)}`),
  createSource: (name: string, tokenId: string | null, jurisdiction = 'default') =>
    request<NewHotlineSource>('POST', '/api/admin/hotline-sources', tokenId ? { name, tokenId, jurisdiction } : { name, jurisdiction }),
  /** 辖区: tickets the source posts from now on are matched against that jurisdiction's 监测方案. */
  setJurisdiction: (id: string, jurisdiction: string) =>
    request<HotlineSource>('PATCH', `/api/admin/hotline-sources/${encodeURIComponent(id)}`, { jurisdiction }),
  disableSource: (id: string) => request<HotlineSource>('POST', `/api/admin/hotline-sources/${encodeURIComponent(id)}/disable`),
  importFile: (file: File, source: string, backfill: boolean) =>
    upload<ImportReport>(`/api/hotline/imports?source=${encodeURIComponent(source)}${backfill ? '&backfill=true' : ''}`, file),
};
