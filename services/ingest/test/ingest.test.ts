import { describe, expect, it } from 'vitest';
import { redact, signalId } from '../src/signals.ts';

describe('signal identity and redaction', () => {
  it('maps the same (source, ref) to the same id, and different ones apart', () => {
    expect(signalId('hotline', 'T-1')).toBe(signalId('hotline', 'T-1'));
    expect(signalId('hotline', 'T-1')).not.toBe(signalId('feed', 'T-1'));
  });
  it('masks mobile numbers and ID numbers anywhere in a value', () => {
    const out = redact({ content: '联系13812345678，身份证11010519491231002X', nested: ['电话 15900001111'] });
    expect(JSON.stringify(out)).not.toMatch(/13812345678|15900001111|11010519491231002X/);
    expect(out.content).toContain('138****5678');
  });
});
