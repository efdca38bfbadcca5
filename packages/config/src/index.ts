import { type Static, type TObject, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

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

/**
 * pino serializers for every service. drizzle's query errors carry the statement's parameters,
 * which can hold a citizen's ticket text and phone number: logs keep the query and the cause,
 * never the parameters.
 */
export const logSerializers = {
  err(error: unknown): Record<string, unknown> {
    if (!(error instanceof Error)) return { message: String(error) };
    const e = error as Error & { query?: string; cause?: unknown; code?: string };
    return {
      type: e.name,
      message: e.query ? `query failed: ${e.query.slice(0, 500)}` : e.message,
      ...(e.code ? { code: e.code } : {}),
      ...(e.cause instanceof Error ? { cause: e.cause.message } : {}),
      // Frames only: the stack's first lines repeat the message, parameters included.
      stack: e.stack
        ?.split('\n')
        .filter((line) => line.trimStart().startsWith('at '))
        .slice(0, 5)
        .join('\n'),
    };
  },
};
