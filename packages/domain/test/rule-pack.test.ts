import { describe, expect, it } from 'vitest';
import { DomainError } from '../src/errors.ts';
import { DEFAULT_RULE_PACK, parseRulePack } from '../src/rule-pack.ts';

const H = 3_600_000;

describe('DEFAULT_RULE_PACK (replay.md)', () => {
  it('has the State Council spans and working days', () => {
    expect(DEFAULT_RULE_PACK.clocks.response.spanMs).toBe(48 * H);
    expect(DEFAULT_RULE_PACK.clocks.release.spanMs).toBe(5 * H);
    expect(DEFAULT_RULE_PACK.clocks.press_conference.spanMs).toBe(24 * H);
    expect(DEFAULT_RULE_PACK.clocks.release.warnings).toEqual([0.5, 0.8]);
    expect(DEFAULT_RULE_PACK.clocks.release.metBy).toEqual(['release', 'press_conference', 'reply']);
    expect(DEFAULT_RULE_PACK.clocks.press_conference.metBy).toEqual(['press_conference']);
    expect(Object.fromEntries(Object.entries(DEFAULT_RULE_PACK.obligations).map(([k, v]) => [k, v.workingDays]))).toEqual({
      policy_interpretation: 3,
      service_change: 1,
      proposal_reply: 10,
      penalty_disclosure: 20,
      disclosure_request: 20,
    });
    expect(DEFAULT_RULE_PACK.obligations.disclosure_request.extension).toEqual({ workingDays: 20 });
    expect(DEFAULT_RULE_PACK.obligations.penalty_disclosure.extension).toBeNull();
  });

  it('is frozen, so no caller can change it for everyone', () => {
    expect(Object.isFrozen(DEFAULT_RULE_PACK.clocks.release)).toBe(true);
    expect(Object.isFrozen(DEFAULT_RULE_PACK.clocks.release.warnings)).toBe(true);
  });
});

describe('parseRulePack', () => {
  it('tightens by data only, keeping everything else', () => {
    const pack = parseRulePack({
      name: '某市',
      clocks: { release: { spanHours: 3, warnings: [0.5] } },
      obligations: { proposal_reply: { workingDays: 5 } },
    });
    expect(pack.name).toBe('某市');
    expect(pack.clocks.release).toEqual({ spanMs: 3 * H, warnings: [0.5], metBy: ['release', 'press_conference', 'reply'] });
    expect(pack.clocks.response).toBe(DEFAULT_RULE_PACK.clocks.response);
    expect(pack.obligations.proposal_reply.workingDays).toBe(5);
    expect(pack.obligations.proposal_reply.warnings).toEqual([0.5, 0.8]);
  });

  it('accepts spanMs, metBy and extension changes', () => {
    const pack = parseRulePack({
      clocks: { press_conference: { spanMs: 12 * H, metBy: ['press_conference', 'release'] } },
      obligations: { disclosure_request: { extension: null }, penalty_disclosure: { extension: { workingDays: 10 } } },
    });
    expect(pack.clocks.press_conference.spanMs).toBe(12 * H);
    expect(pack.clocks.press_conference.metBy).toEqual(['press_conference', 'release']);
    expect(pack.obligations.disclosure_request.extension).toBeNull();
    expect(pack.obligations.penalty_disclosure.extension).toEqual({ workingDays: 10 });
  });

  it('an empty document is the base pack', () => {
    expect(parseRulePack({}).clocks).toEqual(DEFAULT_RULE_PACK.clocks);
  });

  it.each([
    ['not an object', [], '/'],
    ['unknown top-level key', { clock: {} }, '/clock'],
    ['a typo in a clock kind', { clocks: { relase: { spanHours: 3 } } }, '/clocks/relase'],
    ['a span that is not a number', { clocks: { release: { spanHours: '3' } } }, '/clocks/release/spanHours'],
    ['a zero span', { clocks: { release: { spanHours: 0 } } }, '/clocks/release/spanHours'],
    ['a fractional spanMs', { clocks: { release: { spanMs: 1.5 } } }, '/clocks/release/spanMs'],
    ['both span forms', { clocks: { release: { spanMs: 1000, spanHours: 1 } } }, '/clocks/release: give spanMs or spanHours, not both'],
    ['a warning at 100 %', { clocks: { release: { warnings: [0.5, 1] } } }, '/clocks/release/warnings/1'],
    [
      'warnings out of order',
      { clocks: { release: { warnings: [0.8, 0.5] } } },
      '/clocks/release/warnings/1: warning fractions must be strictly increasing',
    ],
    ['an unknown response kind', { clocks: { release: { metBy: ['tweet'] } } }, '/clocks/release/metBy/0'],
    ['no qualifying kinds', { clocks: { release: { metBy: [] } } }, '/clocks/release/metBy'],
    ['negative working days', { obligations: { service_change: { workingDays: -1 } } }, '/obligations/service_change/workingDays'],
    [
      'an empty extension',
      { obligations: { disclosure_request: { extension: { workingDays: 0 } } } },
      '/obligations/disclosure_request/extension',
    ],
    ['an unknown obligation kind', { obligations: { tax_refund: {} } }, '/obligations/tax_refund'],
  ])('rejects %s, naming the path', (_, doc, path) => {
    expect(() => parseRulePack(doc)).toThrow(DomainError);
    expect(() => parseRulePack(doc)).toThrow(`rule pack invalid: ${path}`);
  });
});
