/**
 * The walking skeleton, end to end on real services: a 12345 ticket over HTTP and an item
 * from a feed on a local HTTP server travel → outbox → Kafka broker → engine → PostgreSQL →
 * breach at due (fake clock) → the ladder's notifications queued in the same transaction →
 * the dispatcher → a real SMTP server → visible through the API.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KafkaBus } from '@huiying/bus/kafka';
import { FakeClock } from '@huiying/clock';
import { feeds, monitoringRules, rowsOf, sql, units } from '@huiying/db';
import { emailChannel } from '@huiying/notify';
import { ensureDemoAccounts } from '@huiying/identity';
import {
  eventually,
  freshDatabase,
  kafkaBus,
  loginAs,
  type SessionClient,
  startSmtp,
  type TestSmtp,
  testLogger,
  uniqueName,
} from '@huiying/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHuiying, type Huiying } from '../src/compose.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-03-02T08:00:00+08:00');

describe('ticket and feed item → Kafka → engine → Postgres → breach → email → API', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let bus: KafkaBus;
  let smtp: TestSmtp;
  let clock: FakeClock;
  let hy: Huiying;
  let duty: SessionClient;
  let feedServer: Server;
  let feedUrl: string;

  beforeAll(async () => {
    db = await freshDatabase();
    bus = await kafkaBus();
    smtp = await startSmtp();
    clock = new FakeClock(T0);
    await db.db.insert(units).values([
      { id: 'health', name: '市卫生健康委员会', email: 'wjw@example.test' },
      { id: 'gov-office', name: '市政府办公室', email: 'zwgk@example.test' },
    ]);
    // 监测方案: the feed item about the bridge matches (tickets match migration 0011's hotline rule).
    await db.db.insert(monitoringRules).values({
      id: 'mr_city',
      name: '城建',
      expression: '桥 OR 裂缝',
      sources: ['feed'],
      createdBy: 'test',
      createdAt: new Date(T0),
      updatedAt: new Date(T0),
    });
    feedServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/rss+xml; charset=utf-8' });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>本地新闻</title><link>http://x.test/</link><description>d</description>` +
          `<item><guid>feed-item-1</guid><title>网传城东高架桥出现裂缝</title><link>http://x.test/bridge</link><pubDate>${new Date(T0 - 2 * HOUR).toUTCString()}</pubDate></item>` +
          `</channel></rss>`,
      );
    });
    await new Promise<void>((r) => feedServer.listen(0, '127.0.0.1', r));
    feedUrl = `http://127.0.0.1:${(feedServer.address() as AddressInfo).port}/rss.xml`;
    hy = await createHuiying({
      handle: db,
      bus,
      clock,
      channels: { email: emailChannel({ url: smtp.url, from: 'huiying@example.test' }) },
      logger: testLogger,
      dutyEmail: 'duty@example.test',
      publicUrl: 'http://localhost/',
      groupSuffix: uniqueName('-g'),
      relayPollMs: 50,
      timerResyncMs: 0,
      dispatchPollMs: 24 * HOUR,
      feedAllowCidrs: ['127.0.0.1/32'],
    });
    await hy.app.ready();
    await ensureDemoAccounts(db.db, new Date());
    duty = await loginAs(hy.app, 'duty');
  });

  afterAll(async () => {
    await hy?.stop();
    await bus?.close();
    await smtp?.close();
    feedServer?.close();
    await db?.drop();
  });

  const incidents = async () =>
    (await duty.inject({ method: 'GET', url: '/api/incidents?status=open' })).json<{
      items: {
        id: string;
        title: string;
        startAt: string;
        unit: { id: string } | null;
        clocks: { kind: string; state: string; dueAt: string }[];
      }[];
    }>().items;

  it('rejects a malformed ticket with a 4xx naming the field, and accepts nothing', async () => {
    const res = await duty.inject({
      method: 'POST',
      url: '/api/tickets',
      payload: { id: 'T-bad', receivedAt: '2026-03-02 08:00', content: '内容' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'HY_VALIDATION' });
    expect(res.json().message).toContain('receivedAt');
    const missing = await duty.inject({
      method: 'POST',
      url: '/api/tickets',
      payload: { id: 'T-bad', receivedAt: '2026-03-02T08:00:00+08:00' },
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().message).toContain('content');
    const [row] = rowsOf<{ n: number }>(await db.db.execute(sql`select count(*)::int as n from signals`));
    expect(row!.n).toBe(0);
  });

  it('a hotline ticket becomes an incident with a 48 h response clock, once even if posted twice', async () => {
    const ticket = {
      id: 'T-0001',
      receivedAt: new Date(T0).toISOString(),
      title: '小区供水水质浑浊',
      content: '居民反映自来水发黄，电话13812345678',
      unit: 'health',
    };
    const first = await duty.inject({ method: 'POST', url: '/api/tickets', payload: ticket });
    expect(first.statusCode).toBe(201);
    const again = await duty.inject({ method: 'POST', url: '/api/tickets', payload: ticket });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ signalId: first.json().signalId, duplicate: true, history: false });

    const incident = await eventually(
      async () => (await incidents()).find((i) => i.title === '小区供水水质浑浊'),
      'the ticket to become an incident',
    );
    expect(incident.unit?.id).toBe('health');
    expect(incident.clocks).toEqual([
      expect.objectContaining({ kind: 'response', state: 'running', dueAt: new Date(T0 + 48 * HOUR).toISOString() }),
    ]);
    // Redelivery and the duplicate post created nothing new.
    expect((await incidents()).filter((i) => i.title === '小区供水水质浑浊')).toHaveLength(1);
    // The citizen's phone number is not in the audit trail in clear.
    const audit = rowsOf<{
      input: string;
    }>(await db.db.execute(sql`select input::text as input from audit_log where action = 'signal.accepted'`));
    expect(audit.some((a) => a.input.includes('13812345678'))).toBe(false);
  });

  it('a feed item polled from a local HTTP server becomes an incident that starts at its publish time', async () => {
    await db.db.insert(feeds).values({ id: 'local-news', url: feedUrl, name: '本地新闻', addedAt: new Date(T0 - 3 * HOUR) });
    const [result] = await hy.poller.pollAll();
    expect(result).toMatchObject({ status: 'updated', items: 1, accepted: 1 });
    hy.relay.wake();
    const incident = await eventually(
      async () => (await incidents()).find((i) => i.title === '网传城东高架桥出现裂缝'),
      'the feed item to become an incident',
    );
    expect(incident.startAt).toBe(new Date(T0 - 2 * HOUR).toISOString());
    expect(incident.clocks[0]).toMatchObject({ kind: 'response', dueAt: new Date(T0 + 46 * HOUR).toISOString() });
    // Polling again accepts nothing new.
    const [second] = await hy.poller.pollAll();
    expect(second).toMatchObject({ accepted: 0 });
  });

  it('warns before due, breaches at due, walks the ladder to the responsible unit (or the duty office), each mail once, shown through the API', async () => {
    await hy.engine.timer.rearm();
    await clock.advanceTo(T0 + 24 * HOUR - 1);
    let open = (await duty.inject({ method: 'GET', url: '/api/alerts?open=true' })).json<{
      items: { kind: string; incidentTitle: string; elapsed: number | null }[];
    }>().items;
    expect(open.filter((a) => a.kind === 'warning' && a.incidentTitle === '小区供水水质浑浊')).toHaveLength(0);

    await clock.advanceTo(T0 + 24 * HOUR);
    open = (await duty.inject({ method: 'GET', url: '/api/alerts?open=true' })).json<{
      items: { kind: string; incidentTitle: string; elapsed: number | null }[];
    }>().items;
    expect(open.filter((a) => a.incidentTitle === '小区供水水质浑浊')).toEqual([
      expect.objectContaining({ kind: 'warning', elapsed: 0.5 }),
    ]);

    // The feed incident (due T0+46h) breaches first; then the ticket's (due T0+48h).
    await clock.advanceTo(T0 + 48 * HOUR);
    const breaches = (await duty.inject({ method: 'GET', url: '/api/alerts?open=true' }))
      .json<{ items: { kind: string; incidentTitle: string; dueAt: string }[] }>()
      .items.filter((a) => a.kind === 'breached');
    expect(breaches.map((b) => b.incidentTitle).sort()).toEqual(['小区供水水质浑浊', '网传城东高架桥出现裂缝'].sort());

    const urgeToUnit = await eventually(
      async () => smtp.mails.find((m) => JSON.stringify(m.to).includes('wjw@example.test') && m.subject?.startsWith('【超时督办】')),
      'the breach mail to the responsible unit',
    );
    expect(urgeToUnit.subject).toBe('【超时督办】小区供水水质浑浊：权威回应已超时');
    expect(urgeToUnit.text).toContain('权威回应（时限48小时）：2026-03-04 08:00 前（北京时间）');
    // The assigned ticket: notice, two warnings, the urge (its unit has no supervising office: the
    // copy goes to the duty office). The unassigned feed incident: warnings and urge to the duty office.
    await eventually(async () => smtp.mails.length === 8 || undefined, 'every ladder mail so far');
    const counts = (to: string, tag: string) =>
      smtp.mails.filter((m) => JSON.stringify(m.to).includes(to) && m.subject?.startsWith(`【${tag}】`)).length;
    expect([counts('wjw@', '交办'), counts('wjw@', '预警'), counts('wjw@', '超时督办')]).toEqual([1, 2, 1]);
    expect([counts('duty@', '预警'), counts('duty@', '超时督办')]).toEqual([2, 2]);
    // Each mail carries its notification's stable Message-ID; the API lists them with the incident.
    const rows = rowsOf<{ id: string; status: string; message_id: string | null }>(
      await db.db.execute(sql`select id, status, message_id from notifications order by seq`),
    );
    expect(rows).toHaveLength(8);
    expect(rows.every((r) => r.status === 'sent' && r.message_id === `<${r.id}@huiying.local>`)).toBe(true);
    const ticket = (await incidents()).find((i) => i.title === '小区供水水质浑浊')!;
    const timeline = (await duty.inject({ method: 'GET', url: `/api/incidents/${ticket.id}/timeline` })).json<{
      mails: { to: string; subject: string; status: string }[];
    }>();
    expect(timeline.mails.filter((m) => m.to === 'wjw@example.test').map((m) => m.subject.slice(0, 4))).toEqual([
      '【交办】',
      '【预警】',
      '【预警】',
      '【超时督',
    ]);
    // Exactly once: the timer firing again, or the events being redelivered, sends nothing more
    // until the next ladder step (12 h after the feed incident's due: the urge again, the leaders).
    await clock.advanceTo(T0 + 58 * HOUR - 1);
    await hy.dispatcher.drain();
    expect(smtp.mails).toHaveLength(8);

    const clocks = (await incidents()).flatMap((i) => i.clocks);
    expect(clocks.every((c) => c.state === 'breached')).toBe(true);
  });
});
