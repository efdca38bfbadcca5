/**
 * `pnpm --silent replay [--calendar extra.json]... [--rules pack.json] [--ladder] <timeline.jsonl | ->`
 *
 * `--ladder` (opt-in, not yet in replay.md) adds the escalation ladder's `escalated` lines
 * (step, recipients' roles); without it the output is exactly the contract's. The ladder is the
 * jurisdiction's of the pack (`--rules`) when the incident's opening `signal` line or the
 * `obligation` line names a `jurisdiction`, else the pack's own (see the README).
 *
 * The public replay contract (docs replay.md): outcome JSONL on stdout and nothing else;
 * a malformed line, an unknown calendar year or a bad option gives `line N: reason` (or
 * the option's problem) on stderr, exit 2, and nothing at all on stdout — output is held
 * back until the whole run has succeeded.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  chinaCalendar,
  DEFAULT_RULE_PACK,
  DomainError,
  EventEncoder,
  formatEscalated,
  formatEvent,
  parseCalendarData,
  parseRulePack,
  parseTimeline,
  ReplayError,
  replayEach,
  type RulePack,
  runReplay,
  withEscalations,
} from '@huiying/domain';

/** Where output waits until the run has succeeded. */
export interface Spool {
  /** `bytes` is only valid during the call. */
  write(bytes: Uint8Array): void;
  /** Hand everything written, in order, to `out`; then forget it. */
  drain(out: (chunk: Uint8Array) => Promise<void>): Promise<void>;
  discard(): void;
}

export interface CliIo {
  readFile(path: string): string;
  readStdin(): Promise<string>;
  /** Resolves when the chunk may be reused and more can be written. */
  stdout(chunk: Uint8Array): Promise<void>;
  stderr(text: string): void;
  spool(): Spool;
}

const USAGE = 'usage: replay [--calendar extra.json]... [--rules pack.json] [--ladder] <timeline.jsonl | ->';

/** Bad command line: the message and the usage line. */
class UsageError extends Error {}
/** A file that cannot be used: the message only. */
class InputError extends Error {}

interface Args {
  timeline: string;
  calendars: string[];
  rules: string | null;
  ladder: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const calendars: string[] = [];
  let rules: string | null = null;
  let timeline: string | null = null;
  let ladder = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a file`);
      return v;
    };
    if (arg === '--ladder') ladder = true;
    else if (flag === '--calendar') calendars.push(value());
    else if (flag === '--rules') {
      if (rules !== null) throw new UsageError('--rules given twice');
      rules = value();
    } else if (arg === '-' || !arg.startsWith('-')) {
      if (timeline !== null) throw new UsageError('more than one timeline given');
      timeline = arg;
    } else throw new UsageError(`unknown option ${arg}`);
  }
  if (timeline === null) throw new UsageError('no timeline given');
  return { timeline, calendars, rules, ladder };
}

function readJson(io: CliIo, path: string, what: string): unknown {
  let text: string;
  try {
    text = io.readFile(path);
  } catch (e) {
    throw new InputError(`${what} ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${what} ${path}: bad JSON: ${(e as Error).message}`);
  }
}

/** Run the CLI; returns the exit code. Output goes through `io` only. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const args = parseArgs(argv);
    const overrides = args.calendars.map((path) => {
      const document = readJson(io, path, '--calendar');
      try {
        return parseCalendarData(document, `--calendar ${path}`);
      } catch (e) {
        if (e instanceof DomainError) throw new InputError(e.message);
        throw e;
      }
    });
    const calendar = chinaCalendar(overrides);
    let pack: RulePack = DEFAULT_RULE_PACK;
    if (args.rules !== null) {
      const document = readJson(io, args.rules, '--rules');
      try {
        pack = parseRulePack(document);
      } catch (e) {
        if (e instanceof DomainError) throw new InputError(`--rules ${args.rules}: ${e.message}`);
        throw e;
      }
    }
    let text: string;
    try {
      text = args.timeline === '-' ? await io.readStdin() : io.readFile(args.timeline);
    } catch (e) {
      throw new InputError(`${args.timeline}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const parsed = parseTimeline(text);
    // The text (often hundreds of MB) is not needed any more; let the GC have it.
    text = '';
    if (!parsed.ok) {
      io.stderr(`line ${parsed.line}: ${parsed.message}\n`);
      return 2;
    }
    // Nothing is printed until the whole run has succeeded: output is spooled (to a
    // temporary file in production, so a large replay needs no memory for it).
    const spool = io.spool();
    try {
      if (args.ladder) {
        // Holds every event in memory (the ladder needs each clock's whole history): fine for
        // the timelines leaders ask about, not for the million-line throughput runs.
        const events = runReplay(parsed.inputs, { pack, calendar, horizon: parsed.horizon });
        const lines = withEscalations(parsed.inputs, events, pack, parsed.horizon).map((e) =>
          e.event === 'escalated' ? formatEscalated(e) : formatEvent(e),
        );
        spool.write(Buffer.from(lines.length > 0 ? `${lines.join('\n')}\n` : ''));
      } else {
        const encoder = new EventEncoder((bytes) => spool.write(bytes));
        replayEach(parsed.inputs, { pack, calendar, horizon: parsed.horizon }, (e) => encoder.push(e));
        encoder.flush();
      }
    } catch (e) {
      spool.discard();
      throw e;
    }
    await spool.drain(io.stdout);
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
    if (e instanceof InputError) {
      io.stderr(`${e.message}\n`);
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

/** A spool in a temporary file, removed when drained or discarded. */
export function fileSpool(): Spool {
  const dir = mkdtempSync(join(tmpdir(), 'huiying-replay-'));
  const path = join(dir, 'out.jsonl');
  const fd = openSync(path, 'w+');
  let size = 0;
  const remove = () => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    write(bytes) {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, size + done);
      size += bytes.length;
    },
    async drain(out) {
      try {
        const block = Buffer.allocUnsafe(1 << 20);
        for (let at = 0; at < size;) {
          const n = readSync(fd, block, 0, Math.min(block.length, size - at), at);
          if (n === 0) break;
          await out(block.subarray(0, n));
          at += n;
        }
      } finally {
        remove();
      }
    },
    discard: remove,
  };
}

/** A spool in memory (tests, embedding). */
export function memorySpool(): Spool {
  let chunks: Uint8Array[] = [];
  return {
    write: (bytes) => void chunks.push(bytes.slice()),
    async drain(out) {
      for (const chunk of chunks) await out(chunk);
      chunks = [];
    },
    discard: () => void (chunks = []),
  };
}

/** Write to stdout and wait for the stream to accept more (so `chunk` can be reused). */
function writeStdout(chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(chunk, (error) => (error ? reject(error) : resolve()));
  });
}

export const processIo: CliIo = {
  readFile: (path) => readFileSync(path, 'utf8'),
  readStdin: () => readAll(process.stdin),
  stdout: writeStdout,
  stderr: (text) => void process.stderr.write(text),
  spool: fileSpool,
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2), processIo);
}
