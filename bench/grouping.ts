/**
 * Grouping quality on the labelled sample (packages/domain/test/fixtures/grouping-sample.json):
 * pairwise precision and recall of the policy in force, then a sweep over the thresholds and
 * both similarity measures, which is how DEFAULT_GROUPING_POLICY was chosen.
 *
 *     pnpm bench --only grouping
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_GROUPING_POLICY, groupAll, type GroupingPolicy, type GroupingSubject, pairwiseScores } from '../packages/domain/src/index.ts';

interface SampleSignal {
  id: string;
  group: string;
  source: 'feed' | 'hotline';
  hour: number;
  title?: string;
  content?: string;
  url?: string;
  area?: string;
  category?: string;
}

const T0 = Date.parse('2026-03-02T08:00:00+08:00');
const sample = JSON.parse(readFileSync(new URL('../packages/domain/test/fixtures/grouping-sample.json', import.meta.url), 'utf8')) as {
  signals: SampleSignal[];
};

/** As intake makes them: a ticket's title is the start of its (masked) text; signals arrive in time order. */
export function subjectsOf(signals: readonly SampleSignal[]): GroupingSubject[] {
  return signals
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
}

const truth = new Map(sample.signals.map((s) => [s.id, s.group]));
const subjects = subjectsOf(sample.signals);
const run = (policy: GroupingPolicy) => pairwiseScores(truth, groupAll(subjects, policy));
const f1 = (p: number, r: number) => (p + r === 0 ? 0 : (2 * p * r) / (p + r));
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

const groups = new Set(truth.values()).size;
console.log(`sample: ${sample.signals.length} signals, ${groups} labelled matters`);
const d = run(DEFAULT_GROUPING_POLICY);
console.log(
  `policy in force (${DEFAULT_GROUPING_POLICY.measure}, text ≥ ${DEFAULT_GROUPING_POLICY.textThreshold}, burst ≥ ${DEFAULT_GROUPING_POLICY.burstThreshold}): ` +
    `precision ${pct(d.precision)}  recall ${pct(d.recall)}  F1 ${pct(f1(d.precision, d.recall))}  (pairs tp ${d.pairs.tp} fp ${d.pairs.fp} fn ${d.pairs.fn})`,
);

if (!process.argv.includes('--no-sweep')) {
  console.log('\nsweep (measure, text threshold, burst threshold → precision / recall / F1):');
  const rows: { m: string; t: number; b: number; p: number; r: number; f: number }[] = [];
  for (const measure of ['overlap', 'jaccard'] as const)
    for (let t = 0.15; t <= 0.8001; t += 0.05)
      for (let b = 0.1; b <= 0.5001; b += 0.05) {
        const s = run({ ...DEFAULT_GROUPING_POLICY, measure, textThreshold: t, burstThreshold: b });
        rows.push({ m: measure, t, b, p: s.precision, r: s.recall, f: f1(s.precision, s.recall) });
      }
  rows.sort((x, y) => y.f - x.f);
  for (const r of rows.slice(0, 15))
    console.log(`  ${r.m.padEnd(7)} text ${r.t.toFixed(2)} burst ${r.b.toFixed(2)} → ${pct(r.p)} / ${pct(r.r)} / ${pct(r.f)}`);
}
