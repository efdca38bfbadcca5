/**
 * The console's API types (services/web/console/src/api/schema.gen.ts) are generated from the
 * OpenAPI document and committed. A route schema changed without `pnpm gen:api` leaves the
 * console typechecked against an API that no longer exists: regenerate them to a temporary
 * file and compare.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { apiTypesSource, documentFromApp, SCHEMA_GEN } from '../src/openapi-types.ts';

it('the committed schema.gen.ts is what `pnpm gen:api` generates now', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'huiying-gen-api-'));
  try {
    const fresh = join(dir, 'schema.gen.ts');
    await writeFile(fresh, await apiTypesSource(await documentFromApp()));
    const [now, committed] = await Promise.all([readFile(fresh, 'utf8'), readFile(SCHEMA_GEN, 'utf8')]);
    if (now !== committed) {
      const a = now.split('\n');
      const b = committed.split('\n');
      const line = a.findIndex((l, i) => l !== b[i]);
      expect.fail(
        `${SCHEMA_GEN} is not current: the API's OpenAPI document changed. Run \`pnpm gen:api\` and commit the file.\n` +
          `First difference at line ${line + 1}:\n  generated: ${a[line] ?? '(end of file)'}\n  committed: ${b[line] ?? '(end of file)'}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // Builds the whole app in memory first: tens of seconds on a loaded machine.
}, 180_000);
