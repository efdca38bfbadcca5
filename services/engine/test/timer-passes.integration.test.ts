/**
 * The timer's passes on the real PostgreSQL (timer.ts, queue-vacuum.ts):
 *
 * - a wake that falls due while a pass is still committing starts a second pass at once, which
 *   commits first; with one pass allowed it waits for the first (the old behaviour), so the
 *   order of the commits tells the two apart;
 * - the timer vacuums its queue after so many fired wakes, at most every so often (the head of
 *   `incident_wakes` would otherwise fill with dead index entries when autovacuum is off, as it is
 *   on this machine kind's PostgreSQL).
 *
 * Time is a hand-driven clock: nothing sleeps. The first pass is held before its COMMIT by a
 * gate in the database handle.
 */
import type { SignalMessage } from '@huiying/bus';
import { type Clock, FakeClock } from '@huiying/clock';
import { APP_ROLE, type Db, openPostgres, rowsOf, sql } from '@huiying/db';
import { DEFAULT_RULE_PACK } from '@huiying/domain';
import { freshDatabase, testLogger, uniqueName } from '@huiying/testkit';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineDeps } from '../src/store.ts';
import { DeadlineTimer } from '../src/timer.ts';
import { signalIn } from './signal-in.ts';

let db: Awaited<ReturnType<typeof freshDatabase>>;

beforeAll(async () => {
  db = await freshDatabase();
});

afterAll(async () => {
  await db?.drop();
});

const T0 = Date.parse('2026-03-02T09:00:00+08:00');

const signal = (id: string, at: number, title: string): SignalMessage & { title: string } => ({
  v: 1,
  type: 'signal',
  id,
  source: 'hotline',
  sourceRef: id,
  title,
  publishedAt: new Date(at).toISOString(),
  receivedAt: new Date(at).toISOString(),
});

/** Open an incident from one hotline signal; returns its id and its first wake. */
async function open(deps: EngineDeps, id: string, at: number, title: string): Promise<{ id: string; wake: number }> {
  const { incidentId } = await signalIn(deps, signal(id, at, title));
  const [row] = rowsOf<{ wake_at: Date | string }>(
    await deps.db.execute(sql`select wake_at from incident_wakes where incident_id = ${incidentId}`),
  );
  if (!row) throw new Error(`incident ${incidentId} has no wake`);
  return { id: incidentId, wake: new Date(row.wake_at).getTime() };
}

/** A clock whose timers run only when the test says, without waiting for the work they start. */
class HandClock implements Clock {
  private timers: { at: number; fn: () => void }[] = [];
  constructor(public current: number) {}
  now(): number {
    return this.current;
  }
  at(at: number, fn: () => void): () => void {
    const timer = { at, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }
  armedFor(at: number): boolean {
    return this.timers.some((t) => t.at === at);
  }
  /** Move to `to` and run the timers due by then, earliest first. */
  runTo(to: number): void {
    this.current = to;
    for (const t of this.timers.filter((x) => x.at <= to).sort((a, b) => a.at - b.at)) {
      this.timers = this.timers.filter((x) => x !== t);
      t.fn();
    }
  }
}

/** Turn the event loop until `ok()` (the database answers in between); fails after many turns. */
async function until(ok: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (ok()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}

/** The handle with its next transaction held before COMMIT until `release()`. */
function gatedOnce(inner: Db) {
  let armed = false;
  let reached = () => undefined as void;
  const atGate = new Promise<void>((r) => (reached = r));
  let release = () => undefined as void;
  const gate = new Promise<void>((r) => (release = r));
  const handle = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop !== 'transaction') return Reflect.get(target, prop, receiver) as unknown;
      return (fn: (tx: unknown) => Promise<unknown>, config?: unknown) =>
        (target.transaction as (f: (tx: unknown) => Promise<unknown>, c?: unknown) => Promise<unknown>).call(
          target,
          async (tx: unknown) => {
            const result = await fn(tx);
            if (armed) {
              armed = false;
              reached();
              await gate;
            }
            return result;
          },
          config,
        );
    },
  });
  return { handle, arm: () => (armed = true), atGate, release };
}

const breachesAndWarnings = async (incidentId: string) =>
  rowsOf<{ n: number }>(await db.db.execute(sql`select count(*)::int as n from alerts where incident_id = ${incidentId}`))[0]!.n;

describe('overlapping passes', () => {
  for (const passes of [2, 1]) {
    it(
      passes === 2
        ? 'a wake due while a pass is held before COMMIT is fired and committed by a second pass first'
        : 'with one pass allowed, that wake waits for the held pass (the order the overlap changes)',
      async () => {
        const setup: EngineDeps = { db: db.db, clock: new FakeClock(T0 + 60_000), pack: () => DEFAULT_RULE_PACK };
        const x = await open(setup, `sig-x${passes}`, T0, passes === 2 ? '城东区自来水管道爆裂全天停水' : '南湖公园游船侧翻多人落水');
        const y = await open(
          setup,
          `sig-y${passes}`,
          T0 + 60_000,
          passes === 2 ? '城西区学校食堂学生集体腹泻' : '北站出租车集中拒载乘客投诉',
        );
        expect(y.wake).toBeGreaterThan(x.wake);

        const clock = new HandClock(x.wake - 1);
        const gated = gatedOnce(db.db);
        const commits: number[][] = [];
        const timer = new DeadlineTimer(
          { db: gated.handle, clock, pack: () => DEFAULT_RULE_PACK, logger: testLogger },
          { resyncMs: 0, passes, onCommitted: (lateness) => commits.push([...lateness]) },
        );
        await timer.start();
        expect(clock.armedFor(x.wake)).toBe(true);

        gated.arm();
        clock.runTo(x.wake);
        await gated.atGate; // the first pass has written x and waits before COMMIT
        // With overlap, the pass looks ahead and arms for y while it works; with one pass, nothing is armed until it ends.
        if (passes === 2) await until(() => clock.armedFor(y.wake), 'the pass armed for the next wake while it works');
        else expect(clock.armedFor(y.wake)).toBe(false);
        clock.runTo(y.wake + 5);

        if (passes === 2) {
          await until(() => commits.length === 1, 'the second pass committed');
          // y's wake, committed 5 ms after it was due; x is not yet visible.
          expect(commits[0]).toEqual([5]);
          expect(await breachesAndWarnings(y.id)).toBe(1);
          expect(await breachesAndWarnings(x.id)).toBe(0);
        } else {
          // Nothing may commit while the only pass is held: give the loop the same turns.
          await until(() => true, '');
          expect(commits).toEqual([]);
        }
        clock.current = y.wake + 10;
        gated.release();
        if (passes === 1) {
          // The pass commits x, then re-arms for y (already due), which runs the next pass.
          await until(() => commits.length === 1 && clock.armedFor(y.wake), 'the pass committed and re-armed for y');
          clock.runTo(y.wake + 10);
        }
        await until(() => commits.length === 2, 'both passes committed');
        await timer.stop();

        const lateX = y.wake + 10 - x.wake;
        expect(commits).toEqual(passes === 2 ? [[5], [lateX]] : [[lateX], [10]]);
        expect(await breachesAndWarnings(x.id)).toBe(1);
        expect(await breachesAndWarnings(y.id)).toBe(1);
      },
    );
  }
});

describe('the timer vacuums its queue', () => {
  const vacuums = async () =>
    rowsOf<{ n: number }>(
      await db.db.execute(sql`select vacuum_count::int as n from pg_stat_user_tables where relname = 'incident_wakes'`),
    )[0]!.n;

  it('after every `everyFired` fired wakes, at most once per `minIntervalMs`; never with everyFired 0', async () => {
    const clock = new FakeClock(T0 + 30_000);
    const deps: EngineDeps = { db: db.db, clock, pack: () => DEFAULT_RULE_PACK };
    const titles = [
      '高新区工地夜间施工噪音扰民',
      '老城区燃气管道泄漏',
      '滨江路路灯大面积不亮',
      '开发区企业拖欠农民工工资',
      '市三院挂号系统故障',
      '东郊垃圾填埋场臭味扰民',
    ];
    const at = [0, 0, 1_000, 1_000, 20_000, 20_000];
    const opened = [];
    for (let i = 0; i < 6; i++) opened.push(await open(deps, `sig-v${i}`, T0 + at[i]!, titles[i]!));
    const wakes = [...new Set(opened.map((o) => o.wake))].sort((a, b) => a - b);
    expect(wakes).toHaveLength(3);

    const timer = new DeadlineTimer({ ...deps, logger: testLogger }, { resyncMs: 0, vacuum: { everyFired: 2, minIntervalMs: 10_000 } });
    await timer.start();
    const before = await vacuums();
    await clock.advanceTo(wakes[0]!); // 2 fired: vacuum
    expect(await vacuums()).toBe(before + 1);
    await clock.advanceTo(wakes[1]!); // 2 more, 1 s later: too soon
    expect(await vacuums()).toBe(before + 1);
    await clock.advanceTo(wakes[2]!); // 4 waiting + 2, 20 s later: vacuum
    expect(await vacuums()).toBe(before + 2);
    await timer.stop();

    // The same firing with the vacuum off leaves the count alone.
    const off = new DeadlineTimer({ ...deps, logger: testLogger }, { resyncMs: 0, vacuum: { everyFired: 0, minIntervalMs: 0 } });
    const more = [];
    for (let i = 0; i < 2; i++) more.push(await open(deps, `sig-w${i}`, clock.now(), ['西湖景区违规收费', '地铁五号线信号故障停运'][i]!));
    await off.start();
    const offBefore = await vacuums();
    await clock.advanceTo(Math.max(...more.map((o) => o.wake)));
    expect(await breachesAndWarnings(more[0]!.id)).toBeGreaterThan(0);
    expect(await vacuums()).toBe(offBefore);
    await off.stop();
  });

  it('as a service login that only belongs to huiying_app: fires, never vacuums, says so once; autovacuum takes the queue early (0040)', async () => {
    const login = uniqueName('hy_timer_login');
    await db.db.execute(sql.raw(`create role ${login} login in role ${APP_ROLE}`));
    const service = openPostgres(db.url.replace('//postgres@', `//${login}@`));
    const warnings: { msg: string; table?: string; role?: string }[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line) as (typeof warnings)[number]) });
    try {
      const clock = new FakeClock(T0 + 100_000);
      const deps: EngineDeps = { db: db.db, clock, pack: () => DEFAULT_RULE_PACK };
      const opened = [];
      for (const [i, title] of ['城南菜市场食品抽检不合格', '北郊化工厂夜间排放异味'].entries())
        opened.push(await open(deps, `sig-s${i}`, T0 + 100_000 + i * 1_000, title));
      const timer = new DeadlineTimer(
        { db: service.db, clock, pack: () => DEFAULT_RULE_PACK, logger },
        { resyncMs: 0, vacuum: { everyFired: 1, minIntervalMs: 0 } },
      );
      await timer.start();
      const before = await vacuums();
      for (const o of opened) await clock.advanceTo(o.wake);
      await timer.stop();
      for (const o of opened) expect(await breachesAndWarnings(o.id)).toBeGreaterThan(0);
      expect(await vacuums()).toBe(before);
      expect(warnings.map((w) => [w.msg.split(' (')[0], w.table, w.role])).toEqual([
        ['the timer may not vacuum its queue', 'incident_wakes', login],
      ]);
    } finally {
      await service.close();
      await db.db.execute(sql.raw(`drop owned by ${login}`));
      await db.db.execute(sql.raw(`drop role ${login}`));
    }
    const [row] = rowsOf<{ options: string[] }>(
      await db.db.execute(sql`select reloptions as options from pg_class where oid = 'incident_wakes'::regclass`),
    );
    expect(row!.options).toEqual(expect.arrayContaining(['autovacuum_vacuum_scale_factor=0', 'autovacuum_vacuum_threshold=5000']));
  });
});
