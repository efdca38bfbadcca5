/** The statistics rollup against the exact queries on the real PostgreSQL (see stats-rollup.shared.ts). */
import { freshDatabase } from '@huiying/testkit';
import { rollupSuite } from './stats-rollup.shared.ts';

rollupSuite('rollup on PostgreSQL', () => freshDatabase());
