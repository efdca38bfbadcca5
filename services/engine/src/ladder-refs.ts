import { createHash } from 'node:crypto';
import { type DbOrTx, rowsOf, sql } from '@huiying/db';
import type { IncidentClock, IncidentState, Ladder } from '@huiying/domain';
import { json } from './batch-sql.ts';

/**
 * An incident's stored state names its clocks' ladder snapshots instead of copying them
 * (migration 0038). Each clock snapshots its jurisdiction's ladder when it starts (the policy
 * may change while it runs), and that copy was ≈ 40–50 % of every stored state: every timer
 * wake parsed, patched and rewrote it (jsonb_set_each, the board's urgent_due, the heap tuple
 * and its WAL), and every claim shipped it to the engine. A snapshot never changes, so it is
 * stored once in `ladder_snapshots` under a hash of its content, and the clock keeps
 * `ladder: { ladder: "lad_…", progress, … }`.
 *
 * The domain never sees a reference: states are hydrated when read (`hydrateIncidentStates`)
 * and stored references are made when written (`storedIncidentState`). A state stored with the
 * snapshot inline (before 0038, or by any other writer) reads as it is and keeps its copy until
 * its clock is rewritten whole.
 */

/** A reference as stored in place of a snapshot. */
export const isLadderRef = (x: unknown): x is string => typeof x === 'string' && x.startsWith('lad_');

/** JSON with keys sorted at every level: jsonb reorders keys, so the hash must not depend on order. */
function canonical(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canonical).join(',')}]`;
  if (x !== null && typeof x === 'object') {
    const keys = Object.keys(x)
      .filter((k) => (x as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((x as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(x);
}

/**
 * Snapshots by reference, and references by snapshot object. A snapshot is immutable and named
 * by its content, so a process may keep what it has seen for its whole life; there are a few
 * per rule pack (one per clock kind and jurisdiction), so the cache stays tiny.
 */
const byRef = new Map<string, Ladder>();
const refOf = new WeakMap<object, string>();

/** The content-addressed name of a snapshot (computed once per snapshot object). */
export function ladderRef(ladder: Ladder): string {
  let ref = refOf.get(ladder);
  if (ref === undefined) {
    ref = `lad_${createHash('sha256').update(canonical(ladder)).digest('hex').slice(0, 32)}`;
    refOf.set(ladder, ref);
    // The first object seen for a reference stands for it: hydrated clocks share it.
    if (!byRef.has(ref)) byRef.set(ref, ladder);
  }
  return ref;
}

/** Stored clocks by domain clock: an unchanged clock maps to the same object (state-patch.ts compares by reference). */
const storedClocks = new WeakMap<IncidentClock, IncidentClock>();

function storedClock(c: IncidentClock, snapshots: Map<string, Ladder>): IncidentClock {
  const rec = c.ladder;
  if (!rec || isLadderRef(rec.ladder)) return c;
  const ref = ladderRef(rec.ladder);
  snapshots.set(ref, rec.ladder);
  let s = storedClocks.get(c);
  if (s === undefined) {
    s = { ...c, ladder: { ...rec, ladder: ref as unknown as Ladder } };
    storedClocks.set(c, s);
  }
  return s;
}

/**
 * The state as stored: every clock's snapshot replaced by its reference, collected into
 * `snapshots` (the writer inserts those the table may not have yet, in the same statement).
 * Unchanged parts stay the same objects, so two stored states diff as the domain's do.
 */
export function storedIncidentState(state: IncidentState, snapshots: Map<string, Ladder>): IncidentState {
  if (!state.clocks.some((c) => c.ladder && !isLadderRef(c.ladder.ladder))) return state;
  return { ...state, clocks: state.clocks.map((c) => storedClock(c, snapshots)) };
}

/** Snapshots the cache lacks, from the table (a process's first reads; then never). */
async function loadSnapshots(tx: DbOrTx, refs: ReadonlySet<string>): Promise<void> {
  const missing = [...refs].filter((r) => !byRef.has(r));
  if (missing.length === 0) return;
  const rows = rowsOf<{ id: string; ladder: Ladder }>(
    await tx.execute(sql`select id, ladder from ladder_snapshots where id in (select jsonb_array_elements_text(${json(missing)}::jsonb))`),
  );
  for (const r of rows) {
    if (byRef.has(r.id)) continue;
    byRef.set(r.id, r.ladder);
    refOf.set(r.ladder, r.id);
  }
  const lost = missing.filter((r) => !byRef.has(r));
  // Written in the transaction of the state that names it, and never deleted: a broken reference
  // is a corrupt row, which the timer quarantines (deadlines.ts) rather than fire without its ladder.
  if (lost.length > 0) throw new Error(`ladder snapshot(s) ${lost.join(', ')} not found`);
}

/**
 * Replace the references in stored states by their snapshots, in place (the rows were just
 * read and belong to the caller). States with the snapshot inline are left as they are.
 */
export async function hydrateIncidentStates(tx: DbOrTx, states: readonly IncidentState[]): Promise<void> {
  const refs = new Set<string>();
  for (const s of states) for (const c of s.clocks ?? []) if (c.ladder && isLadderRef(c.ladder.ladder)) refs.add(c.ladder.ladder);
  if (refs.size === 0) return;
  await loadSnapshots(tx, refs);
  for (const s of states) {
    for (const c of s.clocks ?? []) {
      const rec = c.ladder;
      if (rec && isLadderRef(rec.ladder)) rec.ladder = byRef.get(rec.ladder)!;
    }
  }
}
