import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type CliIo, fileSpool, main, memorySpool } from '../src/replay-cli.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Run the replay CLI as a real process, the way `pnpm --silent replay` does. */
function runCli(args: readonly string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/engine/src/replay-cli.ts', ...args], { cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

const signal = (incident: string, at = '2026-03-02T08:00:00+08:00') => JSON.stringify({ type: 'signal', at, incident, source: 'feed' });
const good = [signal('A'), signal('B'), '{"type":"end","at":"2026-03-05T00:00:00+08:00"}'].join('\n') + '\n';
const tmp = mkdtempSync(join(tmpdir(), 'replay-cli-'));
const file = (name: string, text: string) => {
  const path = join(tmp, name);
  writeFileSync(path, text);
  return path;
};

/** main() against in-memory files and stdin. */
async function run(args: string[], files: Record<string, string> = {}, stdin = '') {
  const decoder = new TextDecoder();
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
    readStdin: () => Promise.resolve(stdin),
    stdout: (chunk) => {
      stdout += decoder.decode(chunk, { stream: true });
      return Promise.resolve();
    },
    stderr: (text) => (stderr += text),
    spool: memorySpool,
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

describe('replay CLI (in process)', () => {
  it('prints outcome JSONL only', async () => {
    const r = await run(['t.jsonl'], { 't.jsonl': good });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(
      r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { event: string }).event),
    ).toEqual(['started', 'started', 'warning', 'warning', 'warning', 'warning', 'breached', 'breached']);
  });

  it.each([
    ['bad JSON', `${signal('A')}\n{"type":`, 'line 2: bad JSON'],
    ['unknown type', `${signal('A')}\n${signal('B')}\n{"type":"ping","at":"2026-03-02T09:00:00+08:00"}`, 'line 3: unknown type "ping"'],
    ['missing field', `${signal('A')}\n{"type":"grade","at":"2026-03-02T09:00:00+08:00","incident":"A"}`, 'line 2: missing field "level"'],
    ['no offset', '{"type":"signal","at":"2026-03-02T08:00:00","incident":"A","source":"feed"}', 'line 1: invalid field "at"'],
    [
      'unknown incident',
      `${signal('A')}\n{"type":"assign","at":"2026-03-02T09:00:00+08:00","incident":"Q","unit":"u"}`,
      'line 2: unknown incident "Q"',
    ],
    [
      'duplicate obligation',
      '{"type":"obligation","at":"2026-03-02T09:00:00+08:00","id":"o","kind":"service_change","issuedAt":"2026-03-02T09:00:00+08:00"}\n{"type":"obligation","at":"2026-03-02T10:00:00+08:00","id":"o","kind":"service_change","issuedAt":"2026-03-02T09:00:00+08:00"}',
      'line 2: duplicate obligation id "o"',
    ],
    [
      'calendar year missing',
      `${signal('A')}\n{"type":"obligation","at":"2026-12-31T10:00:00+08:00","id":"o","kind":"service_change","issuedAt":"2026-12-31T10:00:00+08:00"}`,
      'line 2: calendar has no data for year 2027',
    ],
  ])('%s: exit 2, `line N: reason` on stderr, nothing on stdout', async (_, text, message) => {
    const r = await run(['t.jsonl'], { 't.jsonl': text });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.startsWith(message)).toBe(true);
  });

  it('--calendar adds a year; several files, later ones winning', async () => {
    const timeline =
      '{"type":"obligation","at":"2026-12-31T10:00:00+08:00","id":"o","kind":"service_change","issuedAt":"2026-12-31T10:00:00+08:00"}\n';
    const y2027 = JSON.stringify({ years: { '2027': { holidays: ['2027-01-01'], workdays: [] } } });
    const y2027b = JSON.stringify({ years: { '2027': { holidays: [], workdays: [] } } });
    const one = await run(['--calendar', 'c1.json', 't.jsonl'], { 't.jsonl': timeline, 'c1.json': y2027 });
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('"due":"2027-01-05T00:00:00.000+08:00"');
    const two = await run(['--calendar', 'c1.json', '--calendar=c2.json', 't.jsonl'], {
      't.jsonl': timeline,
      'c1.json': y2027,
      'c2.json': y2027b,
    });
    expect(two.stdout).toContain('"due":"2027-01-02T00:00:00.000+08:00"');
  });

  it('--calendar can override a known year', async () => {
    // Without National Day, 2025-09-30 + 1 working day is Oct 1.
    const noHolidays = JSON.stringify({ years: { '2025': { holidays: [], workdays: [] } } });
    const timeline =
      '{"type":"obligation","at":"2025-09-30T10:00:00+08:00","id":"o","kind":"service_change","issuedAt":"2025-09-30T10:00:00+08:00"}\n';
    const r = await run(['--calendar', 'c.json', 't.jsonl'], { 't.jsonl': timeline, 'c.json': noHolidays });
    expect(r.stdout).toContain('"due":"2025-10-02T00:00:00.000+08:00"');
  });

  it('--rules tightens the pack', async () => {
    const r = await run(['--rules', 'p.json', 't.jsonl'], {
      't.jsonl': `${signal('A')}\n{"type":"grade","at":"2026-03-02T08:00:00+08:00","incident":"A","level":"I"}\n`,
      'p.json': '{"clocks":{"release":{"spanHours":3}}}',
    });
    expect(r.stdout).toContain('"clock":"release","due":"2026-03-02T11:00:00.000+08:00"');
  });

  it.each([
    ['no timeline', [], {}, 'no timeline given'],
    ['two timelines', ['a', 'b'], {}, 'more than one timeline'],
    ['unknown option', ['--fast', 't.jsonl'], { 't.jsonl': good }, 'unknown option --fast'],
    ['--calendar without a file', ['t.jsonl', '--calendar'], { 't.jsonl': good }, '--calendar needs a file'],
    ['missing timeline file', ['nope.jsonl'], {}, 'nope.jsonl: cannot read (ENOENT)'],
    ['bad calendar JSON', ['--calendar', 'c.json', 't.jsonl'], { 't.jsonl': good, 'c.json': '{' }, '--calendar c.json: bad JSON'],
    [
      'invalid calendar',
      ['--calendar', 'c.json', 't.jsonl'],
      { 't.jsonl': good, 'c.json': '{"years":{"2027":{"holidays":["2026-01-01"],"workdays":[]}}}' },
      '/years/2027/holidays/0',
    ],
    [
      'invalid rules',
      ['--rules', 'p.json', 't.jsonl'],
      { 't.jsonl': good, 'p.json': '{"clocks":{"release":{"spanHours":-3}}}' },
      '--rules p.json: rule pack invalid: /clocks/release/spanHours',
    ],
  ])('%s: exit 2 with the reason, nothing on stdout', async (_, args, files, message) => {
    const r = await run(args as string[], files as Record<string, string>);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
  });
});

describe('file spool', () => {
  it('keeps bytes in order across chunks, and removes its file', async () => {
    const spool = fileSpool();
    const reused = new Uint8Array(3);
    for (const text of ['abc', 'def', 'g']) {
      const n = new TextEncoder().encodeInto(text, reused).written;
      spool.write(reused.subarray(0, n));
    }
    const got: string[] = [];
    await spool.drain(async (chunk) => void got.push(new TextDecoder().decode(chunk)));
    expect(got.join('')).toBe('abcdefg');
  });
});

// Each test starts Node with tsx: on a loaded 2-core machine that alone can take seconds.
describe('replay CLI (real process)', { timeout: 30_000 }, () => {
  it('replays a scenario file byte for byte', async () => {
    const scenarios = fileURLToPath(new URL('./scenarios/', import.meta.url));
    const r = await runCli([`${scenarios}grading.jsonl`]);
    expect(r).toEqual({ code: 0, stderr: '', stdout: readFileSync(`${scenarios}grading.expected.jsonl`, 'utf8') });
  });

  it('reads stdin with -', async () => {
    const r = await runCli(['-'], good);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(8);
  });

  it('a malformed line after many good ones: exit 2, the line number, and no partial output', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) => signal(`I${i}`, `2026-03-02T08:${String(i % 60).padStart(2, '0')}:00+08:00`));
    lines.push('{"type":"signal","at":"2026-03-03T08:00:00+08:00","incident":"X"}');
    const r = await runCli([file('bad.jsonl', lines.join('\n'))]);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'line 5001: missing field "source"\n' });
  });

  it('a calendar year missing: exit 2 naming the year; --calendar fixes it', async () => {
    const timeline = file(
      'y.jsonl',
      '{"type":"obligation","at":"2026-12-31T10:00:00+08:00","id":"o","kind":"service_change","issuedAt":"2026-12-31T10:00:00+08:00"}\n',
    );
    const missing = await runCli([timeline]);
    expect(missing).toEqual({ code: 2, stdout: '', stderr: 'line 1: calendar has no data for year 2027\n' });
    const cal = file('c.json', JSON.stringify({ years: { '2027': { holidays: ['2027-01-01'], workdays: [] } } }));
    const fixed = await runCli(['--calendar', cal, timeline]);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout.split('\n')[0]).toBe(
      '{"event":"started","at":"2026-12-31T10:00:00.000+08:00","obligation":"o","clock":"service_change","due":"2027-01-05T00:00:00.000+08:00"}',
    );
  });
});
