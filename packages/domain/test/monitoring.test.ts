import { describe, expect, it } from 'vitest';
import {
  matchesExpression,
  matchRules,
  type MonitoringRule,
  normalizeForMatch,
  parseRuleExpression,
  RuleExpressionError,
} from '../src/monitoring.ts';

const match = (expr: string, text: string) => matchesExpression(parseRuleExpression(expr), normalizeForMatch(text));

describe('parseRuleExpression / matchesExpression', () => {
  it.each([
    ['城东 AND 高架桥', '网传城东高架桥出现裂缝', true],
    ['城东 AND 高架桥', '城西高架桥出现裂缝', false],
    ['城东 高架桥', '网传城东高架桥出现裂缝', true], // adjacent keywords are ANDed
    ['供水 OR 停水', '小区停水三天无人管', true],
    ['供水 | 停水', '小区供暖不足', false],
    ['(供水 OR 停水) AND NOT 演练', '停水应急演练通知', false],
    ['(供水 OR 停水) AND NOT 演练', '小区停水三天无人管', true],
    ['!广告 学校', '学校食堂问题', true],
    ['"住建局 回应"', '市住建局 回应 小区问题', true],
    ['"住建局 回应"', '住建局 今日 回应', false],
    ['（噪音 or 扰民） and 施工', '夜间施工噪音', true], // full-width brackets, lower-case operators
    ['ＡＢＣ', '关于abc公司的投诉', true], // full-width folded
    ['', '任何文本', true],
    ['   ', '任何文本', true],
    ['NOT NOT 学校', '学校', true],
    ['a OR b AND c', 'a', true], // AND binds tighter than OR
    ['(a OR b) AND c', 'a', false],
  ])('%s on %s → %s', (expr, text, expected) => {
    expect(match(expr, text)).toBe(expected);
  });

  it.each([
    ['(供水 OR 停水', 10, '")" expected'],
    ['供水 OR', 6, 'end of the expression'],
    ['AND 供水', 1, 'unexpected "AND"'],
    ['供水 )', 4, 'unexpected ")"'],
    ['"未闭合', 1, 'unterminated'],
    ['()', 2, 'unexpected ")"'],
    ['供水 AND OR 停水', 8, 'unexpected "OR"'],
  ])('refuses %s at character %i', (expr, position, reason) => {
    let error: unknown;
    try {
      parseRuleExpression(expr);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RuleExpressionError);
    expect((error as RuleExpressionError).position).toBe(position);
    expect((error as RuleExpressionError).reason).toContain(reason);
  });
});

describe('matchRules', () => {
  const rule = (id: string, expression: string, extra: Partial<MonitoringRule> = {}): MonitoringRule => ({
    id,
    name: id,
    expression: parseRuleExpression(expression),
    sources: [],
    areas: [],
    categories: [],
    ...extra,
  });

  it('filters by source kind, feed kind, area and category before the keywords', () => {
    const rules = [
      rule('a', '桥', { sources: ['feed:news'] }),
      rule('b', '噪音', { sources: ['hotline'], areas: ['城东区'], categories: ['投诉'] }),
    ];
    expect(matchRules(rules, { source: 'feed', feedKind: 'news', title: '城东高架桥裂缝' })?.id).toBe('a');
    expect(matchRules(rules, { source: 'feed', feedKind: 'forum', title: '城东高架桥裂缝' })).toBeNull();
    expect(matchRules(rules, { source: 'hotline', area: '城东区', category: '投诉', content: '夜间施工噪音' })?.id).toBe('b');
    expect(matchRules(rules, { source: 'hotline', area: '城西区', category: '投诉', content: '夜间施工噪音' })).toBeNull();
    expect(matchRules(rules, { source: 'hotline', content: '夜间施工噪音' })).toBeNull(); // no area: the area filter cannot pass
    expect(matchRules([rule('c', '', { sources: ['feed'] })], { source: 'feed', feedKind: 'forum' })?.id).toBe('c');
  });

  it('returns the first matching rule in the order given', () => {
    expect(matchRules([rule('a', '桥'), rule('b', '城东')], { source: 'feed', title: '城东高架桥' })?.id).toBe('a');
  });
});
