/** The statistics rollup against the exact queries on PGlite, the embedded default (see stats-rollup.shared.ts). */
import { freshPglite } from '@huiying/testkit';
import { vi } from 'vitest';
import type * as Rollup from '../src/stats/rollup.ts';
import { rollupSuite } from './stats-rollup.shared.ts';

// The figures compared must come from the rollup: compareAll checks groupStats's own call (a spy).
vi.mock('../src/stats/rollup.ts', async (importOriginal) => {
  const m = await importOriginal<typeof Rollup>();
  return { ...m, rollupStats: vi.fn(m.rollupStats) };
});

rollupSuite('rollup on PGlite', async () => {
  const handle = await freshPglite();
  return { db: handle.db, drop: () => handle.close() };
});
