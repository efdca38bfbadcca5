/**
 * `pnpm --silent replay [--calendar extra.json]... [--rules pack.json] <timeline.jsonl | ->`
 *
 * The public replay contract (docs replay.md): outcome JSONL on stdout and nothing else;
 * a malformed line, an unknown calendar year or a bad option gives `line N: reason` (or
 * the option's problem) on stderr, exit 2, and nothing at all on stdout — output is held
 * back until the whole run has succeeded.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  chinaCalendar,
  DEFAULT_RULE_PACK,
  DomainError,
  EventEncoder,
  parseRulePack,
  parseTimeline,
  ReplayError,
  replayEach,
  type RulePack,
} from '@huiying/domain';

export interface CliIo {
  readFile(path: string): string;
  readStdin(): Promise<string>;
  stdout(chunk: Uint8Array): void;
  stderr(text: string): void;
}

const USAGE = 'usage: replay [--calendar extra.json]... [--rules pack.json] <timeline.jsonl | ->';

class UsageError extends Error {}

interface Args {
  timeline: string;
  calendars: string[];
  rules: string | null;
}

function parseArgs(argv: readonly string[]): Args {
  const calendars: string[] = [];
  let rules: string | null = null;
  let timeline: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a file`);
      return v;
    };
    if (flag === '--calendar') calendars.push(value());
    else if (flag === '--rules') {
      if (rules !== null) throw new UsageError('--rules given twice');
      rules = value();
    } else if (arg === '-' || !arg.startsWith('-')) {
      if (timeline !== null) throw new UsageError('more than one timeline given');
      timeline = arg;
    } else throw new UsageError(`unknown option ${arg}`);
  }
  if (timeline === null) throw new UsageError('no timeline given');
  return { timeline, calendars, rules };
}

function readJson(io: CliIo, path: string, what: string): unknown {
  let text: string;
  try {
    text = io.readFile(path);
  } catch (e) {
    throw new UsageError(`${what} ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${what} ${path}: bad JSON: ${(e as Error).message}`);
  }
}

/** Run the CLI; returns the exit code. Output goes through `io` only. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const args = parseArgs(argv);
    let calendar;
    try {
      calendar = chinaCalendar(args.calendars.map((path) => readJson(io, path, '--calendar')));
    } catch (e) {
      if (e instanceof DomainError) throw new UsageError(`--calendar: ${e.message}`);
      throw e;
    }
    let pack: RulePack = DEFAULT_RULE_PACK;
    if (args.rules !== null) {
      const document = readJson(io, args.rules, '--rules');
      try {
        pack = parseRulePack(document);
      } catch (e) {
        if (e instanceof DomainError) throw new UsageError(`--rules ${args.rules}: ${e.message}`);
        throw e;
      }
    }
    let text: string;
    try {
      text = args.timeline === '-' ? await io.readStdin() : io.readFile(args.timeline);
    } catch (e) {
      throw new UsageError(`${args.timeline}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const parsed = parseTimeline(text);
    // The text (often hundreds of MB) is not needed any more; let the GC have it.
    text = '';
    if (!parsed.ok) {
      io.stderr(`line ${parsed.line}: ${parsed.message}\n`);
      return 2;
    }
    // Held back until the run has succeeded (no partial output), as ~1 MB byte chunks
    // written straight from the events: outside the JS heap, no string per line.
    const encoder = new EventEncoder();
    replayEach(parsed.inputs, { pack, calendar, horizon: parsed.horizon }, (e) => encoder.push(e));
    const chunks = encoder.finish();
    for (const chunk of chunks) io.stdout(chunk);
    return 0;
  } catch (e) {
    if (e instanceof ReplayError) {
      io.stderr(`line ${e.line}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof UsageError) {
      io.stderr(`${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(typeof part === 'string' ? Buffer.from(part) : part);
  return Buffer.concat(parts).toString('utf8');
}

export const processIo: CliIo = {
  readFile: (path) => readFileSync(path, 'utf8'),
  readStdin: () => readAll(process.stdin),
  stdout: (chunk) => void process.stdout.write(chunk),
  stderr: (text) => void process.stderr.write(text),
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2), processIo);
}
