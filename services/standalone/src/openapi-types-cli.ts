/**
 * Regenerates the console's API types from the OpenAPI document the server publishes
 * (`pnpm gen:api`). Without an argument it builds the embedded app in memory (PGlite, the
 * in-process bus, no port) and reads GET /docs/json from it; with a URL it reads that
 * server's document instead, e.g. `pnpm gen:api http://127.0.0.1:8080/docs/json`.
 * The output is committed: the console typechecks without a running server
 * (test/openapi-types.embedded.test.ts fails when it is not current).
 */
import { writeFile } from 'node:fs/promises';
import { apiTypesSource, documentFromApp, documentFromUrl, SCHEMA_GEN } from './openapi-types.ts';

const url = process.argv.slice(2).find((a) => a !== '--');
const doc = url === undefined ? await documentFromApp() : await documentFromUrl(url);
await writeFile(SCHEMA_GEN, await apiTypesSource(doc));
console.log(`gen:api: wrote ${SCHEMA_GEN}`);
