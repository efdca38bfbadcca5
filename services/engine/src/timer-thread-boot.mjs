/**
 * A worker thread's way into TypeScript. On Node 20 the loader the process runs under (`--import
 * tsx`, the tsx CLI) does not reach worker threads, and a test runner's process has none: the
 * thread loads its .ts entry through tsx's scoped import, which transforms that entry and
 * everything it imports, whatever the parent thread runs under.
 */
import { workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

await tsImport(workerData.entry, import.meta.url);
