/**
 * What bench/board.ts and its load generator bench/board-load.ts (a child process) say to each
 * other: the generator's command line, written by one and parsed by the other, and the JSON line
 * of figures it prints.
 */

export type LoadMode = 'autocannon' | 'even';

export interface LoadArgs {
  url: string;
  /** The session cookie sent with every request. */
  cookie: string;
  /** Requests per second. */
  rate: number;
  seconds: number;
  /** Keep-alive connections. */
  connections: number;
  mode: LoadMode;
  /** The requests' Accept-Encoding; '' sends none. */
  acceptEncoding: string;
}

const USAGE = 'usage: board-load.ts <url> <cookie> <rate> <seconds> <connections> autocannon|even [accept-encoding]';

/** The generator's arguments (after `node --import tsx bench/board-load.ts`). */
export function loadArgv(a: LoadArgs): string[] {
  return [a.url, a.cookie, String(a.rate), String(a.seconds), String(a.connections), a.mode, a.acceptEncoding];
}

/** Parses what loadArgv wrote; on anything else prints the usage and exits with 2. */
export function parseLoadArgv(argv: string[]): LoadArgs {
  const [url, cookie, rateArg, secondsArg, connectionsArg, mode, acceptEncoding = ''] = argv;
  const rate = Number(rateArg);
  const seconds = Number(secondsArg);
  const connections = Number(connectionsArg);
  if (!url || !cookie || !(rate > 0) || !(seconds > 0) || !(connections > 0) || (mode !== 'autocannon' && mode !== 'even')) {
    console.error(USAGE);
    process.exit(2);
  }
  return { url, cookie, rate, seconds, connections, mode, acceptEncoding };
}

/** The generator's one JSON line of figures. */
export interface LoadFigures {
  mode: LoadMode;
  /** As autocannon itself reports them (its coordinated-omission correction included); autocannon mode only. */
  reported?: { p50: number; p99: number; max: number; samples: number };
  /** autocannon mode: its coordinated-omission correction replayed on the timed responses, with the interval it uses (1 ms) and the one it meant. */
  replayed?: Record<'asRun' | 'asMeant', { interval: number; p99: number; samples: number }>;
  /** Every response timed once (ms): from sent (autocannon) or from due (even). */
  timed: { p50: number; p99: number; p999: number; max: number; n: number };
  /** Even mode: the same responses timed from when they went out. */
  fromSent?: { p50: number; p99: number };
  requestsPerSecond: number;
  non2xx: number;
  errors: number;
  /** The generator's CPU over the run (ms). */
  cpuMs: number;
  loopP99Ms: number;
  loopMaxMs: number;
}
