/** The labelled grouping sample (fixtures/grouping-sample.json) as grouping subjects, for the unit test and bench/grouping.ts. */
import type { GroupingSubject } from '../src/grouping.ts';
// Imported as a module, not read from disk: the domain package does no I/O, its tests' fixtures included.
import sample from './fixtures/grouping-sample.json' with { type: 'json' };

export interface SampleSignal {
  id: string;
  /** The matter it belongs to (the label). */
  group: string;
  source: 'feed' | 'hotline';
  /** Hours after the sample's start. */
  hour: number;
  title?: string;
  content?: string;
  url?: string;
  area?: string;
  category?: string;
}

const T0 = Date.parse('2026-03-02T08:00:00+08:00');

export function loadSample(): { signals: SampleSignal[]; truth: Map<string, string>; subjects: GroupingSubject[] } {
  const { signals } = sample as { signals: SampleSignal[] };
  // As intake makes them: a ticket's title is the start of its text; signals arrive in time order.
  const subjects = signals
    .map((s) => ({
      id: s.id,
      source: s.source,
      at: T0 + Math.round(s.hour * 3_600_000),
      title: s.title ?? (s.content ?? '').slice(0, 40),
      content: s.content ?? null,
      url: s.url ?? null,
      area: s.area ?? null,
      category: s.category ?? null,
    }))
    .sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1));
  return { signals, truth: new Map(signals.map((s) => [s.id, s.group])), subjects };
}
