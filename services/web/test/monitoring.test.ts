import { describe, expect, it } from 'vitest';
import { mayOpen } from '../console/src/logic/filters.ts';
import { sourceKindLabel, splitNames } from '../console/src/logic/monitoring.ts';

describe('监测方案 wording', () => {
  it.each([
    ['hotline', '12345 热线'],
    ['feed', '全部信息源'],
    ['feed:news', '信息源：news'],
    ['manual', '人工补充'],
    ['other', 'other'],
  ])('%s → %s', (kind, label) => expect(sourceKindLabel(kind)).toBe(label));

  it('splits area and category lists on any comma, 顿号, semicolon or space, once each', () => {
    expect(splitNames('城东区，城西区、 高新区;城东区')).toEqual(['城东区', '城西区', '高新区']);
    expect(splitNames('  ')).toEqual([]);
  });

  it('线索研判 is for duty officers, leaders and administrators, not units', () => {
    expect(mayOpen('duty', 'intake')).toBe(true);
    expect(mayOpen('leader', 'intake')).toBe(true);
    expect(mayOpen('unit', 'intake')).toBe(false);
  });
});
