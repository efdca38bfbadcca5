/**
 * Replay (replay.md): a recorded timeline in, outcome events out, in simulated time. Pure:
 * the CLI does the reading and printing.
 *
 * Ordering, as implemented:
 * - Inputs are applied in order of `at`, ties in file order (a stable sort).
 * - Before an input at T, every timer due before T fires; timers due at T fire after all
 *   inputs at T ("inputs at an instant are applied before timers due at that instant").
 *   After the last input, timers fire up to and including the horizon.
 * - Events an input causes come out together, in the order the domain produced them: by
 *   clock in creation order, and per clock started, rescheduled, warning, breached, met,
 *   breach_retracted, cancelled/waived.
 * - Timers are one indexed min-heap over all incidents and obligations, keyed by each
 *   aggregate's next wake (an aggregate is in it at most once and moves in place). Timer events at one instant from several aggregates are
 *   ordered incident clocks first, in global clock creation order, then obligations by id.
 */
import { DomainError } from './errors.ts';
import { advanceIncidentInPlace, applyIncidentInput, applyIncidentInputInPlace, type IncidentState, nextIncidentWake } from './incident.ts';
import {
  advanceObligationInPlace,
  applyObligationInput,
  applyObligationInputInPlace,
  nextObligationWake,
  type ObligationState,
} from './obligation.ts';
import type { WorkingDayCalendar } from './calendar.ts';
import { OBLIGATION_KINDS, RESPONSE_KINDS, type RulePack } from './rule-pack.ts';
import { formatIsoInstant, parseIsoInstant } from './time.ts';
import { TimerHeap } from './timer-heap.ts';
import type { EngineEvent, IncidentInput, Instant, Level, ReplayObligationInput, SignalSource } from './types.ts';

/** replay.md's inputs: the live-only obligation inputs (suspend, resume, recalculate) are not among them yet. */
export type ReplayInput = IncidentInput | ReplayObligationInput;

/** One timeline line that will be applied, with its 1-based line number. */
export interface TimelineEntry {
  line: number;
  input: ReplayInput;
}

export type ParsedTimeline =
  | {
      ok: true;
      /** In processing order (by `at`, ties in file order), up to the horizon. */
      inputs: TimelineEntry[];
      /** `end`'s `at`, or the last line's; null for an empty timeline. */
      horizon: Instant | null;
    }
  | { ok: false; line: number; message: string };

/** A timeline that cannot be replayed: the line and why (printed as `line N: message`). */
export class ReplayError extends Error {
  override name = 'ReplayError';
  constructor(
    readonly line: number,
    message: string,
    readonly code: string = 'TIMELINE_INVALID',
  ) {
    super(message);
  }
}

class LineError extends Error {}

const SOURCES: readonly SignalSource[] = ['feed', 'hotline', 'manual'];
const LEVELS: readonly Level[] = ['I', 'II', 'III', 'IV'];
const TYPES = ['signal', 'occurred', 'grade', 'assign', 'response', 'dismiss', 'obligation', 'fulfil', 'extend', 'end'] as const;
const INCIDENT_TYPES: ReadonlySet<string> = new Set(['signal', 'occurred', 'grade', 'assign', 'response', 'dismiss']);

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

type Obj = Record<string, unknown>;

function reqString(o: Obj, key: string, nonEmpty: boolean): string {
  const v = o[key];
  if (v === undefined || v === null) throw new LineError(`missing field "${key}"`);
  if (typeof v !== 'string' || (nonEmpty && v.length === 0)) {
    throw new LineError(`invalid field "${key}": expected a ${nonEmpty ? 'non-empty ' : ''}string, got ${show(v)}`);
  }
  return v;
}

/** Optional fields may be absent or null. */
function optString(o: Obj, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new LineError(`invalid field "${key}": expected a string, got ${show(v)}`);
  return v;
}

function instantOf(key: string, v: unknown): Instant {
  const at = typeof v === 'string' ? parseIsoInstant(v) : null;
  if (at === null) {
    throw new LineError(
      `invalid field "${key}": expected an ISO-8601 instant with offset (e.g. 2026-03-02T08:00:00+08:00), got ${show(v)}`,
    );
  }
  return at;
}

function reqInstant(o: Obj, key: string): Instant {
  const v = o[key];
  if (v === undefined || v === null) throw new LineError(`missing field "${key}"`);
  return instantOf(key, v);
}

function optInstant(o: Obj, key: string): Instant | undefined {
  const v = o[key];
  return v === undefined || v === null ? undefined : instantOf(key, v);
}

function reqEnum<T extends string>(o: Obj, key: string, values: readonly T[]): T {
  const v = o[key];
  if (v === undefined || v === null) throw new LineError(`missing field "${key}"`);
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new LineError(`invalid field "${key}": expected one of ${values.join(', ')}, got ${show(v)}`);
  }
  return v as T;
}

function reqBoolean(o: Obj, key: string): boolean {
  const v = o[key];
  if (v === undefined || v === null) throw new LineError(`missing field "${key}"`);
  if (typeof v !== 'boolean') throw new LineError(`invalid field "${key}": expected true or false, got ${show(v)}`);
  return v;
}

/** One line's object → input, or null for `end` (whose `at` is returned separately). */
function toInput(o: Obj, at: Instant): ReplayInput | null {
  const type = o['type'];
  switch (type) {
    case 'signal': {
      const input: Extract<IncidentInput, { type: 'signal' }> = {
        type,
        at,
        incident: reqString(o, 'incident', true),
        source: reqEnum(o, 'source', SOURCES),
      };
      const publishedAt = optInstant(o, 'publishedAt');
      const title = optString(o, 'title');
      const jurisdiction = optString(o, 'jurisdiction');
      if (publishedAt !== undefined) input.publishedAt = publishedAt;
      if (title !== undefined) input.title = title;
      if (jurisdiction !== undefined) input.jurisdiction = jurisdiction;
      return input;
    }
    case 'occurred':
      return { type, at, incident: reqString(o, 'incident', true), occurredAt: reqInstant(o, 'occurredAt') };
    case 'grade': {
      const input: Extract<IncidentInput, { type: 'grade' }> = {
        type,
        at,
        incident: reqString(o, 'incident', true),
        level: reqEnum(o, 'level', LEVELS),
      };
      const unit = optString(o, 'unit');
      if (unit !== undefined) input.unit = unit;
      return input;
    }
    case 'assign':
      return { type, at, incident: reqString(o, 'incident', true), unit: reqString(o, 'unit', false) };
    case 'response': {
      const input: Extract<IncidentInput, { type: 'response' }> = {
        type,
        at,
        incident: reqString(o, 'incident', true),
        kind: reqEnum(o, 'kind', RESPONSE_KINDS),
        original: reqBoolean(o, 'original'),
      };
      const publishedAt = optInstant(o, 'publishedAt');
      const unit = optString(o, 'unit');
      const channel = optString(o, 'channel');
      const url = optString(o, 'url');
      if (publishedAt !== undefined) input.publishedAt = publishedAt;
      if (unit !== undefined) input.unit = unit;
      if (channel !== undefined) input.channel = channel;
      if (url !== undefined) input.url = url;
      return input;
    }
    case 'dismiss':
      return { type, at, incident: reqString(o, 'incident', true), reason: reqString(o, 'reason', false) };
    case 'obligation': {
      const input: Extract<ReplayInput, { type: 'obligation' }> = {
        type,
        at,
        id: reqString(o, 'id', true),
        kind: reqEnum(o, 'kind', OBLIGATION_KINDS),
        issuedAt: reqInstant(o, 'issuedAt'),
      };
      const jurisdiction = optString(o, 'jurisdiction');
      if (jurisdiction !== undefined) input.jurisdiction = jurisdiction;
      return input;
    }
    case 'fulfil':
    case 'extend':
      return { type, at, id: reqString(o, 'id', true) };
    case 'end':
      return null;
    default:
      throw new LineError(
        type === undefined || type === null ? 'missing field "type"' : `unknown type ${show(type)} (expected one of ${TYPES.join(', ')})`,
      );
  }
}

interface RawEntry {
  line: number;
  at: Instant;
  input: ReplayInput;
}

/**
 * Parse and validate a timeline. The text is read up to the first `end` line; lines after
 * it are ignored unread. Every line read is checked (JSON, fields, type). Inputs are then
 * put in processing order (by `at`, ties in file order); those after the horizon (`end`'s
 * `at`, or the last `at` when there is no `end`) are dropped, and the rest are checked for
 * references in that order: an incident must have had a signal, an obligation must exist
 * before fulfil/extend, and an obligation id may start only once.
 * Blank lines are skipped; line numbers are physical lines of the text.
 */
export function parseTimeline(text: string): ParsedTimeline {
  const entries: RawEntry[] = [];
  let end: Instant | null = null;
  // Walk the text line by line instead of splitting it: an array of a million line strings
  // would outlive the young generation and cost a full garbage collection to drop.
  let lineStart = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let i = 0; lineStart <= text.length && end === null; i++) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = text.length;
    const raw = text.slice(lineStart, lineEnd);
    lineStart = lineEnd + 1;
    // Lines normally start with '{'; only other lines need the (allocating) blank check.
    if (raw.length === 0 || (raw.charCodeAt(0) !== 123 && raw.trim() === '')) continue;
    const line = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      return { ok: false, line, message: `bad JSON: ${(e as Error).message}` };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return { ok: false, line, message: `expected a JSON object, got ${show(value)}` };
    }
    try {
      const o = value as Obj;
      if (o['type'] === undefined || o['type'] === null) throw new LineError('missing field "type"');
      const at = reqInstant(o, 'at');
      const input = toInput(o, at);
      if (input === null) end = at;
      else entries.push({ line, at, input });
    } catch (e) {
      if (e instanceof LineError) return { ok: false, line, message: e.message };
      throw e;
    }
  }
  // Stable: ties keep file order. Recorded timelines are usually sorted already.
  if (!isSorted(entries)) entries.sort((a, b) => a.at - b.at);
  const horizon = end ?? (entries.length > 0 ? entries[entries.length - 1]!.at : null);

  const inputs: TimelineEntry[] = [];
  const incidents = new Set<string>();
  const obligations = new Map<string, number>();
  for (const e of entries) {
    // After `end` in processing order: the run stops at the horizon.
    if (horizon !== null && e.at > horizon) break;
    const error = referenceError(e.input, incidents, obligations, e.line);
    if (error !== null) return { ok: false, line: e.line, message: error };
    inputs.push(e);
  }
  return { ok: true, inputs, horizon };
}

function isSorted(entries: readonly { at: number }[]): boolean {
  for (let i = 1; i < entries.length; i++) if (entries[i]!.at < entries[i - 1]!.at) return false;
  return true;
}

function inputsSorted(entries: readonly TimelineEntry[]): boolean {
  for (let i = 1; i < entries.length; i++) if (entries[i]!.input.at < entries[i - 1]!.input.at) return false;
  return true;
}

function referenceError(input: ReplayInput, incidents: Set<string>, obligations: Map<string, number>, line: number): string | null {
  switch (input.type) {
    case 'signal':
      incidents.add(input.incident);
      return null;
    case 'obligation': {
      const first = obligations.get(input.id);
      if (first !== undefined) return `duplicate obligation id ${show(input.id)} (first at line ${first})`;
      obligations.set(input.id, line);
      return null;
    }
    case 'fulfil':
    case 'extend':
      return obligations.has(input.id)
        ? null
        : `unknown obligation ${show(input.id)}: no obligation line for it before this one (in order of at)`;
    default:
      return incidents.has(input.incident)
        ? null
        : `unknown incident ${show(input.incident)}: no signal for it before this line (in order of at)`;
  }
}

export interface ReplayOptions {
  pack: RulePack;
  calendar: WorkingDayCalendar;
  /** Report everything due up to and including this instant; default: the last input's `at`. */
  horizon?: Instant | null;
}

interface IncidentAggregate {
  group: 0;
  id: string;
  state: IncidentState;
  wake: Instant;
  heapIndex: number;
  /** Global creation order of each clock, indexed by its seq. */
  order: number[];
}

interface ObligationAggregate {
  group: 1;
  id: string;
  state: ObligationState;
  wake: Instant;
  heapIndex: number;
}

type Aggregate = IncidentAggregate | ObligationAggregate;

interface Tagged {
  e: EngineEvent;
  group: number;
  order: number;
  id: string;
  i: number;
}

/**
 * Replay inputs (in processing order; sorted stably by `at` here if they are not) and hand
 * each event to `emit` as it is decided. Throws ReplayError (with the line) when an input
 * cannot be applied, e.g. a calendar year without data (code CALENDAR_YEAR_MISSING).
 */
export function replayEach(inputs: readonly TimelineEntry[], options: ReplayOptions, emit: (e: EngineEvent) => void): void {
  const { pack, calendar } = options;
  const sorted = inputsSorted(inputs) ? inputs : [...inputs].sort((a, b) => a.input.at - b.input.at);
  const horizon = options.horizon ?? (sorted.length > 0 ? sorted[sorted.length - 1]!.input.at : null);
  const incidents = new Map<string, IncidentAggregate>();
  const obligations = new Map<string, ObligationAggregate>();
  const heap = new TimerHeap<Aggregate>();
  let clockCounter = 0;

  const reschedule = (agg: Aggregate): void => {
    heap.set(agg, agg.group === 0 ? nextIncidentWake(agg.state) : nextObligationWake(agg.state));
  };

  // The states here are private to this run, so they are updated in place (see
  // applyIncidentInputInPlace); the properties test checks this equals copy-per-step.
  const advance = (agg: Aggregate, at: Instant, seqs: number[] | null, out: EngineEvent[]): void => {
    if (agg.group === 0) advanceIncidentInPlace(agg.state, at, out, seqs);
    else advanceObligationInPlace(agg.state, at, out);
  };
  /** Reused for every step: replay emits each event before the next step. */
  const out: EngineEvent[] = [];
  const flush = (): void => {
    for (let i = 0; i < out.length; i++) emit(out[i]!);
    out.length = 0;
  };

  /** Fire every timer due at or before `limit`, one instant at a time. */
  const fireUntil = (limit: Instant): void => {
    while (heap.peekAt() <= limit) {
      const at = heap.peekAt();
      const batch: Aggregate[] = [];
      while (heap.peekAt() === at) batch.push(heap.pop()!);
      if (batch.length === 1) {
        advance(batch[0]!, at, null, out);
        flush();
      } else if (batch.length > 1) {
        const tagged: Tagged[] = [];
        for (const agg of batch) {
          const seqs: number[] = [];
          advance(agg, at, seqs, out);
          out.forEach((e, j) => {
            const order = agg.group === 0 ? (agg.order[seqs[j]!] ?? 0) : 0;
            tagged.push({ e, group: agg.group, order, id: agg.id, i: tagged.length });
          });
          out.length = 0;
        }
        tagged.sort(compareTagged);
        for (const t of tagged) emit(t.e);
      }
      for (const agg of batch) reschedule(agg);
    }
  };

  for (const entry of sorted) {
    const input = entry.input;
    if (horizon !== null && input.at > horizon) break;
    fireUntil(input.at - 1);
    try {
      if (INCIDENT_TYPES.has(input.type)) {
        const incidentInput = input as IncidentInput;
        let agg = incidents.get(incidentInput.incident);
        if (agg === undefined) {
          const r = applyIncidentInput(undefined, incidentInput, pack);
          agg = { group: 0, id: incidentInput.incident, state: r.state, wake: 0, heapIndex: -1, order: [-1] };
          incidents.set(agg.id, agg);
          for (const e of r.events) emit(e);
        } else {
          applyIncidentInputInPlace(agg.state, incidentInput, pack, out);
          flush();
        }
        for (let seq = agg.order.length; seq < agg.state.nextSeq; seq++) agg.order[seq] = clockCounter++;
        reschedule(agg);
      } else {
        const obligationInput = input as ReplayObligationInput;
        let agg = obligations.get(obligationInput.id);
        if (agg === undefined) {
          const r = applyObligationInput(undefined, obligationInput, pack, calendar);
          agg = { group: 1, id: obligationInput.id, state: r.state, wake: 0, heapIndex: -1 };
          obligations.set(agg.id, agg);
          for (const e of r.events) emit(e);
        } else {
          applyObligationInputInPlace(agg.state, obligationInput, calendar, out);
          flush();
        }
        reschedule(agg);
      }
    } catch (e) {
      if (e instanceof DomainError) throw new ReplayError(entry.line, e.message, e.code);
      throw e;
    }
  }
  if (horizon !== null) fireUntil(horizon);
}

function compareTagged(a: Tagged, b: Tagged): number {
  if (a.group !== b.group) return a.group - b.group;
  if (a.group === 0) {
    if (a.order !== b.order) return a.order - b.order;
  } else if (a.id !== b.id) {
    return a.id < b.id ? -1 : 1;
  }
  return a.i - b.i;
}

/** replayEach collected into an array. */
export function runReplay(inputs: readonly TimelineEntry[], options: ReplayOptions): EngineEvent[] {
  const events: EngineEvent[] = [];
  replayEach(inputs, options, (e) => events.push(e));
  return events;
}

const q = JSON.stringify;

function subject(e: { incident?: string; obligation?: string }): string {
  return e.incident !== undefined ? `"incident":${q(e.incident)}` : `"obligation":${q(e.obligation ?? '')}`;
}

/**
 * One output line (without newline). Field order as in replay.md's table, `event` first;
 * instants as ISO-8601 with milliseconds at +08:00.
 */
export function formatEvent(e: EngineEvent): string {
  const at = formatIsoInstant(e.at);
  switch (e.event) {
    case 'started':
    case 'breached':
      return `{"event":"${e.event}","at":"${at}",${subject(e)},"clock":"${e.clock}","due":"${formatIsoInstant(e.due)}"}`;
    case 'rescheduled':
      return `{"event":"rescheduled","at":"${at}",${subject(e)},"clock":"${e.clock}","due":"${formatIsoInstant(e.due)}"}`;
    case 'breach_retracted':
      return `{"event":"breach_retracted","at":"${at}","incident":${q(e.incident)},"clock":"${e.clock}","due":"${formatIsoInstant(e.due)}"}`;
    case 'warning':
      return `{"event":"warning","at":"${at}",${subject(e)},"clock":"${e.clock}","due":"${formatIsoInstant(e.due)}","elapsed":${q(e.elapsed)}}`;
    case 'met':
      return `{"event":"met","at":"${at}",${subject(e)},"clock":"${e.clock}","due":"${formatIsoInstant(e.due)}","respondedAt":"${formatIsoInstant(e.respondedAt)}","late":${e.late}}`;
    case 'cancelled':
    case 'waived':
      return `{"event":"${e.event}","at":"${at}","incident":${q(e.incident)},"clock":"${e.clock}","reason":${q(e.reason)}}`;
    case 'nonqualifying_response':
      return `{"event":"nonqualifying_response","at":"${at}","incident":${q(e.incident)},"kind":"${e.kind}","reason":${q(e.reason)}}`;
    case 'extended':
      return `{"event":"extended","at":"${at}","obligation":${q(e.obligation)},"clock":"${e.clock}","due":"${formatIsoInstant(e.due)}"}`;
    case 'extend_rejected':
    case 'suspend_rejected':
    case 'resume_rejected':
      return `{"event":"${e.event}","at":"${at}","obligation":${q(e.obligation)},"clock":"${e.clock}","reason":${q(e.reason)}}`;
    // Live-only events (not in replay.md yet), in the same style.
    case 'suspended':
      return `{"event":"suspended","at":"${at}","obligation":${q(e.obligation)},"clock":"${e.clock}","due":"${formatIsoInstant(e.due)}","reason":"${e.reason}","remainingWorkingDays":${e.remainingWorkingDays}}`;
    case 'resumed':
      return `{"event":"resumed","at":"${at}","obligation":${q(e.obligation)},"clock":"${e.clock}","due":"${formatIsoInstant(e.due)}","reason":"${e.reason}"}`;
    default: {
      const never: never = e;
      throw new Error(`unknown event ${q(never)}`);
    }
  }
}
