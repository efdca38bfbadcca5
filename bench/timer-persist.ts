/**
 * The incidents UPDATE of a timer batch, the whole document against the changed paths
 * (services/engine/src/state-patch.ts, migration 0021), on the same rows in alternation, measured
 * as CPU of the database backend (/proc/<pid>/stat): the comparison the shared machine's load
 * disturbs least. Each statement runs in a transaction that is rolled back.
 *
 *     node --import tsx bench/timer.ts --clocks 40000 --spread-seconds 10 --keep-db   # prints the kept database
 *     node --import tsx bench/timer-persist.ts huiying_bench_<…> [rounds=12] [rows=5000]
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as PgNs from 'pg';

const pg = createRequire(new URL('../packages/db/package.json', import.meta.url))('pg') as typeof PgNs;
const url = new URL(process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432');
if (!process.argv[2]) throw new Error('usage: bench/timer-persist.ts <kept bench database> [rounds] [rows]');
url.pathname = `/${process.argv[2]}`;
const c = new pg.Client({ connectionString: url.toString() });
await c.connect();
const pid = (await c.query('select pg_backend_pid() as p')).rows[0].p;
const ticks = () => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(x[11]) + Number(x[12]);
};
const rounds = Number(process.argv[3] ?? 12);
const N = Number(process.argv[4] ?? 5000);
const { rows } = await c.query<{ id: string; state: { title: string; startAt: number; asOf: number }; version: number }>(
  `select id, state, version from incidents order by id limit ${N}`,
);
const now = new Date().toISOString();
const full = JSON.stringify(
  rows.map((r) => ({
    id: r.id,
    title: r.state.title,
    level: null,
    unitId: null,
    status: 'open',
    startAt: new Date(r.state.startAt).toISOString(),
    state: { ...r.state, asOf: r.state.asOf + 1 },
    nextWakeAt: now,
    version: r.version + 1,
    updatedAt: now,
  })),
);
const changes = JSON.stringify(
  rows.map((r) => ({
    id: r.id,
    changes: [
      ['{"asOf"}', r.state.asOf + 1],
      ['{"clocks","0","state"}', 'breached'],
      ['{"clocks","0","ladder","progress"}', { since: 1, through: 2 }],
    ],
    nextWakeAt: now,
    version: r.version + 1,
    updatedAt: now,
  })),
);
const V: Record<string, [string, string]> = {
  'whole document': [
    `update incidents i set title = r.title, level = r.level, unit_id = r."unitId", status = r.status, start_at = r."startAt",
          state = r.state, next_wake_at = r."nextWakeAt", version = r.version, updated_at = r."updatedAt"
        from jsonb_to_recordset($1::jsonb) as r(id text, title text, level text, "unitId" text, status text,
          "startAt" timestamptz, state jsonb, "nextWakeAt" timestamptz, version int, "updatedAt" timestamptz)
        where i.id = r.id and i.version = r.version - 1`,
    full,
  ],
  'changed paths': [
    `update incidents i set state = jsonb_set_each(i.state, r.changes), next_wake_at = r."nextWakeAt", version = r.version,
          updated_at = r."updatedAt"
        from jsonb_to_recordset($1::jsonb) as r(id text, changes jsonb, "nextWakeAt" timestamptz, version int, "updatedAt" timestamptz)
        where i.id = r.id and i.version = r.version - 1`,
    changes,
  ],
};
const out: Record<string, number[]> = {};
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? Object.keys(V) : Object.keys(V).reverse();
  for (const name of order) {
    const [text, p] = V[name]!;
    await c.query('begin');
    const t0 = ticks();
    const r = await c.query(text, [p]);
    const t1 = ticks();
    await c.query('rollback');
    if (r.rowCount !== N) throw new Error(`${name}: ${r.rowCount} rows`);
    (out[name] ??= []).push(((t1 - t0) * 10 * 1000) / N);
  }
}
for (const [name, xs] of Object.entries(out)) {
  const s = [...xs].sort((a, b) => a - b);
  console.log(
    `${name.padEnd(16)} backend CPU per row: median ${s[Math.floor(s.length / 2)]!.toFixed(0)} µs, min ${s[0]!.toFixed(0)}, max ${s[s.length - 1]!.toFixed(0)} (${rounds} rounds × ${N} rows)`,
  );
}
console.log(
  `parameter characters per row: whole document ${(full.length / N).toFixed(0)}, changed paths ${(changes.length / N).toFixed(0)}`,
);
await c.end();
