import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, Type } from '../src/index.ts';

const schema = Type.Object({
  DATABASE_URL: Type.String({ pattern: '^postgres://' }),
  PORT: Type.Integer({ default: 8080 }),
  DEBUG: Type.Boolean({ default: false }),
});

describe('loadConfig', () => {
  it('converts, applies defaults and freezes', () => {
    const c = loadConfig(schema, { DATABASE_URL: 'postgres://x/y', PORT: '9000', DEBUG: 'true' });
    expect(c).toEqual({ DATABASE_URL: 'postgres://x/y', PORT: 9000, DEBUG: true });
    expect(Object.isFrozen(c)).toBe(true);
    expect(loadConfig(schema, { DATABASE_URL: 'postgres://a/b' }).PORT).toBe(8080);
  });

  it('fails fast naming the bad key', () => {
    expect(() => loadConfig(schema, { PORT: '80' })).toThrow(ConfigError);
    expect(() => loadConfig(schema, { PORT: '80' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig(schema, { DATABASE_URL: 'postgres://a/b', PORT: 'eighty' })).toThrow(/PORT/);
  });
});
