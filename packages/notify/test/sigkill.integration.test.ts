/**
 * SIGKILL a real dispatcher process at each step — before the send, after the SMTP server
 * accepted the message (before the client heard the 250), after the send but before the row
 * is marked — and start another: no mail is lost, and a duplicate happens only in the
 * documented window (the server has the mail, the row is not marked), carrying the same
 * Message-ID. The dispatcher's clock is given to each child, so "after the lease" is a
 * number, not a sleep.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { clockKey, enqueueNotifications, eq, notifications } from '@huiying/db';
import { type ControllableSmtp, freshDatabase, startControllableSmtp } from '@huiying/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

const child = fileURLToPath(new URL('./fixtures/dispatch-child.ts', import.meta.url));
const T0 = Date.parse('2026-05-06T03:00:00+08:00');
/** The dispatcher's default lease. */
const LEASE = 5 * 60_000;
let h: Awaited<ReturnType<typeof freshDatabase>>;
let smtp: ControllableSmtp;

beforeAll(async () => {
  h = await freshDatabase();
  smtp = await startControllableSmtp();
});

afterAll(async () => {
  await smtp?.close();
  await h?.drop();
});

interface Run {
  proc: ChildProcess;
  /** The first IPC message: a stop point reached, or done. */
  first: Promise<{ point?: string; id?: string; done?: { sent: number } }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(now: number, stopAt: 'before-send' | 'after-send' | 'none'): Run {
  const proc = fork(child, [h.url, smtp.url, String(now), stopAt], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const first = new Promise<{ point?: string; id?: string; done?: { sent: number } }>((resolve, reject) => {
    proc.once('message', (m) => resolve(m as never));
    proc.once('exit', (code) => reject(new Error(`child exited (${code}) before reporting`)));
  });
  // A run killed before it reports never settles `first` the happy way: keep that quiet.
  first.catch(() => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, first, exited };
}

async function kill(run: Run): Promise<void> {
  run.proc.kill('SIGKILL');
  expect((await run.exited).signal).toBe('SIGKILL');
}

async function queue(incident: string): Promise<string> {
  const [id] = await h.db.transaction((tx) =>
    enqueueNotifications(tx, new Date(T0), [
      {
        clockKey: clockKey({ incidentId: incident, clockSeq: 1 }),
        step: 'urge#0',
        stepKind: 'urge',
        role: 'unit',
        recipient: 'unit@example.test',
        channel: 'email',
        groupKey: incident,
        incidentId: incident,
        subject: `催办 ${incident}`,
        text: 'body',
      },
    ]),
  );
  return id!;
}

const mailsFor = (incident: string) => smtp.mails.filter((m) => m.subject === `催办 ${incident}`);
const rowOf = async (id: string) => (await h.db.select().from(notifications).where(eq(notifications.id, id)))[0]!;

it('killed before the send: nothing went out; the lease holds it until it expires; then it is sent once', async () => {
  const id = await queue('k1');
  const first = start(T0, 'before-send');
  expect(await first.first).toEqual({ point: 'before-send', id });
  await kill(first);
  expect(mailsFor('k1')).toHaveLength(0);
  expect((await rowOf(id)).status).toBe('sending');

  const early = start(T0 + LEASE - 1, 'none');
  expect(await early.first).toEqual({ done: { sent: 0, retried: 0, failed: 0, fenced: 0 } });
  await early.exited;

  const late = start(T0 + LEASE + 1, 'none');
  expect((await late.first).done?.sent).toBe(1);
  await late.exited;
  expect(mailsFor('k1')).toHaveLength(1);
  expect(mailsFor('k1')[0]!.messageId).toBe(`<${id}@huiying.local>`);
  expect(await rowOf(id)).toMatchObject({ status: 'sent', attempts: 2 });
}, 180_000);

it('killed after the server accepted, before the client heard 250: resent after the lease, same Message-ID (the documented window)', async () => {
  const id = await queue('k2');
  const sender: { run?: Run } = {};
  smtp.onAccepted = async (mail) => {
    if (mail.subject === '催办 k2' && sender.run) await kill(sender.run);
  };
  const run = start(T0, 'none');
  sender.run = run;
  await run.exited;
  smtp.onAccepted = undefined;
  expect(mailsFor('k2')).toHaveLength(1);
  expect((await rowOf(id)).status).toBe('sending');

  const again = start(T0 + LEASE + 1, 'none');
  expect((await again.first).done?.sent).toBe(1);
  await again.exited;
  const mails = mailsFor('k2');
  expect(mails).toHaveLength(2);
  expect(mails.map((m) => m.messageId)).toEqual([`<${id}@huiying.local>`, `<${id}@huiying.local>`]);
  expect((await rowOf(id)).status).toBe('sent');
}, 180_000);

it('killed after the send, before the row was marked: the same window, the same Message-ID', async () => {
  const id = await queue('k3');
  const run = start(T0, 'after-send');
  expect(await run.first).toEqual({ point: 'after-send', id });
  await kill(run);
  expect(mailsFor('k3')).toHaveLength(1);

  const again = start(T0 + LEASE + 1, 'none');
  expect((await again.first).done?.sent).toBe(1);
  await again.exited;
  expect(mailsFor('k3').map((m) => m.messageId)).toEqual([`<${id}@huiying.local>`, `<${id}@huiying.local>`]);
  expect((await rowOf(id)).status).toBe('sent');
}, 180_000);
