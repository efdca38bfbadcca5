import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_RULE_PACK } from '@huiying/domain';
import { describe, expect, it } from 'vitest';
import { loadRulePack } from '../src/rule-pack-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'huiying-pack-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('loadRulePack', () => {
  it('is the default pack when no file is configured', () => {
    expect(loadRulePack(undefined)).toBe(DEFAULT_RULE_PACK);
  });

  it("reads a local government's tightened pack", () => {
    const pack = loadRulePack(file('tight.json', JSON.stringify({ clocks: { release: { spanHours: 3 } } })));
    expect(pack.clocks.release.spanMs).toBe(3 * 3_600_000);
    expect(pack.clocks.response.spanMs).toBe(DEFAULT_RULE_PACK.clocks.response.spanMs);
  });

  it('fails naming the file and the bad path', () => {
    expect(() => loadRulePack(file('bad.json', JSON.stringify({ clocks: { release: { spanHours: 'three' } } })))).toThrow(
      /bad\.json.*\/clocks\/release\/spanHours/,
    );
    expect(() => loadRulePack(file('broken.json', '{ not json'))).toThrow(/broken\.json/);
    expect(() => loadRulePack(join(dir, 'missing.json'))).toThrow(/missing\.json/);
  });
});
