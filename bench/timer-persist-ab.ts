/**
 * The timer's whole write of a batch, two engines side by side: `persistAll` of this tree's
 * incident writer against another revision's (`--base`), on the same claimed rows in
 * alternation, each batch in a transaction that is rolled back. Prints, per fired clock, the CPU
 * of the PostgreSQL backend (/proc/<pid>/stat) and of this process: the A/B the shared machine's
 * load disturbs least (the live benchmark's wall-clock figures follow everyone else's work).
 * Loads 2 000 open incidents whose response clock is due (ids inc_ab_*) into a kept benchmark
 * database the first time.
 *
 *     node --import tsx bench/timer.ts --clocks 20000 --spread-seconds 10 --keep-db      # prints the kept database
 *     mkdir -p services/engine/.base && git archive 4ad8198 services/engine/src | tar -x --strip-components=2 -C services/engine/.base
 *     node --import tsx bench/timer-persist-ab.ts huiying_bench_<…> services/engine/.base/src/incident-writer.ts [rounds=10]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openPostgres, rowsOf, sql } from '../packages/db/src/index.ts';
import { advanceIncident, applyIncidentInput, DEFAULT_RULE_PACK, MS_PER_HOUR, type IncidentState } from '../packages/domain/src/index.ts';
import * as NEW from '../services/engine/src/incident-writer.ts';

const [dbName, basePath, roundsArg] = process.argv.slice(2);
if (!dbName || !basePath) throw new Error('usage: bench/timer-persist-ab.ts <kept bench database> <base incident-writer.ts> [rounds]');
const BASE = (await import(pathToFileURL(resolve(basePath)).href)) as typeof NEW;
const url = new URL(process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432');
url.pathname = `/${dbName}`;
const h = openPostgres(url.toString(), { max: 1 });
const db = h.db;
const ROUNDS = Number(roundsArg ?? 10);
const B = 200;
const BATCHES = 10;
const due0 = Date.parse('2026-12-01T00:00:00Z');
// Load B*BATCHES fresh incidents with a response clock due at due0 + i ms (if not there yet).
const [have] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from incidents where id like 'inc_ab_%'`));
if (have!.n === 0) {
  const inc: unknown[] = [];
  const clk: unknown[] = [];
  for (let i = 0; i < B * BATCHES; i++) {
    const id = `inc_ab_${String(i).padStart(5, '0')}`;
    const due = due0 + i;
    const { state } = applyIncidentInput(
      undefined,
      { type: 'signal', at: due - 1000, incident: id, source: 'hotline', publishedAt: due - 48 * MS_PER_HOUR, title: `热线工单 ${i}` },
      DEFAULT_RULE_PACK,
    );
    inc.push({
      id,
      title: state.title,
      status: 'open',
      start_at: new Date(state.startAt).toISOString(),
      state,
      next_wake_at: new Date(due).toISOString(),
    });
    const c = state.clocks[0]!;
    clk.push({
      incident_id: id,
      seq: c.seq,
      kind: c.kind,
      state: c.state,
      start_at: new Date(c.startAt).toISOString(),
      due_at: new Date(c.dueAt).toISOString(),
    });
  }
  await db.execute(sql`with i as (insert into incidents (id, title, status, start_at, state, next_wake_at, created_at, updated_at)
    select id, title, status, start_at, state, next_wake_at, now(), now() from jsonb_to_recordset(${JSON.stringify(inc)}::jsonb) as r(id text, title text, status text, start_at timestamptz, state jsonb, next_wake_at timestamptz))
    insert into clocks (incident_id, seq, kind, state, start_at, due_at, updated_at) select incident_id, seq, kind, state, start_at, due_at, now()
    from jsonb_to_recordset(${JSON.stringify(clk)}::jsonb) as r(incident_id text, seq int, kind text, state text, start_at timestamptz, due_at timestamptz)`);
  await db.execute(sql`vacuum analyze incidents`);
  await db.execute(sql`vacuum analyze clocks`);
}
const [bp] = rowsOf<{ pid: number }>(await db.execute(sql`select pg_backend_pid() as pid`));
const ticks = () => {
  const f = readFileSync(`/proc/${bp!.pid}/stat`, 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(x[11]) + Number(x[12]);
};
class Rollback extends Error {}
const res: Record<string, { pg: number[]; js: number[] }> = { base: { pg: [], js: [] }, new: { pg: [], js: [] } };
for (let r = 0; r < ROUNDS; r++) {
  for (const name of r % 2 ? ['new', 'base'] : ['base', 'new']) {
    const persist = name === 'new' ? NEW.persistAll : BASE.persistAll;
    let pgT = 0;
    let jsT = 0;
    for (let b = 0; b < BATCHES; b++) {
      await db
        .transaction(async (tx) => {
          const rows = rowsOf<{ id: string; state: IncidentState; version: number }>(
            await tx.execute(
              sql`select id, state, version from incidents where id >= ${`inc_ab_${String(b * B).padStart(5, '0')}`} and id like 'inc_ab_%' order by id limit ${B} for update`,
            ),
          );
          const now = due0 + B * BATCHES + 10;
          // One input for the batch, as the timer's fireRows passes it.
          const input = { type: 'timer', at: new Date(now).toISOString() };
          const t0 = ticks();
          const c0 = process.cpuUsage();
          await persist(
            tx,
            rows.map((row) => {
              const { state, events } = advanceIncident(row.state, now);
              return {
                before: row.state,
                version: row.version,
                after: state,
                events,
                input,
                actor: 'timer',
                now,
              };
            }),
          );
          const c1 = process.cpuUsage(c0);
          const t1 = ticks();
          pgT += (t1 - t0) * 10_000;
          jsT += c1.user + c1.system;
          throw new Rollback();
        })
        .catch((e) => {
          if (!(e instanceof Rollback)) throw e;
        });
    }
    res[name]!.pg.push(pgT / (B * BATCHES));
    res[name]!.js.push(jsT / (B * BATCHES));
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [k, v] of Object.entries(res))
  console.log(
    `${k === 'new' ? 'this tree' : 'base'.padEnd(9)} persistAll per fired clock: PostgreSQL backend ${med(v.pg).toFixed(0)} µs (min ${Math.min(...v.pg).toFixed(0)}), engine process ${med(v.js).toFixed(0)} µs (min ${Math.min(...v.js).toFixed(0)}) — median of ${ROUNDS} rounds × ${B * BATCHES}`,
  );
await h.close();
