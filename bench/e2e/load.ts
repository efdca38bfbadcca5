/**
 * The load generator of the e2e benchmark: its own process, not part of the system under test.
 * Posts 12345 tickets to the ingest process over keep-alive HTTP and prints one JSON line of
 * figures on stdout.
 *
 *   node bench/e2e/load.ts --url http://127.0.0.1:8081/api/tickets --mode batch --tickets 200000 --batch 1000 --clients 4
 *   node bench/e2e/load.ts --url ... --mode single --tickets 20000 --clients 64 [--rate 3000]
 *   [--join-every 5]   every 5th ticket repeats the previous one's matter (80 % new matters, 20 % joining)
 *
 * --rate (single mode) makes it open-loop: requests are started on a fixed schedule, so a slow
 * server shows up as latency instead of silently lowering the offered load.
 */
import { parseArgs } from 'node:util';
import { Agent, request } from 'node:http';
import { RawConnection } from './raw-http.ts';
import { benchTicket } from './tickets.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    mode: { type: 'string', default: 'batch' },
    tickets: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '4' },
    rate: { type: 'string' },
    prefix: { type: 'string', default: `L${process.pid}-` },
    /** Every n-th ticket repeats the previous one's matter (a burst that joins its incident); 0 = every ticket a new matter. */
    'join-every': { type: 'string', default: '5' },
    /** An API token with scope tickets:write (the hotline system's credential). */
    token: { type: 'string' },
  },
});
const url = new URL(values.url ?? 'http://127.0.0.1:8081/api/tickets');
const total = Number(values.tickets);
const batchSize = values.mode === 'single' ? 1 : Number(values.batch);
const clients = Number(values.clients);
const rate = values.rate ? Number(values.rate) : undefined;
const agent = new Agent({ keepAlive: true, maxSockets: clients });
const base = Date.now();

const ticket = (i: number) =>
  benchTicket(i, { prefix: values.prefix!, joinEvery: Number(values['join-every']), receivedAt: new Date(base - 60_000).toISOString() });

function post(body: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(values.token ? { authorization: `Bearer ${values.token}` } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const latencies: number[] = [];
let failed = 0;
let next = 0;
const started = performance.now();
const cpu0 = process.cpuUsage();
/** This process's CPU seconds since the load began (user + system). */
const cpuSeconds = () => {
  const u = process.cpuUsage(cpu0);
  return (u.user + u.system) / 1e6;
};

async function worker(): Promise<void> {
  // Single tickets in a closed loop: a bare keep-alive connection per client (raw-http.ts), not node:http.
  const raw =
    values.mode === 'single'
      ? await RawConnection.open(url, {
          'content-type': 'application/json',
          ...(values.token ? { authorization: `Bearer ${values.token}` } : {}),
        })
      : undefined;
  const send = async (body: string) => {
    if (!raw) return post(body);
    const t0 = performance.now();
    const status = await raw.post(body);
    return { status, ms: performance.now() - t0 };
  };
  try {
    await loop(send);
  } finally {
    raw?.close();
  }
}

async function loop(send: (body: string) => Promise<{ status: number; ms: number }>): Promise<void> {
  for (;;) {
    const from = next;
    if (from >= total) return;
    next = Math.min(total, from + batchSize);
    const items = Array.from({ length: next - from }, (_, k) => ticket(from + k));
    const body = JSON.stringify(values.mode === 'single' ? items[0] : items);
    const r = await send(body);
    latencies.push(r.ms);
    if (r.status >= 300) failed += items.length;
  }
}

async function openLoop(perSecond: number): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const p = post(JSON.stringify(ticket(i))).then(
      (r) => {
        latencies.push(r.ms);
        if (r.status >= 300) failed++;
      },
      () => void failed++,
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
}

if (rate) await openLoop(rate);
else await Promise.all(Array.from({ length: clients }, () => worker()));
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
process.stdout.write(
  `${JSON.stringify({ tickets: total, requests: latencies.length, failed, seconds, perSecond: total / seconds, p50: q(0.5), p99: q(0.99), max: latencies.at(-1) ?? 0, cpu: cpuSeconds() })}\n`,
);
agent.destroy();
