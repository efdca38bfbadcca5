/**
 * The load generator of bench/board.ts, in its own process (so its CPU and event loop are its own
 * and can be reported): GET <url> with the session cookie at <rate> requests/s for <seconds>, over
 * <connections> keep-alive connections, and prints one JSON line of figures.
 *
 *   node --import tsx bench/board-load.ts <url> <cookie> <rate> <seconds> <connections> autocannon|even [accept-encoding]
 *
 * Two ways to send "500 requests a second", both reported:
 *
 *   - `autocannon` (the tool the issue names; its programmatic API, the same options as the CLI
 *     the bench ran before: `-R rate -c connections`). Its `-R` gives every connection rate/c
 *     requests per second and lets each send them back to back, one after another's response, from
 *     the start of each second, then idle until the next second: the 500 come as a burst of 32
 *     concurrent closed loops in the first part of every second, not one every 2 ms. And it
 *     "corrects for coordinated omission" with an expected interval of `Math.ceil(1 / rate)` =
 *     1 ms (rate per connection per second, taken as ms): every response of L ms is recorded with
 *     L−1, L−2, … 1 ms beside it, samples for requests that were never going to be sent. Printed
 *     as autocannon reports it, and beside it the p50/p99 of the responses it actually timed.
 *   - `even`: an open-loop schedule, request i due at start + i / rate, sent on a free connection
 *     (or queued until one is free), its latency counted from when it was due, not from when it
 *     went out (no coordinated omission: a stall delays every request due during it, and each
 *     counts that delay). This is "500 requests a second" as an arrival rate.
 */
import { createRequire } from 'node:module';
import { connect, type Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type LoadFigures, parseLoadArgv } from './board-load-contract.ts';

const { url, cookie, rate, seconds, connections, mode, acceptEncoding } = parseLoadArgv(process.argv.slice(2));
/** The request's headers besides Host: the session, and Accept-Encoding as a browser sends it (when given). */
const headers: Record<string, string> = { cookie, ...(acceptEncoding ? { 'accept-encoding': acceptEncoding } : {}) };

/** The q-quantile of sorted values, nearest rank (as HdrHistogram reports). */
function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const loop = monitorEventLoopDelay({ resolution: 1 });
const cpu0 = process.cpuUsage();

function finish(latencies: number[], rest: Omit<LoadFigures, 'timed' | 'cpuMs' | 'loopP99Ms' | 'loopMaxMs' | 'mode'>): void {
  loop.disable();
  const sorted = Float64Array.from(latencies).sort();
  const { user, system } = process.cpuUsage(cpu0);
  const figures: LoadFigures = {
    mode,
    ...rest,
    timed: {
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      p999: quantile(sorted, 0.999),
      max: sorted.at(-1) ?? NaN,
      n: sorted.length,
    },
    cpuMs: (user + system) / 1000,
    loopP99Ms: loop.percentile(99) / 1e6,
    loopMaxMs: loop.max / 1e6,
  };
  console.log(JSON.stringify(figures));
}

loop.enable();
if (mode === 'autocannon') {
  const autocannon = createRequire(import.meta.url)('autocannon') as (o: object) => Promise<{
    latency: { p50: number; p99: number; max: number; totalCount: number };
    requests: { average: number };
    non2xx: number;
    errors: number;
  }> & {
    on(event: 'response', f: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  };
  const timed: number[] = [];
  const instance = autocannon({ url, connections, overallRate: rate, duration: seconds, headers });
  instance.on('response', (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) timed.push(ms);
  });
  const r = await instance;
  // autocannon's correction replayed on the responses it timed: each L recorded with L − i, L − 2i, …
  // down to i, with i = 1 ms as it runs (should land near its report) and with i the interval it
  // meant, 1000 / (its requests per connection per second) ms.
  const corrected = (interval: number) => {
    const samples: number[] = [];
    for (const l of timed) for (let v = l; v >= interval || v === l; v -= interval) samples.push(v);
    const sorted = Float64Array.from(samples).sort();
    return { interval, p99: quantile(sorted, 0.99), samples: sorted.length };
  };
  const perConnection = Math.floor(rate / connections);
  finish(timed, {
    replayed: { asRun: corrected(1), asMeant: corrected(1000 / perConnection) },
    reported: { p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, samples: r.latency.totalCount },
    requestsPerSecond: r.requests.average,
    non2xx: r.non2xx,
    errors: r.errors,
  });
} else {
  // Open loop over raw keep-alive sockets (as autocannon does: no http.Agent per request).
  const target = new URL(url);
  const request = Buffer.from(
    `GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`,
  );
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const latencies: number[] = [];
  /** The same responses timed from when they went out (what a closed-loop client would see). */
  const fromSent: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let start = 0;
  let next = 0;
  const free: Conn[] = [];

  class Conn {
    private readonly socket: Socket;
    private buf: Buffer = Buffer.alloc(0);
    private due = 0;
    private sentAt = 0;
    constructor(ready: () => void) {
      this.socket = connect(Number(target.port), target.hostname, ready);
      this.socket.setNoDelay(true);
      this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
      this.socket.on('error', () => errors++);
    }
    send(due: number): void {
      this.due = due;
      this.sentAt = performance.now();
      this.socket.write(request);
    }
    private onData(chunk: Buffer): void {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buf.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (this.buf.length < end + 4 + length) return;
      const now = performance.now();
      latencies.push(now - this.due);
      fromSent.push(now - this.sentAt);
      if (!head.startsWith('HTTP/1.1 2')) non2xx++;
      this.buf = this.buf.subarray(end + 4 + length);
      free.push(this);
      pump();
    }
    close(): void {
      this.socket.destroy();
    }
  }

  /** Send every request that is due, each on a free connection; the rest wait for one (their clock runs from when they were due). */
  function pump(): void {
    const now = performance.now();
    while (next < total && start + next * interval <= now && free.length > 0) {
      free.pop()!.send(start + next * interval);
      next++;
    }
  }

  const all: Conn[] = [];
  await new Promise<void>((resolve) => {
    let up = 0;
    for (let i = 0; i < connections; i++) all.push(new Conn(() => ++up === connections && resolve()));
  });
  free.push(...all);
  start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      pump();
      if (latencies.length >= total || performance.now() - start > seconds * 1000 + 10_000) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  for (const c of all) c.close();
  const sent = Float64Array.from(fromSent).sort();
  finish(latencies, {
    fromSent: { p50: quantile(sent, 0.5), p99: quantile(sent, 0.99) },
    requestsPerSecond: latencies.length / ((performance.now() - start) / 1000),
    non2xx,
    errors: errors + (total - latencies.length),
  });
}
