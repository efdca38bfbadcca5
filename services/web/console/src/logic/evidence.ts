/**
 * 证据留存 on the incident page: how an archived page's state, size and origin read in the
 * console. Pure, so the wording is unit-tested.
 */
import type { EvidenceItem } from '../api/identity.ts';

const REASON: Record<string, string> = {
  too_large: '页面过大',
  blocked_address: '地址不允许访问',
  http_status: '网站返回错误',
  timeout: '访问超时',
  dns: '域名无法解析',
  network: '网络错误',
  too_many_redirects: '跳转过多',
  bad_url: '不是网页地址',
  bad_encoding: '内容无法解码',
};

export function evidenceReason(code: string | null, httpStatus: number | null): string {
  const label = code === null ? '未知原因' : (REASON[code] ?? code);
  return code === 'http_status' && httpStatus !== null ? `${label}（HTTP ${httpStatus}）` : label;
}

/** 已留存 / 待留存 (retrying shows the attempts) / 未能留存：reason. */
export function evidenceStateLabel(e: Pick<EvidenceItem, 'state' | 'errorCode' | 'httpStatus' | 'attempts'>): string {
  if (e.state === 'archived') return '已留存';
  if (e.state === 'pending')
    return e.attempts > 0 ? `待重试（已尝试 ${e.attempts} 次：${evidenceReason(e.errorCode, e.httpStatus)}）` : '待留存';
  return `未能留存：${evidenceReason(e.errorCode, e.httpStatus)}`;
}

export function formatBytes(n: number | null): string {
  if (n === null) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Who points at the page: 线索 2 · 回应 1. */
export function evidenceOrigin(e: Pick<EvidenceItem, 'signals' | 'responses'>): string {
  return [e.signals.length > 0 ? `线索 ${e.signals.length}` : '', e.responses.length > 0 ? `回应 ${e.responses.length}` : '']
    .filter((x) => x !== '')
    .join(' · ');
}

/** The archived copy (served sandboxed by the API); `download` gives the bytes as fetched. */
export function evidenceCopyUrl(id: string, download = false): string {
  return `/api/evidence/${encodeURIComponent(id)}${download ? '?download=true' : ''}`;
}
