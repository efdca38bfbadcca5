import { describe, expect, it } from 'vitest';
import type { Directory } from '../src/ladder-notifications.ts';
import { planSourceAlertNotifications, type SourceAlert } from '../src/source-alerts.ts';

const AT = Date.parse('2026-11-30T22:30:00+08:00');
const directory: Directory = {
  units: new Map([
    ['city', { id: 'city', name: '市政府办公室', email: 'city@example.test', parentId: null }],
    ['district', { id: 'district', name: '东城区人民政府', email: 'district@example.test', parentId: 'city' }],
    ['bureau', { id: 'bureau', name: '市水务局', email: null, parentId: null }],
  ]),
  dutyOffice: { name: '政务公开办值班室', unitId: null, addresses: { email: 'duty@example.test' } },
  leaders: [{ name: '市领导', unitId: null, addresses: { email: 'leader@example.test' } }],
  roster: [
    {
      startsAt: AT - 3_600_000,
      endsAt: AT + 3_600_000,
      officer: { name: '值班员张三', unitId: null, addresses: { email: 'admin@example.test', sms: '13800000000' } },
    },
  ],
};
const silent = (unitId: string | null): SourceAlert => ({
  alertId: 'channel_silent:site',
  kind: 'channel_silent',
  raisedAt: AT,
  feed: { id: 'site', name: '东城发布', url: null },
  unitId,
  since: null,
  detail: '1 个工作日无更新',
});
const plan = (a: SourceAlert) =>
  planSourceAlertNotifications(a, {
    directory,
    admins: [{ name: '管理员李四', unitId: null, addresses: { email: 'admin@example.test' } }],
    dashboardUrl: 'http://c.example.test',
  });

describe('planSourceAlertNotifications', () => {
  it('channel_silent: the unit, copied to its supervising office; one key per raise, email only', () => {
    const rows = plan(silent('district'));
    expect(rows.map((r) => [r.role, r.recipient, r.channel])).toEqual([
      ['unit', 'district@example.test', 'email'],
      ['supervisor', 'city@example.test', 'email'],
    ]);
    expect(new Set(rows.map((r) => `${r.clockKey}|${r.step}`))).toEqual(
      new Set(['alert:channel_silent:site|raised@2026-11-30T14:30:00.000Z']),
    );
    expect(rows[1]!.text).toMatch(/^市政府办公室（抄送）：/);
    expect(rows[0]!.text).toContain('http://c.example.test/#/feeds');
  });

  it('channel_silent: the duty office stands in for a missing supervisor, and for a unit without an address nobody is invented', () => {
    expect(plan(silent('city')).map((r) => [r.role, r.recipient])).toEqual([
      ['unit', 'city@example.test'],
      ['supervisor', 'duty@example.test'],
    ]);
    expect(plan(silent('bureau')).map((r) => [r.role, r.recipient])).toEqual([['supervisor', 'duty@example.test']]);
  });

  it('feed_failing: administrators and the officer on shift, one mail per address', () => {
    const rows = plan({
      alertId: 'feed_failing:news',
      kind: 'feed_failing',
      raisedAt: AT,
      feed: { id: 'news', name: '本地新闻网', url: 'https://news.example.com/rss' },
      unitId: null,
      since: AT - 3_660_000,
      detail: 'HTTP 503',
    });
    // The administrator is also the officer on shift: one mail.
    expect(rows.map((r) => [r.role, r.recipient])).toEqual([['admin', 'admin@example.test']]);
    expect(rows[0]!.subject).toBe('【信息源故障】本地新闻网：连续抓取失败');
    expect(rows[0]!.text).toContain('自 2026-11-30 21:29（北京时间）起抓取持续失败（已 1小时1分钟）');
    expect(rows[0]!.text).toContain('最近错误：HTTP 503');
  });
});
