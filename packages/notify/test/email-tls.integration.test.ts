/**
 * The email channel's TLS and authentication, as the processes configure it (SMTP_URL with
 * credentials, SMTP_REQUIRE_TLS, SMTP_CA_FILE), against a real SMTP server in this process with
 * a certificate the test trusts: STARTTLS then AUTH PLAIN or LOGIN, implicit TLS (smtps), and
 * the failures — wrong credentials (535) are permanent, a temporary authentication failure
 * (454) or a closing server (421) transient, an untrusted certificate or a relay without
 * STARTTLS under SMTP_REQUIRE_TLS never gets the password.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSecureSmtp, TEST_TLS, type SecureSmtp } from '@huiying/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ChannelAdapter, channelsFromSettings, DeliveryError, emailChannel, type OutboundMessage } from '../src/index.ts';

const USER = 'huiying@gov.example.test';
const PASS = 'p@ss:w/rd 1%'; // every character a URL must percent-encode
const enc = encodeURIComponent;
let caFile = '';
let dir = '';
const open: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hy-smtp-tls-'));
  caFile = join(dir, 'ca.pem');
  await writeFile(caFile, TEST_TLS.cert);
});
afterEach(async () => {
  for (const c of open.splice(0)) await c.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const message = (id: string): OutboundMessage => ({
  id,
  channel: 'email',
  recipient: 'zjj@example.test',
  subject: `【催办】${id}`,
  text: '正文',
  html: null,
  messageId: `<${id}@huiying.local>`,
});

async function server(o: Parameters<typeof startSecureSmtp>[0]): Promise<SecureSmtp> {
  const s = await startSecureSmtp(o);
  open.push(s);
  return s;
}

function adapter(settings: Parameters<typeof channelsFromSettings>[0]): ChannelAdapter {
  const email = channelsFromSettings({ MAIL_FROM: 'huiying@example.test', ...settings }).email!;
  open.push(email);
  return email;
}

async function failure(p: Promise<unknown>): Promise<DeliveryError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

describe('STARTTLS, then AUTH with the credentials from SMTP_URL', () => {
  it.each(['PLAIN', 'LOGIN'] as const)('AUTH %s: the mail arrives, encrypted and authenticated', async (method) => {
    const smtp = await server({ tls: 'starttls', users: { [USER]: PASS }, authMethods: [method] });
    const email = adapter({
      SMTP_URL: `smtp://${enc(USER)}:${enc(PASS)}@127.0.0.1:${smtp.port}`,
      SMTP_REQUIRE_TLS: true,
      SMTP_CA_FILE: caFile,
    });
    await email.send(message(`m-${method}`));
    expect(smtp.mails.map((m) => m.messageId)).toEqual([`<m-${method}@huiying.local>`]);
    expect(smtp.deliveries).toEqual([{ secure: true, user: USER }]);
    // The password went over TLS only (the server refuses AUTH before STARTTLS anyway).
    expect(smtp.authAttempts).toEqual([{ method, user: USER, secure: true }]);
  });

  it('wrong credentials are a permanent failure (535), and nothing is delivered', async () => {
    const smtp = await server({ tls: 'starttls', users: { [USER]: PASS } });
    const email = adapter({ SMTP_URL: `smtp://${enc(USER)}:wrong@127.0.0.1:${smtp.port}`, SMTP_CA_FILE: caFile });
    const e = await failure(email.send(message('m-535')));
    expect(e.message).toContain('535');
    expect(e.transient).toBe(false);
    expect(e.message).not.toContain('wrong');
    expect(smtp.mails).toHaveLength(0);
  });

  it.each([454, 421])('a temporary authentication failure (%i) is transient; the next attempt delivers', async (code) => {
    const smtp = await server({ tls: 'starttls', users: { [USER]: PASS } });
    const email = adapter({ SMTP_URL: `smtp://${enc(USER)}:${enc(PASS)}@127.0.0.1:${smtp.port}`, SMTP_CA_FILE: caFile });
    smtp.authFailure = code;
    const e = await failure(email.send(message(`m-${code}`)));
    expect(e.message).toContain(String(code));
    expect(e.transient).toBe(true);
    smtp.authFailure = null;
    await email.send(message(`m-${code}`));
    expect(smtp.mails).toHaveLength(1);
  });

  it('a certificate the process does not trust fails for good (nothing to retry) without sending the password', async () => {
    const smtp = await server({ tls: 'starttls', users: { [USER]: PASS } });
    const email = adapter({ SMTP_URL: `smtp://${enc(USER)}:${enc(PASS)}@127.0.0.1:${smtp.port}` });
    const e = await failure(email.send(message('m-untrusted')));
    expect(e.message).toContain('certificate');
    expect(e.transient).toBe(false);
    expect(smtp.authAttempts).toEqual([]);
    expect(smtp.mails).toHaveLength(0);
  });

  it('SMTP_REQUIRE_TLS: a relay that offers no STARTTLS never gets the password or the mail', async () => {
    const smtp = await server({ tls: 'plain', users: { [USER]: PASS } });
    const email = adapter({ SMTP_URL: `smtp://${enc(USER)}:${enc(PASS)}@127.0.0.1:${smtp.port}`, SMTP_REQUIRE_TLS: true });
    const e = await failure(email.send(message('m-notls')));
    expect(e.transient).toBe(false);
    expect(smtp.authAttempts).toEqual([]);
    expect(smtp.mails).toHaveLength(0);
  });
});

describe('implicit TLS (smtps://)', () => {
  it('the mail arrives over TLS from the first byte, authenticated', async () => {
    const smtp = await server({ tls: 'implicit', users: { [USER]: PASS } });
    const email = adapter({ SMTP_URL: `smtps://${enc(USER)}:${enc(PASS)}@127.0.0.1:${smtp.port}`, SMTP_CA_FILE: caFile });
    await email.send(message('m-smtps'));
    expect(smtp.deliveries).toEqual([{ secure: true, user: USER }]);
    expect(smtp.authAttempts.every((a) => a.secure)).toBe(true);
  });

  it('explicit credentials override the URL’s; wrong ones are permanent', async () => {
    const smtp = await server({ tls: 'implicit', users: { [USER]: PASS } });
    const email = emailChannel({
      url: `smtps://127.0.0.1:${smtp.port}`,
      from: 'huiying@example.test',
      auth: { user: USER, pass: 'nope' },
      ca: TEST_TLS.cert,
    });
    open.push(email);
    const e = await failure(email.send(message('m-explicit')));
    expect(e.transient).toBe(false);
    expect(e.message).toContain('535');
  });
});

it('SMTP_CA_FILE that cannot be read is refused at boot, naming the key', () => {
  expect(() => channelsFromSettings({ SMTP_URL: 'smtp://127.0.0.1:2525', SMTP_CA_FILE: join(dir, 'missing.pem') })).toThrow(
    /SMTP_CA_FILE: cannot read/,
  );
});
