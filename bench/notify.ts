/**
 * Notification flood: N breaches due in the same minute become N 催办 mails (one incident each),
 * queued in one go, then delivered by D dispatchers through the pooled email adapter to a real
 * SMTP server in this process. Prints the time until the last mail was accepted, throughput,
 * and memory. (The engine's timer lateness during the flood needs the engine wired to the
 * ladder; see packages/notify/README.md.)
 *
 *     node --import tsx bench/notify.ts [--mails 10000] [--dispatchers 2] [--batch 50] [--connections 5]
 *
 * Needs PostgreSQL (TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres, a role that
 * may CREATE DATABASE); creates and drops its own database.
 */
import { systemClock } from '../packages/clock/src/index.ts';
import { clockKey, enqueueNotifications, type NewNotification } from '../packages/db/src/index.ts';
import { emailChannel } from '../packages/notify/src/channels/email.ts';
import { Dispatcher } from '../packages/notify/src/dispatcher.ts';
import { renderStepMessage } from '../packages/notify/src/step-templates.ts';
import { freshDatabase, startControllableSmtp, testLogger } from '../packages/testkit/src/index.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : process.env[`BENCH_${name.toUpperCase()}`];
  return v === undefined ? fallback : Number(v);
}

const N = arg('mails', 10_000);
const D = arg('dispatchers', 2);
const BATCH = arg('batch', 50);
const CONNECTIONS = arg('connections', 5);
// The test fixture: a fresh, migrated database on TEST_PG_URL's server (default the local one), dropped at the end.
const handle = await freshDatabase();
const smtp = await startControllableSmtp();
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
try {
  const due = Date.now();
  const t0 = performance.now();
  const rows: NewNotification[] = [];
  for (let i = 0; i < N; i++) {
    const id = `bench-${i}`;
    const m = renderStepMessage({
      step: 'urge',
      subject: { type: 'incident', id, title: `压测事件${i}`, level: null },
      recipientName: '某单位',
      unitName: '某单位',
      clock: { kind: 'response', startAt: due - 48 * 3_600_000, dueAt: due, spanMs: 48 * 3_600_000 },
      now: due,
      dashboardUrl: 'http://127.0.0.1:8080/',
    });
    rows.push({
      clockKey: clockKey({ incidentId: id, clockSeq: 1 }),
      step: 'urge#0',
      stepKind: 'urge',
      role: 'unit',
      recipient: `unit${i % 200}@example.test`,
      channel: 'email',
      groupKey: id,
      incidentId: id,
      clockKind: 'response',
      clockSeq: 1,
      ...m,
    });
  }
  for (let i = 0; i < rows.length; i += 1000) {
    await handle.db.transaction((tx) => enqueueNotifications(tx, new Date(due), rows.slice(i, i + 1000)));
  }
  const queued = performance.now();
  const logger = testLogger;
  const dispatchers = Array.from(
    { length: D },
    () =>
      new Dispatcher({
        db: handle.db,
        clock: systemClock,
        adapters: { email: emailChannel({ url: smtp.url, from: 'bench@example.test', maxConnections: CONNECTIONS }) },
        logger,
        batch: BATCH,
      }),
  );
  const results = await Promise.all(dispatchers.map((d) => d.drain()));
  const done = performance.now();
  await Promise.all(dispatchers.map((d) => d.stop()));
  const ids = new Set(smtp.mails.map((m) => m.messageId));
  const sent = results.reduce((s, r) => s + r.sent, 0);
  const f = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`notify flood: ${N} mails, ${D} dispatchers, batch ${BATCH}, ${CONNECTIONS} SMTP connections each`);
  console.log(`  queued (rendered + inserted, 1000 per transaction): ${f(queued - t0)}`);
  console.log(
    `  last mail accepted by the SMTP server after:       ${f(done - queued)} (${Math.round((N / (done - queued)) * 1000)} mails/s)`,
  );
  console.log(`  accepted: ${smtp.mails.length}, distinct Message-IDs: ${ids.size}, marked sent: ${sent}`);
  console.log(`  peak RSS: ${Math.round(peakRss / 2 ** 20)} MiB (includes the in-process SMTP server and its parsed mails)`);
  if (smtp.mails.length !== N || ids.size !== N) process.exitCode = 1;
} finally {
  clearInterval(sampler);
  await smtp.close();
  await handle.drop();
}
