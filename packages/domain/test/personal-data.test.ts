import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskPersonalData, maskPersonalDataDeep, maskPersonalField } from '../src/personal-data.ts';

describe('maskPersonalData: phone numbers', () => {
  it.each([
    ['联系电话13812345678', '联系电话138****5678'],
    ['电话：138 1234 5678。', '电话：138****5678。'],
    ['电话138-1234-5678', '电话138****5678'],
    ['+8613812345678', '+86 138****5678'],
    ['+86 138 1234 5678', '+86 138****5678'],
    ['0086-13812345678', '+86 138****5678'],
    ['(+86)13812345678', '+86 138****5678'],
    ['手机：１３８１２３４５６７８', '手机：138****5678'],
    ['手机１３８－１２３４－５６７８', '手机138****5678'],
    ['＋８６　１３８１２３４５６７８', '+86 138****5678'],
    ['座机0851-12345678', '座机0851-****5678'],
    ['座机(0851)12345678', '座机0851-****5678'],
    ['座机（０８５１）８６１２３４５６', '座机0851-****3456'],
    ['北京010-87654321', '北京010-****4321'],
    ['广州020 8765 4321', '广州020-****4321'],
    ['+86 10 8765 4321', '010-****4321'],
    ['085186123456', '0851-****3456'],
    ['0851-86123456转8021', '0851-****3456转**'],
    ['客服400-123-4567', '客服400***4567'],
    ['客服400 123 4567', '客服400***4567'],
    ['热线800-810-8888', '热线800***8888'],
    ['拨打95598反映停电', '拨打95***反映停电'],
    ['致电95105588', '致电95******'],
  ])('%s → %s', (input, expected) => {
    expect(maskPersonalData(input)).toBe(expected);
  });

  it.each([
    ['拨打12345热线'],
    ['2026-11-28 08:00:00 受理'],
    ['罚款95000元'],
    ['1995年建成'],
    ['工单编号20261128000123'],
    ['面积120.5平方米，价格3800元'],
    ['第3期，共12345户'],
  ])('leaves %s alone', (input) => {
    expect(maskPersonalData(input)).toBe(input);
  });
});

describe('maskPersonalData: ID card numbers', () => {
  it.each([
    ['身份证11010519491231002X', '身份证[身份证号已隐去]'],
    ['身份证号：110105194912310021，', '身份证号：[身份证号已隐去]，'],
    ['身份证 110105 19491231 002x', '身份证 [身份证号已隐去]'],
    ['证件号１１０１０５１９４９１２３１００２Ｘ', '证件号[身份证号已隐去]'],
    ['旧证110105491231002', '旧证[身份证号已隐去]'],
    ['号码110105199913451234', '号码[身份证号已隐去]'],
  ])('%s → %s', (input, expected) => {
    expect(maskPersonalData(input.replace('Ｘ', 'X'))).toBe(expected);
  });
  it('does not mistake a mobile number inside an ID number for a phone', () => {
    expect(maskPersonalData('110105199913812345')).toBe('[身份证号已隐去]');
  });
});

describe('maskPersonalData: names in ticket phrasings', () => {
  it.each([
    ['我叫张三，家住城东小区', '我叫张*，家住城东小区'],
    ['我是王小明，反映噪声问题', '我是王**，反映噪声问题'],
    ['本人李四反映', '本人李*反映'],
    ['姓名：赵六六', '姓名：赵**'],
    ['联系人：欧阳娜娜，电话13812345678', '联系人：欧阳**，电话138****5678'],
    ['来电人陈红反映小区停水', '来电人陈*反映小区停水'],
    ['投诉人：刘德华 电话', '投诉人：刘** 电话'],
    ['市民周杰来电称', '市民周*来电称'],
    ['联系人：钱先生', '联系人：钱先生'],
  ])('%s → %s', (input, expected) => {
    expect(maskPersonalData(input)).toBe(expected);
  });
  it.each([['我是本小区业主'], ['我是一名外卖骑手'], ['本人是租户'], ['市民反映道路积水'], ['我是在校学生'], ['居民张某某反映']])(
    'leaves %s alone',
    (input) => {
      expect(maskPersonalData(input)).toBe(input);
    },
  );
});

describe('maskPersonalData properties', () => {
  const digit = fc.constantFrom(...'0123456789');
  const mobile = fc
    .tuple(fc.constantFrom('13', '15', '17', '18', '19'), fc.array(digit, { minLength: 9, maxLength: 9 }))
    .map(([p, ds]) => p + ds.join(''));
  const format = fc.constantFrom(
    (m: string) => m,
    (m: string) => `+86${m}`,
    (m: string) => `0086 ${m}`,
    (m: string) => `${m.slice(0, 3)}-${m.slice(3, 7)}-${m.slice(7)}`,
    (m: string) => `${m.slice(0, 3)} ${m.slice(3, 7)} ${m.slice(7)}`,
    (m: string) => m.replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d))),
  );
  const cjk = fc.string({ unit: fc.constantFrom(...'市民反映小区噪声问题，。电话联系请尽快处理') });

  it('no mobile number survives in any format, anywhere in Chinese text', () => {
    fc.assert(
      fc.property(cjk, mobile, format, cjk, (before, m, f, after) => {
        const out = maskPersonalData(`${before}${f(m)}${after}`);
        // Full-width digits count as digits; the kept prefix and suffix may by chance spell the
        // middle four, so assert on the whole number and on the mask itself.
        const digits = out.replace(/[\uff10-\uff19]/g, (d) => String(d.charCodeAt(0) - 0xff10)).replace(/\D/g, '');
        expect(digits).not.toContain(m);
        expect(out).toContain(`${m.slice(0, 3)}****${m.slice(7)}`);
      }),
      { numRuns: 1000 },
    );
  });

  it('is idempotent and never throws', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const once = maskPersonalData(s);
        expect(maskPersonalData(once)).toBe(once);
      }),
      { numRuns: 300 },
    );
  });

  it('masks every string in nested values', () => {
    expect(maskPersonalDataDeep({ a: ['电话13812345678'], b: { c: '我叫张三。' }, n: 1, d: null })).toEqual({
      a: ['电话138****5678'],
      b: { c: '我叫张*。' },
      n: 1,
      d: null,
    });
  });
});

describe('maskPersonalField: a ticket id, area, category or unit as it travels', () => {
  it.each([
    ['鼓楼区'],
    ['鼓楼区（东街街道）'],
    ['城乡建设／噪音扰民'],
    ['投诉'],
    ['unit-housing'],
    ['2026093000123'],
    ['GZ-20260930-000123'],
    ['hotline-city:T-1'],
    ['地铁３号线沿线'],
  ])('keeps the administrative value %s exactly as written (rules compare it whole)', (value) => {
    expect(maskPersonalField(value)).toBe(value);
    expect(maskPersonalField(value, { address: true })).toBe(value);
  });

  it.each([
    ['13911112222', '139****2222'],
    ['hotline-city:13911112222-0930', 'hotline-city:139****2222-0930'],
    ['投诉（回电13911112222）', '投诉(回电139****2222)'],
    ['联系人王五', '联系人王*'],
    ['110101199003077777', '[身份证号已隐去]'],
  ])('masks what reads as personal data in %s', (value, masked) => {
    expect(maskPersonalField(value)).toBe(masked);
  });

  it('masks a house-level address in an area, not the division it lies in', () => {
    expect(maskPersonalField('鼓楼区中山路12号3单元502室', { address: true })).toBe('鼓楼区中山路*号*单元*室');
    expect(maskPersonalField('城南区幸福小区5栋1-2层（联系人赵敏华）', { address: true })).toBe('城南区幸福小区*栋*层(联系人赵**)');
    expect(maskPersonalField('鼓楼区中山路12号3单元502室')).toBe('鼓楼区中山路12号3单元502室');
  });

  it('is idempotent', () => {
    fc.assert(
      fc.property(fc.string(), fc.boolean(), (s, address) => {
        const once = maskPersonalField(s, { address });
        expect(maskPersonalField(once, { address })).toBe(once);
      }),
      { numRuns: 300 },
    );
  });
});
