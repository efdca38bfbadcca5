/**
 * Grouping quality on the labelled sample (packages/domain/test/fixtures/grouping-sample.json):
 * pairwise precision and recall of the policy in force, then a sweep over the thresholds and
 * both similarity measures — how DEFAULT_GROUPING_POLICY was chosen.
 *
 *     pnpm bench --only grouping [--no-sweep]
 *
 * Then the cost as open matters grow (frame-heavy tickets through groupAll), and the candidate
 * pool's memory and cost with the e2e bench's tickets (run with --expose-gc for the memory).
 */
import {
  CandidatePool,
  DEFAULT_GROUPING_POLICY,
  groupAll,
  groupingFeatures,
  type GroupingPolicy,
  type GroupingSubject,
  pairwiseScores,
} from '../packages/domain/src/index.ts';
import { frameTicketMaker } from '../packages/domain/test/frame-tickets.ts';
import { loadSample } from '../packages/domain/test/grouping-sample.ts';
import { benchTicket } from './e2e/tickets.ts';

const { signals, truth, subjects } = loadSample();
const run = (policy: GroupingPolicy) => pairwiseScores(truth, groupAll(subjects, policy));
const f1 = (p: number, r: number) => (p + r === 0 ? 0 : (2 * p * r) / (p + r));
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

const P = DEFAULT_GROUPING_POLICY;
console.log(
  `sample: ${signals.length} signals (${signals.filter((s) => s.source === 'hotline').length} tickets), ${new Set(truth.values()).size} labelled matters`,
);
const started = process.hrtime.bigint();
const d = run(P);
const ms = Number(process.hrtime.bigint() - started) / 1e6;
console.log(
  `policy in force (${P.measure}, text ≥ ${P.textThreshold}, burst ≥ ${P.burstThreshold}, min ${P.minBigrams} bigrams): ` +
    `precision ${pct(d.precision)}  recall ${pct(d.recall)}  F1 ${pct(f1(d.precision, d.recall))}  ` +
    `(pairs: ${d.pairs.tp} right, ${d.pairs.fp} wrongly together, ${d.pairs.fn} wrongly apart; ${ms.toFixed(1)} ms)`,
);

if (!process.argv.includes('--no-sweep')) {
  console.log('\nsweep, best F1 first (measure, text threshold, burst threshold → precision / recall / F1):');
  const rows: { m: string; t: number; b: number; p: number; r: number; f: number }[] = [];
  for (const measure of ['overlap', 'jaccard'] as const)
    for (let t = 0.05; t <= 0.6001; t += 0.025)
      for (let b = 0.1; b <= 0.4001; b += 0.025) {
        const s = run({ ...P, measure, textThreshold: t, burstThreshold: b });
        rows.push({ m: measure, t, b, p: s.precision, r: s.recall, f: f1(s.precision, s.recall) });
      }
  rows.sort((x, y) => y.f - x.f);
  const show = (r: (typeof rows)[number]) =>
    console.log(`  ${r.m.padEnd(7)} text ${r.t.toFixed(3)} burst ${r.b.toFixed(3)} → ${pct(r.p)} / ${pct(r.r)} / ${pct(r.f)}`);
  rows.slice(0, 10).forEach(show);
  console.log('best jaccard:');
  rows
    .filter((r) => r.m === 'jaccard')
    .slice(0, 3)
    .forEach(show);
}

// The cost as open matters grow (issue 8: grouping runs inside the engine's signal batch). Tickets
// with the 12345 frame every real one has (市民来电称…, 来电称…) and otherwise distinct text: each
// opens its own matter, so every one is a candidate for all later ones. Seeded, so runs compare.
{
  const frameTickets = frameTicketMaker(2026);
  console.log('\ncost as open matters grow (distinct tickets sharing the 12345 frame, groupAll):');
  for (const n of [1000, 4000, 16000, 64000]) {
    const tickets = frameTickets(n);
    const t = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const groups = new Set(groupAll(tickets, P).values()).size;
    const took = Number(process.hrtime.bigint() - t) / 1e6;
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000;
    // CPU time beside wall time: on a shared machine the wall time says more about the neighbours.
    console.log(
      `  ${String(n).padStart(5)} tickets: ${took.toFixed(0).padStart(6)} ms (CPU ${cpuMs.toFixed(0)} ms), ${((cpuMs * 1000) / n).toFixed(0)} µs CPU per ticket, ${groups} groups`,
    );
  }
}

// The pool an engine keeps (issue 8), with the e2e bench's tickets: 80 % new matters, 20 % joining
// the ticket before. Its memory per candidate (what an engine holds for each open matter's recent
// signals in the 72 h window: the JS heap and its typed arrays) and its CPU per ticket: features +
// decide + add over the whole run, and `pool.decide` alone for the last 5 000. One function per
// size, so nothing of one run is live in the next.
function measurePool(n: number): string {
  const gc = (globalThis as { gc?: () => void }).gc;
  const subjects: GroupingSubject[] = Array.from({ length: n }, (_, i) => {
    const t = benchTicket(i, { prefix: 'g', joinEvery: 5, receivedAt: '2026-12-01T00:00:00Z' });
    return { id: t.id, source: 'hotline', at: i, title: t.title, content: t.content, area: t.area ?? null, category: t.category ?? null };
  });
  gc?.();
  // The JS heap and the memory behind typed arrays (the pool's per-slot Int32Arrays).
  const held = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const before = held();
  const pool = new CandidatePool(P);
  let joins = 0;
  let lastCpu = 0;
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const f = groupingFeatures(subjects[i]!, P);
    const last = i >= n - 5000 ? process.cpuUsage() : null;
    const d = pool.decide(f);
    if (last) {
      const u = process.cpuUsage(last);
      lastCpu += u.user + u.system;
    }
    if (d.kind === 'join') joins++;
    pool.add({ ...f, incidentId: d.kind === 'join' ? d.incidentId : f.id });
  }
  const used = process.cpuUsage(cpu);
  gc?.();
  const grown = held() - before;
  // Both used after the collection, so it took neither (the tickets were on the heap before it).
  const kept = pool.relevant(groupingFeatures(subjects[0]!, P)).length >= 0;
  return (
    `  ${String(n).padStart(6)} tickets: ${(((used.user + used.system) / n) | 0).toString().padStart(4)} µs CPU per ticket, ` +
    `last 5 000 pool.decide ${(lastCpu / 5000).toFixed(0)} µs CPU each, ${joins} joined; ` +
    (gc && kept ? `memory ${(grown / n).toFixed(0)} B per candidate (${(grown / 1e6).toFixed(0)} MB)` : 'memory: run with --expose-gc')
  );
}
console.log('\ncandidate pool with the e2e tickets (decide + add, one pool):');
for (const n of [30_000, 80_000]) console.log(measurePool(n));
