import { type Static, type TObject, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { maskPersonalData, maskPersonalDataDeep } from '@huiying/domain/personal-data';

export { Type };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parse one service's configuration from the environment against its schema, once at boot.
 * Values are converted (strings → numbers/booleans), defaults applied, and the result frozen.
 * A bad or missing key fails fast with the key's name.
 */
export function loadConfig<S extends TObject>(schema: S, env: Record<string, string | undefined> = process.env): Readonly<Static<S>> {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const raw = env[key];
    if (raw !== undefined && raw !== '') picked[key] = raw;
  }
  const value = Value.Convert(schema, Value.Default(schema, picked));
  const errors = [...Value.Errors(schema, value)];
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${e.path.replace(/^\//, '') || '(root)'}: ${e.message}`);
    throw new ConfigError(`invalid configuration:\n${[...new Set(lines)].join('\n')}`);
  }
  return Object.freeze(value as Static<S>);
}

/** Log keys that can carry a citizen's words (ticket content, titles cut from it, contact details). */
const CITIZEN_TEXT_KEYS = ['content', 'title', 'contact', 'text', 'ticket', 'body', 'input', 'payload', 'reason', 'query'] as const;

const masked = (value: unknown): unknown => maskPersonalDataDeep(value);

/**
 * pino serializers for every service. drizzle's query errors carry the statement's parameters,
 * which can hold a citizen's ticket text and phone number: logs keep the query and the cause,
 * never the parameters. Whatever remains (an error message, a title or ticket logged under one
 * of the keys above) has names, phone numbers and ID numbers masked.
 */
export const logSerializers = {
  ...(Object.fromEntries(CITIZEN_TEXT_KEYS.map((key) => [key, masked])) as Record<(typeof CITIZEN_TEXT_KEYS)[number], typeof masked>),
  err(error: unknown): Record<string, unknown> {
    if (!(error instanceof Error)) return { message: maskPersonalData(String(error)) };
    const e = error as Error & { query?: string; cause?: unknown; code?: string };
    return {
      type: e.name,
      message: maskPersonalData(e.query ? `query failed: ${e.query.slice(0, 500)}` : e.message),
      ...(e.code ? { code: e.code } : {}),
      ...(e.cause instanceof Error ? { cause: maskPersonalData(e.cause.message) } : {}),
      // Frames only: the stack's first lines repeat the message, parameters included.
      stack: e.stack
        ?.split('\n')
        .filter((line) => line.trimStart().startsWith('at '))
        .slice(0, 5)
        .join('\n'),
    };
  },
};
