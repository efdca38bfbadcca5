import { ApiError } from './errors.ts';
import type { AnyFastify } from './types.ts';

type ObjectSchema = { properties?: Record<string, unknown>; additionalProperties?: unknown; allOf?: unknown[] };

/** The parameter names a querystring schema declares (an intersection's too); undefined: it admits any name. */
function declaredNames(schema: ObjectSchema | undefined): Set<string> | undefined {
  const names = new Set<string>();
  if (schema === undefined) return names; // no schema: the route takes no parameters
  const open = schema.additionalProperties;
  if (open !== undefined && open !== false) return undefined; // declared open on purpose
  for (const name of Object.keys(schema.properties ?? {})) names.add(name);
  for (const part of schema.allOf ?? []) {
    const inner = declaredNames(part as ObjectSchema);
    if (inner === undefined) return undefined;
    for (const name of inner) names.add(name);
  }
  return names;
}

/**
 * An `/api/` route refuses a query parameter it does not declare (`?sort=name` on a list that
 * does not sort): a 400 naming it, where ajv's removeAdditional (Fastify's default) would drop it
 * and answer 200 as if it had been applied. A route without a querystring schema takes none.
 * Checked before validation (preValidation), which is when the request still has every name, and
 * after authentication (onRequest): who may not ask learns nothing about the parameters.
 */
export function refuseUnknownQueryParameters(app: AnyFastify): void {
  const cache = new Map<object | undefined, Set<string> | undefined>();
  const namesOf = (schema: ObjectSchema | undefined) => {
    if (!cache.has(schema)) cache.set(schema, declaredNames(schema));
    return cache.get(schema);
  };
  app.addHook('preValidation', (request, _reply, done) => {
    if (!request.url.includes('?') || !request.routeOptions.url?.startsWith('/api/')) return done();
    const names = namesOf(request.routeOptions.schema?.querystring as ObjectSchema | undefined);
    if (names === undefined) return done();
    const unknown = Object.keys(request.query as Record<string, unknown>).find((name) => !names.has(name));
    if (unknown === undefined) return done();
    const accepted = [...names].sort().join(', ');
    done(
      new ApiError(
        'HY_VALIDATION',
        `querystring/${unknown}: 未知参数 unknown parameter (${accepted === '' ? 'this route takes no parameters' : `accepted: ${accepted}`})`,
      ),
    );
  });
}
