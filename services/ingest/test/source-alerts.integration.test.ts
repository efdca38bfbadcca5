/**
 * Alerts about sources reach people: a feed failing for an hour mails the administrators and
 * the duty officer on shift (the duty mailbox when nobody is); an official channel silent past
 * its rule mails its unit, copied to the supervising office. Real PostgreSQL, the dispatcher
 * delivering to a real SMTP server, a fake clock. Once per raise, however many processes look;
 * a recovery mails nobody and cancels what was not sent yet.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeClock } from '@huiying/clock';
import { alerts, auditLog, dutyShifts, eq, feeds, notifications, sql, units, users } from '@huiying/db';
import { DEFAULT_RULE_PACK } from '@huiying/domain';
import { CalendarService, OfficialChannels } from '@huiying/engine';
import { Dispatcher, emailChannel } from '@huiying/notify';
import { type ControllableSmtp, freshDatabase, startControllableSmtp, testLogger } from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedPoller } from '../src/feeds.ts';
import { AddressPolicy, DEFAULT_FETCH_POLICY } from '../src/fetch/index.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
// A Monday, 09:00 in Beijing.
const T0 = Date.parse('2026-11-30T09:00:00+08:00');
const wiring = { dashboardUrl: 'http://console.example.test/', dutyEmail: 'duty@example.test' };

let db: Awaited<ReturnType<typeof freshDatabase>>;
let smtp: ControllableSmtp;
let server: Server;
let base: string;
let healthy = false;

const addressesOf = (m: ControllableSmtp['mails'][number]) =>
  (Array.isArray(m.to) ? m.to : [m.to]).flatMap((a) => a?.value.map((v) => v.address) ?? []);
const mailsSince = (n: number) =>
  smtp.mails.slice(n).map((m) => ({ to: addressesOf(m).join(','), subject: m.subject ?? '', text: m.text ?? '' }));

function dispatcher(clock: FakeClock) {
  return new Dispatcher({
    db: db.db,
    clock,
    adapters: { email: emailChannel({ url: smtp.url, from: 'huiying@example.test' }) },
    logger: testLogger,
  });
}

beforeAll(async () => {
  db = await freshDatabase();
  smtp = await startControllableSmtp();
  server = createServer((_req, res) => {
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/rss+xml; charset=utf-8' });
    res.end(healthy ? '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>' : 'down');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const at = new Date(T0 - 7 * 24 * HOUR);
  await db.db.insert(units).values([
    { id: 'city', name: '市政府办公室', email: 'city@example.test' },
    { id: 'district', name: '东城区人民政府', email: 'district@example.test', parentId: 'city' },
  ]);
  await db.db.insert(users).values([
    { id: 'u-admin', username: 'admin1', displayName: '李管理', role: 'admin', email: 'admin@example.test', createdAt: at, updatedAt: at },
    { id: 'u-duty', username: 'duty1', displayName: '张值班', role: 'duty', email: 'zhang@example.test', createdAt: at, updatedAt: at },
    {
      id: 'u-unit',
      username: 'unit1',
      displayName: '王',
      role: 'unit',
      unitId: 'district',
      email: 'w@example.test',
      createdAt: at,
      updatedAt: at,
    },
  ]);
  // 张值班 is on shift Monday 08:00–20:00; nobody afterwards.
  await db.db.insert(dutyShifts).values({
    id: 'shift-1',
    userId: 'u-duty',
    startsAt: new Date(T0 - HOUR),
    endsAt: new Date(T0 + 11 * HOUR),
    createdBy: 'test',
    createdAt: at,
    updatedAt: at,
  });
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await smtp?.close();
  await db?.drop();
});

describe('feed_failing', () => {
  it('mails the administrators and the duty officer on shift once per raise; a recovery mails nobody; the next failure at night goes to the duty mailbox', async () => {
    const clock = new FakeClock(T0);
    await db.db.insert(feeds).values({ id: 'flaky', url: `${base}/flaky.xml`, name: '本地新闻网', addedAt: new Date(T0 - 24 * HOUR) });
    const poller = (owner: string) =>
      new FeedPoller({
        db: db.db,
        clock,
        logger: testLogger,
        owner,
        options: { fetch: { ...DEFAULT_FETCH_POLICY, addresses: new AddressPolicy(['127.0.0.1/32']), retries: 0 } },
        fetchDeps: { sleep: async () => undefined },
        alertNotices: wiring,
      });
    const [p1, p2] = [poller('p1'), poller('p2')];
    const d = dispatcher(clock);
    const before = smtp.mails.length;

    await p1.pollAll();
    await clock.advanceBy(30 * MIN);
    await p1.pollAll();
    await d.drain();
    expect(mailsSince(before)).toEqual([]);

    await clock.advanceBy(31 * MIN);
    await p1.pollAll();
    // Another ingest process looking at the same moment raises and mails nothing more.
    await Promise.all([p1.raiseFailingAlerts(), p2.raiseFailingAlerts()]);
    await d.drain();
    const first = mailsSince(before);
    expect(first.map((m) => m.to).sort()).toEqual(['admin@example.test', 'zhang@example.test']);
    for (const m of first) {
      expect(m.subject).toBe('【信息源故障】本地新闻网：连续抓取失败');
      expect(m.text).toContain('自 2026-11-30 09:00（北京时间）起抓取持续失败（已 1小时1分钟）');
      expect(m.text).toContain('最近错误：');
      expect(m.text).toContain('HTTP 503');
      expect(m.text).toContain('http://console.example.test/#/feeds');
    }
    expect(first.find((m) => m.to === 'zhang@example.test')!.text).toMatch(/^值班员张值班：/);
    const [raised] = await db.db
      .select()
      .from(auditLog)
      .where(sql`${auditLog.entityId} = 'feed_failing:flaky' and ${auditLog.action} = 'alert.raised'`);
    expect(raised!.result).toMatchObject({ notified: { queued: 2, dutyFallback: false } });

    // Still failing: no second mail.
    await clock.advanceBy(2 * HOUR);
    await p1.pollAll();
    await d.drain();
    expect(smtp.mails.length - before).toBe(2);

    // Recovered: withdrawn, and nobody is mailed about it.
    healthy = true;
    await p1.pollAll();
    await d.drain();
    expect(smtp.mails.length - before).toBe(2);
    const [alert] = await db.db.select().from(alerts).where(eq(alerts.id, 'feed_failing:flaky'));
    expect(alert!.retractedAt).not.toBeNull();

    // Failing again late at night (nobody on shift): a new raise, to the administrators and the duty mailbox.
    healthy = false;
    await clock.advanceTo(Date.parse('2026-11-30T22:00:00+08:00'));
    await p1.pollAll();
    await clock.advanceBy(61 * MIN);
    await p1.pollAll();
    await d.drain();
    const second = mailsSince(before + 2);
    expect(second.map((m) => m.to).sort()).toEqual(['admin@example.test', 'duty@example.test']);
    expect(second.find((m) => m.to === 'duty@example.test')!.text).toMatch(/^政务公开办值班室（值班表此时无人在班，发值班室邮箱）：/);
    const rows = await db.db
      .select()
      .from(notifications)
      .where(eq(notifications.clockKey, 'alert:feed_failing:flaky'))
      .orderBy(notifications.seq);
    expect(rows.map((r) => r.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
    expect(rows.every((r) => r.incidentId === null && r.stepKind === 'feed_failing')).toBe(true);
    await d.stop();
    healthy = true;
    await p1.pollAll();
  });
});

describe('channel_silent', () => {
  it('mails the channel’s unit, copied to its supervising office, once; its next item mails nobody', async () => {
    // Monday's item came at 10:00; Tuesday passes without one.
    const clock = new FakeClock(Date.parse('2026-12-02T00:30:00+08:00'));
    await db.db.insert(feeds).values({
      id: 'district-site',
      url: 'https://dc.example.gov.cn/rss',
      name: '东城发布',
      kind: 'official',
      unitId: 'district',
      silenceRule: 'working_day',
      addedAt: new Date(T0 - 7 * 24 * HOUR),
      lastItemAt: new Date(T0 + HOUR),
    });
    const calendars = new CalendarService(db.db);
    await calendars.load();
    const channels = () =>
      new OfficialChannels({
        engine: { db: db.db, clock, pack: () => DEFAULT_RULE_PACK, ladder: wiring },
        calendar: () => calendars.provisional,
      });
    const [a, b] = [channels(), channels()];
    const d = dispatcher(clock);
    const before = smtp.mails.length;

    // Two engines checking at once raise it once.
    const [ra, rb] = await Promise.all([a.checkSilence(), b.checkSilence()]);
    expect(ra.raised + rb.raised).toBe(1);
    expect((await a.checkSilence()).raised).toBe(0);
    await d.drain();
    const mails = mailsSince(before);
    expect(mails.map((m) => m.to)).toEqual(['district@example.test', 'city@example.test']);
    expect(mails.every((m) => m.subject === '【官方渠道未按时更新】东城发布')).toBe(true);
    expect(mails[0]!.text).toMatch(
      /^东城区人民政府：\n\n东城区人民政府的官方发布渠道“东城发布”未按规定频次更新（最近一次更新：2026-11-30 10:00，北京时间）/,
    );
    expect(mails[1]!.text).toMatch(/^市政府办公室（抄送）：/);
    expect(mails[0]!.text).toContain('判定依据：1 个工作日无更新');

    // The channel posts: the alert is withdrawn and nobody is mailed.
    await db.db
      .update(feeds)
      .set({ lastItemAt: new Date(clock.now()) })
      .where(eq(feeds.id, 'district-site'));
    expect(await a.checkSilence()).toEqual({ raised: 0, withdrawn: 1 });
    await d.drain();
    expect(smtp.mails.length - before).toBe(2);

    // Silent again, and updated before the mail went out: the unsent mail is cancelled.
    await clock.advanceTo(Date.parse('2026-12-04T00:30:00+08:00'));
    expect((await a.checkSilence()).raised).toBe(1);
    await db.db
      .update(feeds)
      .set({ lastItemAt: new Date(clock.now()) })
      .where(eq(feeds.id, 'district-site'));
    expect((await a.checkSilence()).withdrawn).toBe(1);
    await d.drain();
    expect(smtp.mails.length - before).toBe(2);
    const rows = await db.db
      .select()
      .from(notifications)
      .where(eq(notifications.clockKey, 'alert:channel_silent:district-site'))
      .orderBy(notifications.seq);
    expect(rows.map((r) => [r.role, r.status])).toEqual([
      ['unit', 'sent'],
      ['supervisor', 'sent'],
      ['unit', 'cancelled'],
      ['supervisor', 'cancelled'],
    ]);
    const trail = await db.db.select().from(auditLog).where(eq(auditLog.entityId, 'channel_silent:district-site')).orderBy(auditLog.id);
    expect(trail.map((t) => t.action)).toEqual(['alert.raised', 'alert.withdrawn', 'alert.raised', 'alert.withdrawn']);
    expect(trail[3]!.result).toMatchObject({ notificationsCancelled: 2 });
    await d.stop();
  });
});
