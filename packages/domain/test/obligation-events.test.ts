/**
 * The live-only obligation events' text form (formatEvent / EventEncoder: not part of
 * replay.md yet), and the replay contract left as it is: timelines do not take the
 * live-only inputs.
 */
import { describe, expect, it } from 'vitest';
import { EventEncoder } from '../src/event-encoder.ts';
import { formatEvent, parseTimeline } from '../src/replay.ts';
import type { EngineEvent } from '../src/types.ts';
import { T, timeline } from './helpers.ts';

function encode(events: readonly EngineEvent[]): string {
  const parts: Uint8Array[] = [];
  const encoder = new EventEncoder((bytes) => parts.push(bytes.slice()), 64);
  for (const e of events) encoder.push(e);
  encoder.flush();
  return Buffer.concat(parts).toString('utf8');
}

describe('formatEvent and EventEncoder for the live-only obligation events', () => {
  const at = T('2025-09-30 15:00');
  const due = T('2025-10-18 00:00');
  it.each<[EngineEvent, string]>([
    [
      { event: 'rescheduled', at, obligation: 'd', clock: 'disclosure_request', due },
      '{"event":"rescheduled","at":"2025-09-30T15:00:00.000+08:00","obligation":"d","clock":"disclosure_request","due":"2025-10-18T00:00:00.000+08:00"}',
    ],
    [
      { event: 'suspended', at, obligation: 'd', clock: 'disclosure_request', reason: 'third_party', due, remainingWorkingDays: 8 },
      '{"event":"suspended","at":"2025-09-30T15:00:00.000+08:00","obligation":"d","clock":"disclosure_request","due":"2025-10-18T00:00:00.000+08:00","reason":"third_party","remainingWorkingDays":8}',
    ],
    [
      { event: 'resumed', at, obligation: '依申请 "1"', clock: 'disclosure_request', reason: 'correction', due },
      '{"event":"resumed","at":"2025-09-30T15:00:00.000+08:00","obligation":"依申请 \\"1\\"","clock":"disclosure_request","due":"2025-10-18T00:00:00.000+08:00","reason":"correction"}',
    ],
    [
      { event: 'suspend_rejected', at, obligation: 'd', clock: 'service_change', reason: 'not_suspendable' },
      '{"event":"suspend_rejected","at":"2025-09-30T15:00:00.000+08:00","obligation":"d","clock":"service_change","reason":"not_suspendable"}',
    ],
    [
      { event: 'resume_rejected', at, obligation: 'd', clock: 'disclosure_request', reason: 'not_suspended' },
      '{"event":"resume_rejected","at":"2025-09-30T15:00:00.000+08:00","obligation":"d","clock":"disclosure_request","reason":"not_suspended"}',
    ],
  ])('%j', (event, line) => {
    expect(formatEvent(event)).toBe(line);
    expect(JSON.stringify(JSON.parse(line))).toBe(line);
    expect(encode([event])).toBe(`${line}\n`);
  });
});

describe('the replay contract is unchanged', () => {
  it.each(['suspend', 'resume', 'recalculate'])('a timeline line of type %s is an unknown type', (type) => {
    const text = timeline([
      { type: 'obligation', at: '2026-03-02 10:00', id: 'd', kind: 'disclosure_request', issuedAt: '2026-03-02 10:00' },
      { type, at: '2026-03-03 10:00', id: 'd', reason: 'third_party' },
    ]);
    expect(parseTimeline(text)).toEqual({
      ok: false,
      line: 2,
      message: `unknown type "${type}" (expected one of signal, occurred, grade, assign, response, dismiss, obligation, fulfil, extend, end)`,
    });
  });
});
