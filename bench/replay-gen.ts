/**
 * A synthetic recorded timeline for the replay benchmark, JSONL on stdout:
 *
 *     pnpm exec tsx bench/replay-gen.ts [lines=1000000] [seed=1] > /tmp/timeline.jsonl
 *     time pnpm --silent replay /tmp/timeline.jsonl | wc -l
 *
 * or generate, replay through the real CLI and print the figures in one go:
 *
 *     node --import tsx bench/replay-gen.ts --measure [lines] [seed]
 *
 * Deterministic for a seed. The mix follows what a city's duty desk sees: most incidents
 * stay low-level and get one reply, some are graded I/II, some get reposts, re-grades,
 * late occurrence times or are dismissed; working-day duties are fulfilled or extended.
 * Instants stay inside 2026 so that the calendar data covers every deadline.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const measure = process.argv[2] === '--measure';
const argv = measure ? process.argv.slice(3) : process.argv.slice(2);

/** Run a node script with tsx; resolve with its exit code and the number of lines it printed. */
function run(args: string[], stdout: 'count' | number): Promise<{ code: number | null; lines: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      stdio: ['ignore', stdout === 'count' ? 'pipe' : stdout, 'inherit'],
    });
    let lines = 0;
    child.stdout?.on('data', (chunk: Buffer) => {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    });
    child.on('close', (code) => resolve({ code, lines }));
  });
}

if (measure) {
  // Generation runs in its own process, so the measured replay shares the machine with
  // nothing of ours (a parent holding the generated timeline slowed it by half).
  const dir = mkdtempSync(join(tmpdir(), 'replay-bench-'));
  const file = join(dir, 'timeline.jsonl');
  try {
    const fd = openSync(file, 'w');
    await run([fileURLToPath(import.meta.url), ...argv], fd);
    closeSync(fd);
    const count = readFileSync(file, 'utf8').split('\n').length - 1;
    const started = performance.now();
    const { code, lines: events } = await run(['services/engine/src/replay-cli.ts', file], 'count');
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`replay exited ${code}`);
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    console.log(`replay: ${fmt(count)} lines → ${fmt(events)} events in ${seconds.toFixed(2)} s (whole CLI process, startup included)`);
    console.log(`replay: ${fmt(events / seconds)} events/s, ${fmt(count / seconds)} lines/s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

const total = Number(argv[0] ?? 1_000_000);
let seed = Number(argv[1] ?? 1) >>> 0 || 1;

/** mulberry32 */
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (p: number) => random() < p;

const MIN = 60_000;
const HOUR = 60 * MIN;
const FROM = Date.parse('2026-01-05T00:00:00+08:00');
const TO = Date.parse('2026-10-31T00:00:00+08:00');
const iso = (ms: number) => new Date(ms + 8 * HOUR).toISOString().replace('Z', '+08:00');

const lines: { at: number; text: string }[] = [];
const emit = (at: number, fields: Record<string, unknown>) => lines.push({ at, text: JSON.stringify({ ...fields, at: iso(at) }) });

let incidents = 0;
let obligations = 0;
while (lines.length < total) {
  if (chance(0.15)) {
    const id = `ob-${++obligations}`;
    const kind = pick([
      'policy_interpretation',
      'service_change',
      'proposal_reply',
      'penalty_disclosure',
      'disclosure_request',
      'disclosure_request',
    ]);
    const issued = FROM + Math.floor(random() * (TO - FROM));
    const at = issued + Math.floor(random() * 2 * HOUR);
    emit(at, { type: 'obligation', id, kind, issuedAt: iso(issued) });
    if (kind === 'disclosure_request' && chance(0.3)) emit(at + Math.floor(random() * 10 * 24 * HOUR), { type: 'extend', id });
    if (chance(0.7)) emit(at + Math.floor(random() * 30 * 24 * HOUR), { type: 'fulfil', id });
    continue;
  }
  const incident = `inc-${++incidents}`;
  const seen = FROM + Math.floor(random() * (TO - FROM));
  const published = chance(0.6) ? seen - Math.floor(random() * 6 * HOUR) : undefined;
  emit(seen, {
    type: 'signal',
    incident,
    source: pick(['feed', 'feed', 'hotline', 'manual']),
    title: `事件 ${incidents}`,
    ...(published ? { publishedAt: iso(published) } : {}),
  });
  let t = seen;
  if (chance(0.3))
    emit((t += Math.floor(random() * 3 * HOUR)), {
      type: 'signal',
      incident,
      source: 'hotline',
      publishedAt: iso(t - Math.floor(random() * 12 * HOUR)),
    });
  if (chance(0.1))
    emit((t += Math.floor(random() * HOUR)), { type: 'occurred', incident, occurredAt: iso(seen - Math.floor(random() * 24 * HOUR)) });
  const level = chance(0.7) ? pick(['I', 'II', 'III', 'III', 'IV', 'IV', 'IV']) : null;
  if (level !== null)
    emit((t += Math.floor(random() * 2 * HOUR)), { type: 'grade', incident, level, unit: `unit-${Math.floor(random() * 200)}` });
  if (chance(0.2)) emit((t += Math.floor(random() * HOUR)), { type: 'assign', incident, unit: `unit-${Math.floor(random() * 200)}` });
  if (chance(0.15)) emit((t += Math.floor(random() * 4 * HOUR)), { type: 'response', incident, kind: 'release', original: false });
  if (chance(0.05)) {
    emit((t += Math.floor(random() * 24 * HOUR)), { type: 'dismiss', incident, reason: 'duplicate' });
    continue;
  }
  if (level !== null && chance(0.1))
    emit((t += Math.floor(random() * 6 * HOUR)), { type: 'grade', incident, level: pick(['I', 'II', 'III', 'IV']) });
  const responses = chance(0.85) ? 1 + Math.floor(random() * 2) : 0;
  for (let i = 0; i < responses; i++) {
    const at = (t += Math.floor(random() * 30 * HOUR));
    const publishedAt = chance(0.3) ? iso(at - Math.floor(random() * 3 * HOUR)) : undefined;
    emit(at, {
      type: 'response',
      incident,
      kind: pick(['release', 'reply', 'reply', 'press_conference']),
      original: true,
      ...(publishedAt ? { publishedAt } : {}),
    });
  }
}

// Each incident's and duty's lines are generated together, so nothing refers to a line that
// was not written; the count overshoots `total` by at most one incident's lines.
lines.sort((a, b) => a.at - b.at);
const endAt = Math.max(lines.at(-1)?.at ?? FROM, TO) + 7 * 24 * HOUR;
const endLine = JSON.stringify({ type: 'end', at: iso(endAt) });

for (let i = 0; i < lines.length; i += 65_536) {
  process.stdout.write(
    lines
      .slice(i, i + 65_536)
      .map((l) => l.text)
      .join('\n') + '\n',
  );
}
process.stdout.write(endLine + '\n');
