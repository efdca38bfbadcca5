/**
 * Each `scenarios/<name>.jsonl` is replayed through the CLI and compared, line by line, with
 * `<name>.expected.jsonl` (hand-checked against replay.md). `<name>.rules.json` and
 * `<name>.calendar.json`, when present, are passed as --rules and --calendar.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main, memorySpool } from '../src/replay-cli.ts';

const dir = fileURLToPath(new URL('./scenarios/', import.meta.url));
const names = readdirSync(dir)
  .filter((f) => f.endsWith('.jsonl') && !f.endsWith('.expected.jsonl'))
  .map((f) => f.slice(0, -'.jsonl'.length))
  .sort();

function argsFor(name: string): string[] {
  const args: string[] = [];
  if (existsSync(`${dir}${name}.rules.json`)) args.push('--rules', `${dir}${name}.rules.json`);
  if (existsSync(`${dir}${name}.calendar.json`)) args.push('--calendar', `${dir}${name}.calendar.json`);
  return [...args, `${dir}${name}.jsonl`];
}

const parseLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);

describe('replay scenarios', () => {
  it('there are at least 8, each with its expected output', () => {
    expect(names.length).toBeGreaterThanOrEqual(8);
    for (const name of names) expect(existsSync(`${dir}${name}.expected.jsonl`), name).toBe(true);
  });

  it.each(names)('%s', async (name) => {
    let stdout = '';
    let stderr = '';
    const decoder = new TextDecoder();
    const code = await main(argsFor(name), {
      readFile: (path) => readFileSync(path, 'utf8'),
      readStdin: () => Promise.reject(new Error('no stdin')),
      stdout: (chunk) => {
        stdout += decoder.decode(chunk, { stream: true });
        return Promise.resolve();
      },
      stderr: (text) => (stderr += text),
      spool: memorySpool,
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const actual = parseLines(stdout);
    const expected = parseLines(readFileSync(`${dir}${name}.expected.jsonl`, 'utf8'));
    actual.forEach((line, i) => expect(line, `${name}, output line ${i + 1}`).toEqual(expected[i]));
    expect(actual.length).toBe(expected.length);
  });
});
