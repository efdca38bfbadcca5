/**
 * The timer's incidents UPDATE (a breach's patch: asOf, the clock's state, its ladder progress)
 * before and after migration 0028 (urgent_due as plpgsql, no incidents_status_idx), alternating
 * on the same rows of a kept benchmark database, each in a transaction that is rolled back;
 * PostgreSQL backend CPU per row (/proc/<pid>/stat). Leaves the database at 0028.
 *
 *     node --import tsx bench/timer.ts --clocks 100000 --spread-seconds 10 --keep-db   # prints the kept database
 *     node --import tsx bench/timer-0028-ab.ts huiying_bench_<…> [rounds=8]
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as PgNs from 'pg';
const pg = createRequire(new URL('../packages/db/package.json', import.meta.url))('pg') as typeof PgNs;
const url = new URL('postgres://postgres@127.0.0.1:5432');
url.pathname = `/${process.argv[2]}`;
const c = new pg.Client({ connectionString: url.toString() });
await c.connect();
const pid = (await c.query<{ p: number }>('select pg_backend_pid() as p')).rows[0]!.p;
const ticks = () => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(x[11]) + Number(x[12]);
};
const OLD = `CREATE OR REPLACE FUNCTION incident_urgent_due(state jsonb) RETURNS timestamp with time zone
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT to_timestamp(min((c->>'dueAt')::bigint) / 1000.0)
  FROM jsonb_array_elements(CASE WHEN jsonb_typeof(state->'clocks') = 'array' THEN state->'clocks' ELSE '[]'::jsonb END) AS c
  WHERE jsonb_typeof(c) = 'object' AND c->>'state' IN ('running', 'breached') AND c->>'dueAt' ~ '^[0-9]{1,15}$'
$$`;
const mig = readFileSync(new URL('../packages/db/migrations/0028_timer_write.sql', import.meta.url), 'utf8');
const NEW = mig.slice(mig.indexOf('CREATE OR REPLACE'), mig.indexOf('--> statement-breakpoint'));
const N = 4000;
const { rows } = await c.query<{ id: string; state: { asOf: number }; version: number }>(
  `select id, state, version from incidents order by id limit ${N}`,
);
const patch = JSON.stringify(
  rows.map((r) => ({
    id: r.id,
    version: r.version + 1,
    changes: [
      ['{asOf}', r.state.asOf + 1],
      ['{clocks,0,state}', 'breached'],
      ['{clocks,0,ladder,progress}', { step: 1 }],
    ],
  })),
);
const res: Record<string, number[]> = { before: [], after: [] };
for (let round = 0; round < Number(process.argv[3] ?? 8); round++) {
  for (const v of round % 2 ? ['after', 'before'] : ['before', 'after']) {
    if (v === 'before') {
      await c.query(OLD);
      await c.query('create index if not exists incidents_status_idx on incidents (status)');
    } else {
      await c.query(NEW);
      await c.query('drop index if exists incidents_status_idx');
    }
    await c.query('begin');
    const t0 = ticks();
    await c.query(
      `update incidents i set state = jsonb_set_each(i.state, r.changes), next_wake_at = null, version = r.version, updated_at = now()
       from jsonb_to_recordset($1::jsonb) as r(id text, changes jsonb, version int) where i.id = r.id and i.version = r.version - 1`,
      [patch],
    );
    const t1 = ticks();
    await c.query('rollback');
    res[v]!.push(((t1 - t0) * 10_000) / N);
  }
}
await c.query(NEW);
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [k, v] of Object.entries(res))
  console.log(
    `${k} 0028: incidents UPDATE (patched) backend CPU per row median ${med(v).toFixed(1)} µs, min ${Math.min(...v).toFixed(1)} µs (${v.length} × ${N})`,
  );
await c.end();
