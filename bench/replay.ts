/**
 * Replay throughput, one command: generate a synthetic recorded timeline (bench/replay-gen.ts)
 * into a temporary file, replay it through the real CLI (services/engine/src/replay-cli.ts) in
 * its own process, and print the figures.
 *
 *     node --import tsx bench/replay.ts [--lines 1000000] [--seed 1]
 *
 * Output on stdout, one `name value` per line:
 *   replay.lines              timeline lines (the generator overshoots --lines by at most one
 *                             incident's lines, plus the `end` line)
 *   replay.events             output lines the CLI printed
 *   replay.seconds            wall time of the CLI process, spawn to exit (startup, tsx
 *                             transpilation, reading and parsing included)
 *   replay.events_per_second  replay.events / replay.seconds
 *   replay.peak_rss_mb        the CLI process's peak resident set (process.resourceUsage().maxRSS,
 *                             reported by a preloaded module at exit), in MiB
 * Progress goes to stderr. Exits non-zero if the generator or the CLI fails.
 *
 * Generation runs in its own process first, so the measured replay shares the machine with
 * nothing of ours; the output is counted here from a pipe (a newline scan per chunk).
 */
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';

const root = fileURLToPath(new URL('..', import.meta.url));

function usage(message: string): never {
  process.stderr.write(`bench/replay.ts: ${message}\nusage: node --import tsx bench/replay.ts [--lines N] [--seed S]\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): { lines: number; seed: number } {
  const options = { lines: 1_000_000, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq !== -1 ? arg.slice(0, eq) : arg;
    const value = (): number => {
      const text = eq !== -1 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i];
      const n = Number(text);
      if (text === undefined || text === '' || !Number.isSafeInteger(n) || n < 1)
        usage(`${flag} needs a positive integer, got ${text ?? 'nothing'}`);
      return n;
    };
    if (flag === '--lines') options.lines = value();
    else if (flag === '--seed') options.seed = value();
    else usage(`unknown argument ${arg}`);
  }
  return options;
}

async function countNewlines(stream: Readable): Promise<number> {
  let n = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
  }
  return n;
}

/** Reports the process's peak RSS (KiB) on fd 3 when it exits. */
const RSS_PRELOAD =
  'data:text/javascript,' +
  encodeURIComponent(
    "import { writeSync } from 'node:fs'; process.on('exit', () => { try { writeSync(3, String(process.resourceUsage().maxRSS)); } catch {} });",
  );

function exited(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
}

const { lines, seed } = parseArgs(process.argv.slice(2));
const dir = mkdtempSync(join(tmpdir(), 'huiying-replay-bench-'));
try {
  const file = join(dir, 'timeline.jsonl');
  process.stderr.write(`[replay-bench] generating ${lines} lines (seed ${seed}) into ${file}\n`);
  const fd = openSync(file, 'w');
  try {
    const gen = spawn(process.execPath, ['--import', 'tsx', 'bench/replay-gen.ts', String(lines), String(seed)], {
      cwd: root,
      stdio: ['ignore', fd, 'inherit'],
    });
    const code = await exited(gen);
    if (code !== 0) throw new Error(`bench/replay-gen.ts exited ${code}`);
  } finally {
    closeSync(fd);
  }
  const timelineLines = await countNewlines(createReadStream(file));

  process.stderr.write(`[replay-bench] replaying ${timelineLines} lines through services/engine/src/replay-cli.ts\n`);
  const started = performance.now();
  const cli = spawn(process.execPath, ['--import', RSS_PRELOAD, '--import', 'tsx', 'services/engine/src/replay-cli.ts', file], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
  });
  const rssPipe = cli.stdio[3] as Readable;
  const output = cli.stdout;
  if (output === null) throw new Error('replay CLI has no stdout pipe');
  let rssText = '';
  rssPipe.setEncoding('utf8');
  rssPipe.on('data', (text: string) => (rssText += text));
  const [events, code] = await Promise.all([countNewlines(output), exited(cli)]);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`replay CLI exited ${code}`);
  const peakKiB = Number(rssText);

  const figures: [string, string][] = [
    ['replay.lines', String(timelineLines)],
    ['replay.events', String(events)],
    ['replay.seconds', seconds.toFixed(3)],
    ['replay.events_per_second', String(Math.round(events / seconds))],
    ['replay.peak_rss_mb', rssText === '' || !Number.isFinite(peakKiB) ? 'unknown' : (peakKiB / 1024).toFixed(1)],
  ];
  for (const [name, value] of figures) process.stdout.write(`${name} ${value}\n`);
} catch (error) {
  process.stderr.write(`[replay-bench] ${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
