/**
 * The statistics rollup's reads and writes (see rollup.ts): deadlines from the live tables and
 * from `stats_fact`, cells to and from `stats_cell` with their kept maxima refreshed, and which
 * incidents and duties changed since the watermark (`stats_seen`).
 */
import { type Db, rowsOf, type SQL, sql, type Tx } from '@huiying/db';
import {
  type Cell,
  type CellRow,
  cellKey,
  type Fact,
  type FactOutcome,
  fromRow,
  isEmptyCell,
  monthStartMs,
  monthsOfCell,
  TOP,
  toRecord,
} from './rollup-cells.ts';

// ---------------------------------------------------------------------------------------------
// Reading deadlines

const us = (col: SQL) => sql`(extract(epoch from ${col}) * 1000000)::float8`;
/** `col` is one of `values` — as `= any(array(…))`, so the planner looks each up by index. */
export const inList = (col: SQL, values: readonly string[]) =>
  sql`${col} = any(array(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb)))`;

/**
 * The deadlines of the live tables, as facts.ts defines them (outcome without `now`: running
 * stays 'running'). `which` = the incidents and duties named, or every running deadline.
 */
export function liveFacts(which: { incidents: readonly string[]; duties: readonly string[] } | 'running' | 'all'): SQL {
  // Running: all of them, through the small partial indexes (a due range here would have the
  // planner walk the due index over every deadline of the period instead).
  const incidentWhere =
    which === 'running'
      ? sql`c.state = 'running'`
      : which === 'all'
        ? sql`c.state in ('met', 'breached')`
        : sql`c.state in ('met', 'breached') and ${inList(sql`c.incident_id`, which.incidents)}`;
  const dutyWhere =
    which === 'running'
      ? sql`o.status = 'running'`
      : which === 'all'
        ? sql`o.status in ('met', 'breached')`
        : sql`o.status in ('met', 'breached') and ${inList(sql`o.id`, which.duties)}`;
  return sql`
    select 'incident'::text as source, c.incident_id as ref, c.seq, c.kind, i.level,
      case when c.state = 'met' and c.late is not true then c.unit_id when b.id is not null then b.unit_id else c.unit_id end as unit,
      ${us(sql`c.due_at`)} as due, ${us(sql`c.responded_at`)} as responded,
      case when c.state = 'met' and c.late is not true then 'on_time' when c.state = 'met' then 'late'
           when c.state = 'breached' then 'breached' else 'running' end as outcome,
      (c.state = 'met' and c.late is not true and exists (select 1 from alerts r where r.kind = 'breached' and r.incident_id = c.incident_id
        and r.clock = c.kind and r.due_at = c.due_at and r.retracted_at is not null)) as retracted,
      ${us(sql`i.start_at`)} as start, false as suspended
    from clocks c
    join incidents i on i.id = c.incident_id
    left join alerts b on not (c.state = 'met' and c.late is not true)
      and b.kind = 'breached' and b.incident_id = c.incident_id and b.clock = c.kind and b.due_at = c.due_at
    where ${incidentWhere}
    union all
    select 'duty'::text, o.id, 0, o.kind, null::text, o.unit_id, ${us(sql`o.due_at`)},
      round((o.state->>'respondedAt')::numeric) * 1000,
      case when o.status = 'met' and (o.state->>'late')::boolean is not true then 'on_time' when o.status = 'met' then 'late'
           when o.status = 'breached' then 'breached' else 'running' end,
      (o.status = 'met' and (o.state->>'late')::boolean is not true and exists (select 1 from alerts ra
        where ra.kind = 'breached' and ra.obligation_id = o.id and ra.retracted_at is not null)),
      null::float8, jsonb_typeof(o.state->'suspension') = 'object'
    from obligations o
    where ${dutyWhere}`;
}

interface FactRow {
  source: 'incident' | 'duty';
  ref: string;
  seq: number;
  kind: string;
  level: string | null;
  unit: string | null;
  due: number | string;
  responded: number | string | null;
  outcome: FactOutcome;
  retracted: boolean;
  start: number | string | null;
  suspended: boolean | null;
}

const n = (v: number | string | null): number | null => (v === null ? null : Number(v));
const toFact = (r: FactRow): Fact => ({
  source: r.source,
  ref: r.ref,
  seq: Number(r.seq),
  kind: r.kind,
  level: r.level,
  unit: r.unit,
  due: Number(r.due),
  responded: n(r.responded),
  outcome: r.outcome,
  retracted: Boolean(r.retracted),
  start: n(r.start),
  suspended: Boolean(r.suspended),
});

export const storedFacts = (where: SQL) => sql`
  select source, ref_id as ref, seq, kind, level, unit_id as unit, due_us as due, responded_us as responded, outcome, retracted,
    start_us as start, false as suspended
  from stats_fact where ${where}`;

export async function readFacts(db: Db | Tx, query: SQL): Promise<Fact[]> {
  return rowsOf<FactRow>(await db.execute(query)).map(toFact);
}

/** Facts grouped by 'source|ref', in a stable order (to compare old and new). */
export function byRef(facts: readonly Fact[]): Map<string, Fact[]> {
  const m = new Map<string, Fact[]>();
  for (const f of facts) {
    const k = `${f.source}|${f.ref}`;
    const list = m.get(k);
    if (list) list.push(f);
    else m.set(k, [f]);
  }
  return m;
}
export const signature = (facts: readonly Fact[] | undefined) =>
  JSON.stringify(
    [...(facts ?? [])]
      .map((f) => [f.seq, f.kind, f.level, f.unit, f.due, f.responded, f.outcome, f.retracted, f.start])
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  );

export async function insertFacts(tx: Tx, facts: readonly Fact[], wide: Set<string>) {
  for (let i = 0; i < facts.length; i += 5000) {
    const rows = facts.slice(i, i + 5000).map((f) => ({ ...f, wide: f.source === 'incident' && wide.has(f.ref) }));
    await tx.execute(sql`
      insert into stats_fact (source, ref_id, seq, kind, level, unit_id, due_us, responded_us, outcome, retracted, start_us, wide)
      select source, ref, seq, kind, level, unit, due, responded, outcome, retracted, start, wide
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(source text, ref text, seq int, kind text, level text, unit text,
        due bigint, responded bigint, outcome text, retracted boolean, start bigint, wide boolean)`);
  }
}

export async function writeCells(tx: Tx, cells: Iterable<Cell>) {
  const all = [...cells];
  for (let i = 0; i < all.length; i += 2000) {
    const batch = all.slice(i, i + 2000);
    const gone = batch.filter(isEmptyCell).map((c) => ({ part: c.part, month: c.month, unit: c.unit, level: c.level, kind: c.kind }));
    const kept = batch.filter((c) => !isEmptyCell(c)).map(toRecord);
    if (gone.length > 0)
      await tx.execute(sql`
        delete from stats_cell s using jsonb_to_recordset(${JSON.stringify(gone)}::jsonb) as r(part text, month text, unit text, level text, kind text)
        where s.part = r.part and s.month = r.month and s.unit = r.unit and s.level = r.level and s.kind = r.kind`);
    if (kept.length > 0)
      await tx.execute(sql`
        insert into stats_cell (part, month, unit, level, kind, data, h1, h2)
        select part, month, unit, level, kind, data, h1, h2
        from jsonb_to_recordset(${JSON.stringify(kept)}::jsonb) as r(part text, month text, unit text, level text, kind text, data jsonb, h1 text, h2 text)
        on conflict (part, month, unit, level, kind) do update set data = excluded.data, h1 = excluded.h1, h2 = excluded.h2`);
  }
}

/** Stored cells for an incremental run (their histograms as changes over the stored ones: `Cell.base`). */
export async function readCells(tx: Db | Tx, keys: readonly Cell[]): Promise<Map<string, Cell>> {
  const out = new Map<string, Cell>();
  for (let i = 0; i < keys.length; i += 2000) {
    const batch = keys.slice(i, i + 2000).map((c) => ({ part: c.part, month: c.month, unit: c.unit, level: c.level, kind: c.kind }));
    const rows = rowsOf<CellRow>(
      await tx.execute(sql`
        select s.part, s.month, s.unit, s.level, s.kind, s.data, s.h1, s.h2
        from stats_cell s join jsonb_to_recordset(${JSON.stringify(batch)}::jsonb) as r(part text, month text, unit text, level text, kind text)
          on s.part = r.part and s.month = r.month and s.unit = r.unit and s.level = r.level and s.kind = r.kind`),
    );
    for (const r of rows) out.set(cellKey(r.part, r.month, r.unit, r.level, r.kind), fromRow(r, true));
  }
  return out;
}

/**
 * Read the kept maxima of fact cells again from stats_fact (after their lists lost too many),
 * leaving out `exclude` (a request: the deadlines changed since the watermark, added back live).
 * One statement per kind of list and shape of cell, each cell's read as a lateral index scan
 * (by unit first for the cells of one unit: migration 0024) — not one round trip and plan per
 * cell: a burst of answers to old breaches empties hundreds of lists at once.
 */
export async function refreshTops(
  tx: Db | Tx,
  items: readonly { c: Cell; need: 'short' | 'empty' }[],
  exclude?: Pick<Dirty, 'incidents' | 'duties'>,
) {
  // Only the lists that need it ('short': fewer than they should hold; 'empty': lost all they held).
  const needs = (need: 'short' | 'empty', kept: number, count: number) =>
    need === 'short' ? kept < Math.min(TOP, count) : kept === 0 && count > 0;
  const late: Cell[] = [];
  const due: Cell[] = [];
  for (const { c, need } of items) {
    if (needs(need, c.f!.lateTop.length, c.f!.late)) late.push(c);
    if (needs(need, c.f!.dueLow.length, c.f!.breached)) due.push(c);
  }
  const notExcluded = exclude ? sql`and not ${dirtyCondition(exclude)}` : sql``;
  const read = async (cells: Cell[], list: 'late' | 'due') => {
    const found = new Map<number, number[]>();
    for (const oneUnit of [true, false]) {
      const batch = cells
        .map((c, i) => ({ c, i }))
        .filter(({ c }) => (c.unit !== '*' && c.unit !== '') === oneUnit)
        .map(({ c, i }) => {
          const [first, last] = monthsOfCell(c.month);
          return { i, lo: monthStartMs(first) * 1000, hi: monthStartMs(last + 1) * 1000, unit: c.unit, level: c.level, kind: c.kind };
        });
      if (batch.length === 0) continue;
      const unitCond = oneUnit ? sql`f.unit_id = c.unit` : sql`(c.unit = '*' or (c.unit = '' and f.unit_id is null))`;
      // The largest late overdues by walking the overdue index (the unit's, or all) and filtering
      // by due (`+ 0`: not by the due index — the planner, not knowing the cell's bounds, would
      // intersect it with a million rows of a year and sort).
      const [value, order, outcome, due] =
        list === 'late'
          ? [sql`(f.responded_us - f.due_us)::float8`, sql`f.responded_us - f.due_us desc`, 'late', sql`(f.due_us + 0)`]
          : [sql`f.due_us::float8`, sql`f.due_us`, 'breached', sql`f.due_us`];
      const rows = rowsOf<{ i: number; v: number | string }>(
        await tx.execute(sql`
          select c.i, x.v from jsonb_to_recordset(${JSON.stringify(batch)}::jsonb)
            as c(i int, lo bigint, hi bigint, unit text, level text, kind text)
          cross join lateral (
            select ${value} as v from stats_fact f
            where f.outcome = ${outcome} and ${unitCond} and ${due} > c.lo and ${due} <= c.hi
              and (c.level = '*' or (c.level = 'duty' and f.source = 'duty') or (c.level = 'ungraded' and f.source = 'incident' and f.level is null)
                or (f.source = 'incident' and f.level = c.level))
              and (c.kind = '*' or f.kind = c.kind) ${notExcluded}
            order by ${order} limit ${TOP}) x`),
      );
      for (const r of rows) {
        const l = found.get(Number(r.i));
        if (l) l.push(Number(r.v));
        else found.set(Number(r.i), [Number(r.v)]);
      }
    }
    return found;
  };
  if (late.length + due.length === 0) return;
  // Each cell's few rows from walking an index in the list's order: the planner, estimating one
  // row per cell, would rather bitmap-scan the cell's whole month or year and sort (seconds).
  const planner = (on: boolean) =>
    tx.execute(
      sql`select set_config('enable_bitmapscan', ${on ? 'on' : 'off'}, true), set_config('enable_sort', ${on ? 'on' : 'off'}, true)`,
    );
  await planner(false);
  const lateFound = await read(late, 'late');
  const dueFound = await read(due, 'due');
  await planner(true);
  late.forEach((c, i) => (c.f!.lateTop = (lateFound.get(i) ?? []).sort((a, b) => b - a)));
  due.forEach((c, i) => (c.f!.dueLow = (dueFound.get(i) ?? []).sort((a, b) => a - b)));
}

export interface Dirty {
  incidents: string[];
  duties: string[];
  /** Each one's row version and latest updated_at (an incident's or its clocks') as read (for stats_seen). */
  versions: { source: 'incident' | 'duty'; ref: string; xmin: string; at: string }[];
}

/**
 * The incidents and duties changed after the watermark, except those a run has rolled up at their
 * current row version (stats_seen, migration 0024): the changes inside the watermark's margin are
 * read live by requests and looked at by runs only until a run has taken them in. An incident is
 * changed by its own `updated_at` (signals, commands) or a clock's (the timer's breaches, which
 * leave the incident's as it was; every write of an incident gives its row a new version).
 */
export async function dirtySince(tx: Db | Tx, since: string, limit?: number): Promise<Dirty> {
  const cap = limit === undefined ? sql`` : sql`limit ${limit + 1}`;
  const read = async (source: 'incident' | 'duty', table: SQL, at: SQL, changed: SQL) =>
    rowsOf<{ id: string; xmin: string; at: string }>(
      await tx.execute(sql`select t.id, t.xmin::text as xmin, ${at}::text as at from ${table} t
        where ${changed}
          and not exists (select 1 from stats_seen s where s.source = ${source} and s.ref_id = t.id and s.row_version = t.xmin::text) ${cap}`),
    ).map((r) => ({ source, ref: r.id, xmin: r.xmin, at: r.at }));
  const versions = [
    ...(await read(
      'incident',
      sql`incidents`,
      sql`greatest(t.updated_at, (select max(c.updated_at) from clocks c where c.incident_id = t.id))`,
      sql`t.id in (select id from incidents where updated_at > ${since}::timestamptz
        union select incident_id from clocks where updated_at > ${since}::timestamptz)`,
    )),
    ...(await read('duty', sql`obligations`, sql`t.updated_at`, sql`t.updated_at > ${since}::timestamptz`)),
  ];
  return {
    incidents: versions.filter((v) => v.source === 'incident').map((v) => v.ref),
    duties: versions.filter((v) => v.source === 'duty').map((v) => v.ref),
    versions,
  };
}

/** Record what a run has rolled up (read before its deadlines were), and forget what the watermark has passed. */
export async function markSeen(tx: Tx, versions: Dirty['versions'], watermark: string) {
  for (let i = 0; i < versions.length; i += 5000)
    await tx.execute(sql`
      insert into stats_seen (source, ref_id, row_version, updated_at)
      select source, ref, xmin, at::timestamptz from jsonb_to_recordset(${JSON.stringify(versions.slice(i, i + 5000))}::jsonb)
        as r(source text, ref text, xmin text, at text)
      on conflict (source, ref_id) do update set row_version = excluded.row_version, updated_at = excluded.updated_at`);
  await tx.execute(sql`delete from stats_seen where updated_at <= ${watermark}::timestamptz`);
}

export const dirtyCondition = (d: Pick<Dirty, 'incidents' | 'duties'>) =>
  sql`((source = 'incident' and ${inList(sql`ref_id`, d.incidents)}) or (source = 'duty' and ${inList(sql`ref_id`, d.duties)}))`;
