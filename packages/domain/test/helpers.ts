import { chinaCalendar } from '../src/calendar-cn.ts';
import type { WorkingDayCalendar } from '../src/calendar.ts';
import { formatEvent, parseTimeline, runReplay } from '../src/replay.ts';
import { DEFAULT_RULE_PACK, type RulePack } from '../src/rule-pack.ts';
import { parseIsoInstant } from '../src/time.ts';
import type { EngineEvent, Instant } from '../src/types.ts';

export const calendar = chinaCalendar();

/** 'YYYY-MM-DD HH:MM[:SS[.mmm]]' in Asia/Shanghai → epoch ms. */
export function T(text: string): Instant {
  const [date, time = '00:00'] = text.split(' ');
  const full = time.length === 5 ? `${time}:00` : time;
  const ms = parseIsoInstant(`${date}T${full}+08:00`);
  if (ms === null) throw new Error(`bad test time ${text}`);
  return ms;
}

/** The same as an ISO string with offset, for timeline lines. */
export function iso(text: string): string {
  const [date, time = '00:00'] = text.split(' ');
  return `${date}T${time.length === 5 ? `${time}:00` : time}+08:00`;
}

export type Line = Record<string, unknown> & { type: string; at: string };

/** Timeline lines with short times ('2026-03-02 08:00') expanded to ISO; other fields as given. */
export function timeline(lines: readonly Line[]): string {
  const timeKeys = new Set(['at', 'publishedAt', 'occurredAt', 'issuedAt']);
  return lines
    .map((l) =>
      JSON.stringify(
        Object.fromEntries(
          Object.entries(l).map(([k, v]) => [k, timeKeys.has(k) && typeof v === 'string' && !v.includes('T') ? iso(v) : v]),
        ),
      ),
    )
    .join('\n');
}

export interface RunOptions {
  pack?: RulePack;
  calendar?: WorkingDayCalendar;
}

export function replay(lines: readonly Line[], options: RunOptions = {}): EngineEvent[] {
  const parsed = parseTimeline(timeline(lines));
  if (!parsed.ok) throw new Error(`line ${parsed.line}: ${parsed.message}`);
  return runReplay(parsed.inputs, {
    pack: options.pack ?? DEFAULT_RULE_PACK,
    calendar: options.calendar ?? calendar,
    horizon: parsed.horizon,
  });
}

export function replayText(text: string, options: RunOptions = {}): string {
  const parsed = parseTimeline(text);
  if (!parsed.ok) throw new Error(`line ${parsed.line}: ${parsed.message}`);
  const events = runReplay(parsed.inputs, {
    pack: options.pack ?? DEFAULT_RULE_PACK,
    calendar: options.calendar ?? calendar,
    horizon: parsed.horizon,
  });
  return events.map((e) => formatEvent(e) + '\n').join('');
}

/** Recursively freeze, so a test fails if the code under test mutates its input. */
export function deepFreeze<V>(value: V): V {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
