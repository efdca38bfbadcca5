/** The statistics rollup against the exact queries on PGlite, the embedded default (see stats-rollup.shared.ts). */
import { openPglite } from '@huiying/db';
import { rollupSuite } from './stats-rollup.shared.ts';

rollupSuite('rollup on PGlite', async () => {
  const handle = await openPglite();
  await handle.migrate();
  return { db: handle.db, drop: () => handle.close() };
});
