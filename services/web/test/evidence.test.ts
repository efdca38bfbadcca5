import { describe, expect, it } from 'vitest';
import { evidenceCopyUrl, evidenceOrigin, evidenceStateLabel, formatBytes } from '../console/src/logic/evidence.ts';

describe('证据留存 wording', () => {
  it.each([
    [{ state: 'archived', errorCode: null, httpStatus: 200, attempts: 1 }, '已留存'],
    [{ state: 'pending', errorCode: null, httpStatus: null, attempts: 0 }, '待留存'],
    [{ state: 'pending', errorCode: 'timeout', httpStatus: null, attempts: 2 }, '待重试（已尝试 2 次：访问超时）'],
    [{ state: 'failed', errorCode: 'too_large', httpStatus: null, attempts: 1 }, '未能留存：页面过大'],
    [{ state: 'failed', errorCode: 'http_status', httpStatus: 404, attempts: 1 }, '未能留存：网站返回错误（HTTP 404）'],
    [{ state: 'failed', errorCode: 'blocked_address', httpStatus: null, attempts: 1 }, '未能留存：地址不允许访问'],
    [{ state: 'failed', errorCode: 'something_new', httpStatus: null, attempts: 1 }, '未能留存：something_new'],
  ])('%o → %s', (item, label) => {
    expect(evidenceStateLabel(item)).toBe(label);
  });

  it('sizes, origins and the copy link', () => {
    expect([null, 0, 1023, 1024, 1536, 2 * 1024 * 1024].map(formatBytes)).toEqual(['—', '0 B', '1023 B', '1.0 KB', '1.5 KB', '2.0 MB']);
    expect(evidenceOrigin({ signals: ['a', 'b'], responses: ['r'] })).toBe('线索 2 · 回应 1');
    expect(evidenceOrigin({ signals: [], responses: ['r'] })).toBe('回应 1');
    expect(evidenceCopyUrl('ev_1')).toBe('/api/evidence/ev_1');
    expect(evidenceCopyUrl('ev 1', true)).toBe('/api/evidence/ev%201?download=true');
  });
});
