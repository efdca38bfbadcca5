import type { IncidentState } from '@huiying/domain';

/**
 * What changed between two states of one incident, as the paths and values
 * `jsonb_set_each(state, changes)` (migration 0021) sets in the database: the timer's write is
 * `asOf`, the fired clock's state and warning index, and its ladder's progress, not the whole
 * document with every clock's snapshot of the pack's ladder (the bulk of it).
 *
 * Changes are found by reference: the domain copies a state shallowly and replaces what it
 * changes (arrays and records included), so an unchanged field is the same value or object
 * before and after. A field replaced by an equal copy is sent needlessly, never lost. What a
 * path cannot express is sent whole one level up (a key removed from a clock: the clocks
 * array; clocks added, removed or reordered: the clocks array), or not at all (a key removed
 * from the state: null, write the whole document).
 */
export type StateChanges = [path: string, value: unknown][];

type Json = Record<string, unknown>;

const isRecord = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

/** A text[] literal; keys are the domain's own, quoted all the same. */
const pathOf = (keys: readonly string[]) => `{${keys.map((k) => `"${k.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`;

/** Push [path, value] for each key whose value differs; false when a key was removed. */
function diff(before: Json, after: Json, at: readonly string[], out: StateChanges, deeper?: (key: string) => boolean): boolean {
  for (const k in after) {
    const a = after[k];
    if (a === before[k]) continue;
    if (a === undefined) return false;
    if (deeper?.(k)) continue;
    out.push([pathOf([...at, k]), a]);
  }
  for (const k in before) {
    if (!(k in after) && before[k] !== undefined) return false;
  }
  return true;
}

/** The changes turning `before` into `after`, or null: write the whole document. */
export function incidentStateChanges(before: IncidentState, after: IncidentState): StateChanges | null {
  const out: StateChanges = [];
  const clocksChanged = after.clocks !== before.clocks;
  if (!diff(before as unknown as Json, after as unknown as Json, [], out, (k) => k === 'clocks')) return null;
  if (!clocksChanged) return out;
  if (!Array.isArray(after.clocks) || !Array.isArray(before.clocks)) return null;
  const whole = (): StateChanges => [...out.filter(([p]) => !p.startsWith('{"clocks",')), [pathOf(['clocks']), after.clocks]];
  if (after.clocks.length !== before.clocks.length) return whole();
  for (let i = 0; i < after.clocks.length; i++) {
    const a = after.clocks[i] as unknown as Json;
    const b = before.clocks[i] as unknown as Json;
    if (a === b) continue;
    if (a.seq !== b.seq) return whole();
    const at = ['clocks', String(i)];
    // A clock's ladder record: its snapshot of the pack's ladder is the bulk, and stays the same object.
    const intoLadder = (k: string) => k === 'ladder' && isRecord(a.ladder) && isRecord(b.ladder) && a.ladder.ladder === b.ladder.ladder;
    if (!diff(b, a, at, out, intoLadder)) return whole();
    if (a.ladder !== b.ladder && intoLadder('ladder') && !diff(b.ladder as Json, a.ladder as Json, [...at, 'ladder'], out)) return whole();
  }
  return out;
}
