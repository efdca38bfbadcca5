import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, type Db, dutyShifts, eq, feeds, isNull, monitoringRules, sql, units, users } from '@huiying/db';

/**
 * Demo units: responsible units (责任单位) under the supervising office (政务公开办), which gets
 * the copies of every 催办 and the escalations of unassigned matters. Every one has an address,
 * so a drill with SMTP_URL shows the whole ladder arriving in a mailbox.
 */
export const DEMO_UNITS = [
  { id: 'gov-office', name: '市政府办公室（政务公开办）', email: 'zwgk@demo.huiying.local', parentId: null },
  { id: 'health', name: '市卫生健康委员会', email: 'wjw@demo.huiying.local', parentId: 'gov-office' },
  { id: 'housing', name: '市住房和城乡建设局', email: 'zjj@demo.huiying.local', parentId: 'gov-office' },
  { id: 'transport', name: '市交通运输局', email: 'jtj@demo.huiying.local', parentId: 'gov-office' },
  { id: 'environment', name: '市生态环境局', email: 'sthjj@demo.huiying.local', parentId: 'gov-office' },
  { id: 'market', name: '市市场监督管理局', email: 'scjgj@demo.huiying.local', parentId: 'gov-office' },
];

/** The demo leader's address: the 通报 step (leaders) reaches it. */
export const DEMO_LEADER_EMAIL = 'leader@demo.huiying.local';
export const DEMO_DUTY_EMAIL = 'duty-officer@demo.huiying.local';

const HOUR = 3_600_000;

/** RSS the demo feed serves: items published some hours before the (simulated) start. */
export function demoFeedXml(now: number): string {
  const items = [
    { guid: 'demo-news-1', title: '某小区自来水浑浊发黄 居民反映多日未解决', hoursAgo: 44, link: 'https://news.example.invalid/water' },
    { guid: 'demo-news-2', title: '网传城东高架桥出现裂缝 市民担忧通行安全', hoursAgo: 20, link: 'https://news.example.invalid/bridge' },
    { guid: 'demo-forum-3', title: '论坛热帖：学校周边商铺夜间噪声扰民', hoursAgo: 3, link: 'https://forum.example.invalid/noise' },
  ];
  const body = items
    .map(
      (i) =>
        `<item><guid>${i.guid}</guid><title>${i.title}</title><link>${i.link}</link><pubDate>${new Date(now - i.hoursAgo * HOUR).toUTCString()}</pubDate><description>${i.title}</description></item>`,
    )
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>演示新闻源</title><link>https://news.example.invalid/</link><description>Huiying demo feed</description>${body}</channel></rss>`;
}

/** The demo feed is served by a local HTTP server, polled by the real feed poller. */
export async function serveDemoFeed(now: () => number): Promise<{ url: string; server: Server }> {
  const start = now();
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/rss+xml; charset=utf-8' });
    res.end(demoFeedXml(start));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/rss.xml`, server };
}

export async function seedDemo(db: Db, feedUrl: string, now: number): Promise<void> {
  // A data directory from an older demo gets the supervising office and addresses too.
  await db
    .insert(units)
    .values(DEMO_UNITS)
    .onConflictDoUpdate({ target: units.id, set: { email: sql`excluded.email`, parentId: sql`excluded.parent_id` } });
  // Watched for two days already: its items are news, not an archive read on first sight.
  await db
    .insert(feeds)
    .values({ id: 'demo-news', url: feedUrl, name: '演示新闻源', kind: 'news', addedAt: new Date(now - 48 * HOUR) })
    .onConflictDoUpdate({ target: feeds.id, set: { url: feedUrl } });
  // 监测方案: only news matching a rule becomes an incident (12345 tickets match the hotline rule of migration 0011).
  await db
    .insert(monitoringRules)
    .values({
      id: 'mr_demo_city',
      name: '民生与城市管理（演示）',
      expression: '(供水 OR 自来水 OR 桥 OR 噪声 OR 噪音 OR 食堂 OR 学校) AND NOT 招聘',
      sources: ['feed'],
      createdBy: 'demo',
      createdAt: new Date(now),
      updatedAt: new Date(now),
    })
    .onConflictDoNothing();
}

/** Give the demo `leader` account an address (unless an administrator already set one). */
export async function addressDemoLeader(db: Db): Promise<void> {
  await db
    .update(users)
    .set({ email: DEMO_LEADER_EMAIL })
    .where(and(eq(users.username, 'leader'), eq(users.role, 'leader'), isNull(users.email)));
}

/**
 * The demo duty officer gets an address and a 12-hour shift from an hour ago (值班表), so the
 * urgent clocks' warnings and urgings reach an officer and a drill shows the 交接班 summary when
 * the shift ends. Only when the roster is empty (a restart keeps what an administrator set).
 */
export async function rosterDemoDuty(db: Db, now: number): Promise<void> {
  const [officer] = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.username, 'duty'), eq(users.role, 'duty')));
  if (!officer) return;
  await db
    .update(users)
    .set({ email: DEMO_DUTY_EMAIL })
    .where(and(eq(users.id, officer.id), isNull(users.email)));
  const [any] = await db.select({ id: dutyShifts.id }).from(dutyShifts).limit(1);
  if (any) return;
  const at = new Date(now);
  await db.insert(dutyShifts).values({
    id: 'demo-shift',
    userId: officer.id,
    startsAt: new Date(now - HOUR),
    endsAt: new Date(now + 11 * HOUR),
    note: '演示班次',
    createdBy: 'demo',
    createdAt: at,
    updatedAt: at,
  });
}

/** Demo 12345 tickets, posted through the real HTTP endpoint. */
export function demoTickets(now: number) {
  return [
    {
      id: 'DEMO-12345-0001',
      receivedAt: new Date(now - 46.5 * HOUR).toISOString(),
      title: '多名居民投诉垃圾中转站异味严重',
      content: '城南垃圾中转站近一周异味严重，多名居民来电反映，联系电话13812345678。',
      category: '投诉',
      area: '城南区',
      unit: 'environment',
    },
    {
      id: 'DEMO-12345-0002',
      receivedAt: new Date(now - 30 * HOUR).toISOString(),
      title: '公交线路调整未提前公告',
      content: '12路公交线路调整，站点取消未见公告，市民出行受影响。',
      category: '建议',
      area: '高新区',
      unit: 'transport',
    },
    {
      id: 'DEMO-12345-0003',
      receivedAt: new Date(now - 1 * HOUR).toISOString(),
      title: '食品安全：网传某学校食堂食材过期',
      content: '家长反映学校食堂使用过期食材，网上已有转发。',
      category: '举报',
      area: '城北区',
    },
  ];
}

/** Demo working-day duties, created through the real API. */
export function demoDuties(now: number) {
  const DAY = 24 * HOUR;
  return [
    {
      id: 'demo-policy-1',
      kind: 'policy_interpretation',
      issuedAt: new Date(now - 2 * DAY).toISOString(),
      title: '《关于进一步优化营商环境的若干措施》政策解读',
      unit: 'market',
    },
    {
      id: 'demo-ysq-1',
      kind: 'disclosure_request',
      issuedAt: new Date(now - 15 * DAY).toISOString(),
      title: '依申请公开：老旧小区改造资金使用情况',
      unit: 'housing',
    },
    {
      id: 'demo-penalty-1',
      kind: 'penalty_disclosure',
      issuedAt: new Date(now - 5 * DAY).toISOString(),
      title: '双随机抽查及行政处罚结果公开',
      unit: 'environment',
    },
  ];
}
