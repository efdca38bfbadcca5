import { describe, expect, it } from 'vitest';
import pino from 'pino';
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

describe('logSerializers mask personal data', () => {
  it('in error messages and causes', () => {
    const error = new Error('ticket T-1 rejected: 联系人：张三，电话+86 138-1234-5678', { cause: new Error('身份证11010519491231002X') });
    const out = JSON.stringify(logSerializers.err(error));
    expect(out).not.toMatch(/1234-5678|11010519491231002X|张三/);
    expect(out).toContain('138****5678');
  });
  it('under the keys that carry citizen text, nested too', () => {
    const lines: string[] = [];
    const logger = pino({ serializers: logSerializers }, { write: (line: string) => lines.push(line) });
    logger.info({ title: '我叫李四，电话0851-86123456', ticket: { contact: '13812345678' }, feed: 'f1' }, 'accepted');
    expect(lines.join('')).not.toMatch(/86123456|13812345678|李四/);
    expect(lines.join('')).toContain('"feed":"f1"');
  });
});
