import type { LadderFiring } from '@huiying/domain';
import { describe, expect, it } from 'vitest';
import { contactsFor, type Directory, planLadderNotifications } from '../src/ladder-notifications.ts';

const H = 3_600_000;
const dir: Directory = {
  units: new Map([
    ['water', { id: 'water', name: '市水务局', email: 'water@example.test', parentId: 'office' }],
    ['office', { id: 'office', name: '市政府办公室', email: 'office@example.test', parentId: null }],
    ['lonely', { id: 'lonely', name: '某街道', email: null, parentId: null }],
  ]),
  dutyOffice: { name: '政务公开办值班室', unitId: null, addresses: { email: 'duty@example.test' } },
  leaders: [{ name: '分管领导', unitId: null, addresses: { email: 'leader@example.test' } }],
  dutyOfficer: { name: '值班员张三', unitId: null, addresses: { sms: '13900000000' } },
};

const urge: LadderFiring = {
  step: 'urge',
  kind: 'urge',
  occurrence: 0,
  key: 'urge#0',
  at: 0,
  to: ['unit'],
  cc: ['supervisor'],
  reportCandidate: false,
};

describe('contactsFor', () => {
  it.each([
    ['unit', 'water', ['市水务局']],
    ['unit', null, ['政务公开办值班室']],
    ['supervisor', 'water', ['市政府办公室']],
    ['supervisor', 'office', ['政务公开办值班室']],
    ['supervisor', null, ['政务公开办值班室']],
    ['leaders', 'water', ['分管领导']],
    ['duty', 'water', ['值班员张三']],
  ] as const)('%s of %s → %j', (role, unit, names) => {
    expect(contactsFor(role, unit, dir).map((c) => c.name)).toEqual(names);
  });
});

describe('planLadderNotifications', () => {
  const base = {
    firing: urge,
    subject: { type: 'incident' as const, id: 'i-1', title: '供水', level: 'II' },
    clock: { kind: 'response', startAt: 0, dueAt: 48 * H, spanMs: 48 * H, seq: 2 },
    now: Date.parse('2026-03-02T10:00:00+08:00'),
    dashboardUrl: 'http://x/',
    directory: dir,
  };

  it('one row per recipient and channel, keyed by (clock, step, recipient, channel); cc marked in the greeting', () => {
    const rows = planLadderNotifications({ ...base, unitId: 'water' });
    expect(rows.map((r) => [r.clockKey, r.step, r.role, r.recipient, r.channel, r.recipientUnitId])).toEqual([
      ['incident:i-1:2', 'urge#0', 'unit', 'water@example.test', 'email', 'water'],
      ['incident:i-1:2', 'urge#0', 'supervisor', 'office@example.test', 'email', 'office'],
    ]);
    expect(rows[1]!.text).toMatch(/^市政府办公室（抄送）：/);
    expect(rows[0]!.html).toContain('<!doctype html>');
  });

  it('unassigned: the duty office gets it once, though it stands for both unit and supervisor', () => {
    const rows = planLadderNotifications({ ...base, unitId: null });
    expect(rows.map((r) => [r.role, r.recipient])).toEqual([['unit', 'duty@example.test']]);
    expect(rows[0]!.text).toContain('（待交办）');
  });

  it('a unit without an email address gets nothing by email (the supervisor fallback still does)', () => {
    const rows = planLadderNotifications({ ...base, unitId: 'lonely' });
    expect(rows.map((r) => [r.role, r.recipient])).toEqual([['supervisor', 'duty@example.test']]);
  });

  it('a working-day duty is keyed by the duty', () => {
    const rows = planLadderNotifications({
      ...base,
      unitId: 'water',
      subject: { type: 'obligation', id: 'o-1', title: '政策解读' },
      clock: { kind: 'policy_interpretation', startAt: 0, dueAt: 72 * H, workingDays: 3 },
    });
    expect(rows[0]).toMatchObject({ clockKey: 'obligation:o-1', obligationId: 'o-1', groupKey: 'o-1' });
    expect(rows[0]!.incidentId).toBeUndefined();
  });
});
