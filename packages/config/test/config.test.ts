import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, logSerializers, Type } from '../src/index.ts';

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

describe('logSerializers.err', () => {
  it('keeps the query and the cause but never the parameters', () => {
    const cause = new Error('invalid byte sequence for encoding "UTF8": 0x00');
    const error = Object.assign(new Error('Failed query: insert into signals ...\nparams: 居民来电13812345678'), {
      query: 'insert into signals (id, content) values ($1, $2)',
      params: ['sig_1', '居民来电13812345678'],
      cause,
    });
    const out = JSON.stringify(logSerializers.err(error));
    expect(out).not.toContain('13812345678');
    expect(out).toContain('insert into signals');
    expect(out).toContain('0x00');
  });
});
