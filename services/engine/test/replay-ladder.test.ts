/**
 * `replay --ladder` (opt-in): the contract's output is untouched — every scenario's expected
 * lines come out, byte for byte and in order, with the ladder's `escalated` lines merged in.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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
});
