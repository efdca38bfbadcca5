/**
 * The demo's past quarter, so a leader who logs in to the embedded demo sees statistics: on-time
 * rates that differ by unit, late responses and how long overdue, a monthly trend, a ranking and
 * a 通报 draft with something in it.
 *
 * It is not inserted as rows: the same composition `pnpm start` runs (ingest, engine, ladder,
 * API) lives through the last 90 days on a fake clock, and the past goes in the way it would
 * have — 12345 tickets posted to the hotline endpoint at the time they came in, grading by the
 * duty officer, responses recorded by each unit's own account when that unit got round to it
 * (on time or late, by a per-unit habit), working-day duties issued and fulfilled, the timer
 * firing warnings and breaches in between. Every matter in it is answered before today, so the
 * live demo's open matters stay the ones on the board. The ladder's mail of that quarter goes
 * to a recording adapter: it is on each incident's page, and nobody is mailed about the past.
 *
 * Deterministic (a seeded generator): the same quarter every time, relative to `now`.
 */
import { EmbeddedBus } from '@huiying/bus';
import { FakeClock } from '@huiying/clock';
import { type DbHandle, rowsOf, sql } from '@huiying/db';
import type { RulePack } from '@huiying/domain';
import { DEMO_PASSWORD } from '@huiying/identity';
import { nullAdapter } from '@huiying/notify';
import type { Logger } from 'pino';
import { createHuiying } from './compose.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** How each unit answers: the share of deadlines met in time. */
const HABITS: Record<string, number> = { health: 0.95, housing: 0.88, market: 0.8, environment: 0.72, transport: 0.6 };

/** One matter per title: distinct texts, so grouping keeps them apart. */
const MATTERS: Record<string, string[]> = {
  health: [
    '社区卫生服务中心疫苗预约难',
    '医院停车场收费标准不明',
    '流感高发期儿科门诊排队过长',
    '乡镇卫生院药品短缺',
    '医保异地结算办理不畅',
    '食堂从业人员健康证过期',
    '孕产妇建档流程繁琐',
    '急救车响应时间偏长',
    '养老机构医疗服务不到位',
    '诊所违规开展医美项目',
  ],
  housing: [
    '锦华小区电梯频繁停运',
    '拆迁安置补偿标准不公开',
    '物业擅自上调停车费',
    '老旧小区改造工程扰民',
    '商品房延期交付维权',
    '公租房分配结果存疑',
    '楼顶违章搭建无人查处',
    '建筑工地夜间施工噪声',
    '房屋维修资金使用不透明',
    '学区房政策调整引发担忧',
  ],
  market: [
    '超市销售过期冷冻食品',
    '网红奶茶店卫生状况堪忧',
    '预付卡健身房突然闭店',
    '农贸市场缺斤短两',
    '电动自行车充电器质量问题',
    '培训机构退费难',
    '加油站油品质量投诉',
    '药店处方药违规销售',
    '直播带货虚假宣传',
    '节日期间景区餐饮宰客',
  ],
  environment: [
    '化工园区夜间异味扰民',
    '城西河道黑臭反弹',
    '垃圾焚烧厂排放引发担忧',
    '工地扬尘污染严重',
    '餐饮油烟直排居民楼',
    '采石场粉尘影响农作物',
    '污水处理厂溢流入河',
    '养殖场粪污直排',
    '秸秆焚烧烟雾弥漫',
    '危废仓库存在泄漏隐患',
  ],
  transport: [
    '12路公交线路调整未公告',
    '高架桥伸缩缝异响',
    '网约车平台乱收费',
    '学校周边交通拥堵',
    '地铁站出入口长期封闭',
    '出租车拒载绕路',
    '农村客运班次减少',
    '共享单车乱停放占道',
    '货车超载压坏乡村公路',
    '驾校培训收费不透明',
  ],
};

const AREAS = ['城南区', '城北区', '高新区', '经开区', '老城区'];
const CATEGORIES: Record<string, string> = {
  health: '医疗卫生',
  housing: '住房城建',
  market: '市场监管',
  environment: '生态环境',
  transport: '交通运输',
};

/** mulberry32: a small seeded generator, so the demo's past is the same every time. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Step {
  at: number;
  what: string;
  run: () => Promise<void>;
}

export interface HistoryResult {
  incidents: number;
  duties: number;
  skipped: boolean;
}

/** Has this database lived through the demo quarter already (a data directory kept between starts)? */
async function alreadySeeded(handle: DbHandle): Promise<boolean> {
  const rows = rowsOf<{ n: number }>(await handle.db.execute(sql`select count(*)::int as n from signals where source_ref like 'HIST-%'`));
  return (rows[0]?.n ?? 0) > 0;
}

/**
 * Lives through the `days` before `now` on a fake clock. The demo units and accounts must exist
 * (seedDemo, ensureDemoAccounts). Returns what it recorded.
 */
export async function seedDemoHistory(o: {
  handle: DbHandle;
  now: number;
  logger: Logger;
  pack?: RulePack;
  dutyEmail: string;
  days?: number;
}): Promise<HistoryResult> {
  if (await alreadySeeded(o.handle)) return { incidents: 0, duties: 0, skipped: true };
  const days = o.days ?? 90;
  const start = o.now - days * DAY;
  // Everything in the past ends before this: the last matters are answered (late or not) in time.
  const end = o.now - 2 * DAY;
  const clock = new FakeClock(start);
  const bus = new EmbeddedBus();
  const hy = await createHuiying({
    handle: o.handle,
    bus,
    clock,
    // The quarter's ladder mail is recorded on each incident, not sent to anyone.
    channels: { email: nullAdapter('email') },
    logger: o.logger,
    dutyEmail: o.dutyEmail,
    publicUrl: 'http://localhost/',
    relayPollMs: 5,
    timerResyncMs: 0,
    // Woken by every commit that queued mail; no polling across 90 simulated days.
    dispatchPollMs: days * DAY,
    ...(o.pack ? { pack: o.pack } : {}),
  });
  try {
    await hy.app.ready();
    const sessions = new Map<string, Record<string, string>>();
    const as = async (username: string) => {
      let headers = sessions.get(username);
      if (!headers) {
        const res = await hy.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username, password: DEMO_PASSWORD } });
        if (res.statusCode !== 200) throw new Error(`demo history: log-in ${username} answered ${res.statusCode}`);
        const cookie = String([res.headers['set-cookie']].flat()[0]).split(';')[0]!;
        headers = { cookie, 'x-csrf-token': res.json<{ csrfToken: string }>().csrfToken };
        sessions.set(username, headers);
      }
      return headers;
    };
    const call = async (username: string, method: 'POST', url: string, payload: unknown) => {
      const res = await hy.app.inject({ method, url, payload: payload as Record<string, unknown>, headers: await as(username) });
      if (res.statusCode >= 300) throw new Error(`demo history: ${method} ${url} as ${username} answered ${res.statusCode} ${res.body}`);
      return res.json<Record<string, unknown>>();
    };
    const incidentOf = new Map<string, string>();
    /** The engine takes the ticket off the bus asynchronously: wait (real time) until it is an incident. */
    const arrived = async (ticketId: string): Promise<string> => {
      for (let i = 0; i < 2000; i++) {
        hy.relay.wake();
        const rows = rowsOf<{ incident_id: string | null }>(
          await o.handle.db.execute(sql`select incident_id from signals where source_ref = ${ticketId} and processed_at is not null`),
        );
        if (rows[0]?.incident_id) return rows[0].incident_id;
        await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error(`demo history: ticket ${ticketId} never became an incident`);
    };

    const random = generator(2026);
    const steps: Step[] = [];
    let n = 0;
    for (const [unit, titles] of Object.entries(MATTERS)) {
      const habit = HABITS[unit]!;
      let deadlines = 0;
      for (const title of titles) {
        const id = `HIST-${String(++n).padStart(4, '0')}`;
        const area = AREAS[Math.floor(random() * AREAS.length)]!;
        // Arrivals spread over the quarter, leaving time for the slowest answer before `end`.
        const arrival = start + Math.floor(random() * (end - start - 4 * DAY));
        const serious = random() < 0.2; // graded 重大 (II): 5 h release and 24 h press conference
        const repostFirst = random() < 0.15; // a repost first: recorded, counts for nothing
        // The unit's habit, spread evenly over its deadlines (not left to chance on ten matters).
        const answer = (span: number) => {
          const late = Math.floor((deadlines + 1) * (1 - habit)) > Math.floor(deadlines * (1 - habit));
          deadlines++;
          return late ? span + Math.floor((1 + random() * 40) * HOUR) : Math.floor(span * (0.15 + 0.8 * random()));
        };
        steps.push({
          at: arrival,
          what: `ticket ${id}`,
          run: async () => {
            await call('duty', 'POST', '/api/tickets', {
              id,
              receivedAt: new Date(clock.now()).toISOString(),
              title,
              // The title alone: shared boilerplate would make distinct matters look alike to grouping.
              content: `${title}。`,
              category: CATEGORIES[unit],
              area,
              unit,
            });
            incidentOf.set(id, await arrived(id));
          },
        });
        const respond = (at: number, kind: 'reply' | 'release' | 'press_conference', original: boolean) =>
          steps.push({
            at,
            what: `${kind} ${id}`,
            run: async () => {
              const incident = incidentOf.get(id)!;
              await call(`unit-${unit}`, 'POST', `/api/incidents/${incident}/responses`, {
                kind,
                original,
                publishedAt: new Date(clock.now()).toISOString(),
                url: `https://www.example.gov.cn/${unit}/${id.toLowerCase()}-${kind}${original ? '' : '-zz'}.html`,
                channel: original ? '政府网站' : '转载新闻',
              });
            },
          });
        if (serious) {
          const graded = arrival + Math.floor((0.2 + random()) * HOUR);
          steps.push({
            at: graded,
            what: `grade ${id}`,
            run: async () => {
              await call('duty', 'POST', `/api/incidents/${incidentOf.get(id)!}/grade`, { level: 'II' });
            },
          });
          if (repostFirst) respond(graded + HOUR, 'release', false);
          respond(graded + answer(5 * HOUR), 'release', true);
          respond(graded + answer(24 * HOUR), 'press_conference', true);
        } else {
          if (repostFirst) respond(arrival + 2 * HOUR, 'reply', false);
          respond(arrival + answer(48 * HOUR), 'reply', true);
        }
      }
    }
    // Working-day duties (政策解读 3 working days, 服务事项变更 1, 行政处罚结果公开 20): issued, fulfilled in time or not.
    const DUTY_KINDS = [
      { kind: 'policy_interpretation', title: '政策解读', days: 5 },
      { kind: 'service_change', title: '服务事项变更公开', days: 2 },
      { kind: 'penalty_disclosure', title: '行政处罚结果公开', days: 30 },
    ] as const;
    let duties = 0;
    for (const [unit, habit] of Object.entries(HABITS)) {
      for (const d of DUTY_KINDS) {
        const id = `hist-${unit}-${d.kind}`;
        const issued = start + Math.floor(random() * (end - start - (d.days + 14) * DAY));
        // Working days are counted by the engine; in time = well within the calendar span, late = well past it.
        const late = habit < 0.75 && d.kind === 'service_change';
        const fulfilled = issued + (late ? (d.days + 7) * DAY : Math.floor(d.days * 0.3 * DAY));
        duties++;
        steps.push({
          at: issued,
          what: `duty ${id}`,
          run: async () => {
            await call('duty', 'POST', '/api/obligations', {
              id,
              kind: d.kind,
              issuedAt: new Date(clock.now()).toISOString(),
              title: `${d.title}：${MATTERS[unit]![0]}相关事项`,
              unit,
            });
          },
        });
        steps.push({
          at: fulfilled,
          what: `fulfil ${id}`,
          run: async () => {
            await call(`unit-${unit}`, 'POST', `/api/obligations/${id}/fulfil`, {});
          },
        });
      }
    }

    steps.sort((a, b) => a.at - b.at);
    for (const step of steps) {
      await clock.advanceTo(Math.max(step.at, clock.now()));
      await step.run();
    }
    await clock.advanceTo(o.now);
    await hy.dispatcher.drain();
    return { incidents: n, duties, skipped: false };
  } finally {
    await hy.stop();
    await bus.close();
  }
}
