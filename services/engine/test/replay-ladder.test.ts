/**
 * `replay --ladder` (opt-in): the contract's output is untouched — every scenario's expected
 * lines come out, byte for byte and in order, with the ladder's `escalated` lines merged in.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type CliIo, main, memorySpool } from '../src/replay-cli.ts';

const dir = fileURLToPath(new URL('./scenarios/', import.meta.url));
const scenarios = readdirSync(dir)
  .filter((f) => f.endsWith('.jsonl') && !f.endsWith('.expected.jsonl'))
  .map((f) => f.slice(0, -'.jsonl'.length));

async function replay(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    readFile: (path) => readFileSync(path, 'utf8'),
    readStdin: () => Promise.resolve(''),
    stdout: (chunk) => {
      stdout += Buffer.from(chunk).toString('utf8');
      return Promise.resolve();
    },
    stderr: (text) => (stderr += text),
    spool: memorySpool,
  };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

describe('replay --ladder', () => {
  it.each(scenarios)('%s: the contract lines unchanged, escalations merged in time order', async (name) => {
    const extra = [
      ...(existsSync(join(dir, `${name}.calendar.json`)) ? ['--calendar', join(dir, `${name}.calendar.json`)] : []),
      ...(existsSync(join(dir, `${name}.rules.json`)) ? ['--rules', join(dir, `${name}.rules.json`)] : []),
    ];
    const plain = await replay([...extra, join(dir, `${name}.jsonl`)]);
    const laddered = await replay([...extra, '--ladder', join(dir, `${name}.jsonl`)]);
    expect(laddered.code).toBe(plain.code);
    expect(laddered.stderr).toBe(plain.stderr);
    const lines = laddered.stdout.split('\n').filter(Boolean);
    expect(lines.filter((l) => !l.startsWith('{"event":"escalated"')).join('\n')).toBe(plain.stdout.trimEnd());
    const ats = lines.map((l) => Date.parse((JSON.parse(l) as { at: string }).at));
    expect(ats).toEqual([...ats].sort((a, b) => a - b));
    if (plain.stdout.includes('"breached"')) expect(laddered.stdout).toContain('"step":"urge#0"');
  });

  it('prints the step and recipients’ roles', async () => {
    const r = await replay(['--ladder', join(dir, 'breach-retracted.jsonl')]);
    const first = r.stdout.split('\n').find((l) => l.includes('"escalated"'));
    expect(first).toMatch(
      /^\{"event":"escalated","at":"[^"]+\+08:00","incident":"[^"]+","clock":"\w+","step":"\w+#\d+","kind":"\w+","to":\["[a-z]+"(,"[a-z]+")*\],"cc":\[.*\]\}$/,
    );
  });

  it('a signal or obligation line naming a jurisdiction follows that jurisdiction’s ladder from --rules; others the pack’s own', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'replay-ladder-'));
    try {
      const rules = join(tmp, 'pack.json');
      const timeline = join(tmp, 'timeline.jsonl');
      writeFileSync(
        rules,
        JSON.stringify({
          jurisdictions: {
            east: { ladder: { clocks: { release: { leadersAfterHours: 2 } } } },
            west: { ladder: { clocks: { release: { leadersAfterHours: 6 }, service_change: { leadersAfterHours: 1 } } } },
          },
        }),
      );
      const at = '2026-03-02T08:00:00+08:00';
      const lines = [
        { type: 'signal', at, incident: 'E', source: 'feed', jurisdiction: 'east' },
        { type: 'signal', at, incident: 'W', source: 'feed', jurisdiction: 'west' },
        { type: 'signal', at, incident: 'D', source: 'feed' },
        ...['E', 'W', 'D'].map((incident) => ({ type: 'grade', at, incident, level: 'I', unit: 'water' })),
        { type: 'obligation', at, id: 'ow', kind: 'service_change', issuedAt: at, jurisdiction: 'west' },
        { type: 'obligation', at, id: 'od', kind: 'service_change', issuedAt: at },
        { type: 'end', at: '2026-03-04T12:00:00+08:00' },
      ];
      writeFileSync(timeline, lines.map((l) => JSON.stringify(l)).join('\n'));
      const r = await replay(['--rules', rules, '--ladder', timeline]);
      expect(r.stderr).toBe('');
      const leaders = r.stdout
        .split('\n')
        .filter((l) => l.includes('"step":"leaders#0"') && !l.includes('press_conference'))
        .map((l) => JSON.parse(l) as { at: string; incident?: string; obligation?: string });
      expect(leaders.map((l) => [l.incident ?? l.obligation, l.at])).toEqual([
        ['E', '2026-03-02T15:00:00.000+08:00'],
        ['D', '2026-03-02T17:00:00.000+08:00'],
        ['W', '2026-03-02T19:00:00.000+08:00'],
        // service_change: 1 working day, due 2026-03-04 00:00; west tells its leaders 1 h after, the default 12 h.
        ['ow', '2026-03-04T01:00:00.000+08:00'],
        ['od', '2026-03-04T12:00:00.000+08:00'],
      ]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
