/**
 * Each HTTP channel adapter against a local HTTP receiver (port 0): what arrived — method,
 * path and query, headers, JSON body, signatures recomputed as the receiving side would —
 * and how the adapter classifies the receiver's failures.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dingtalkChannel, dingtalkSignedUrl } from '../src/channels/dingtalk.ts';
import { channelsFromSettings, ChannelSettingsError } from '../src/channels/from-env.ts';
import { nullAdapter } from '../src/channels/null.ts';
import { DeliveryError, type OutboundMessage } from '../src/channels/port.ts';
import { smsChannel } from '../src/channels/sms.ts';
import { webhookChannel, webhookSignature } from '../src/channels/webhook.ts';
import { wecomChannel } from '../src/channels/wecom.ts';

interface Received {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base: string;
const received: Received[] = [];
/** What the receiver answers next: status and body. */
let answer: { status: number; body: string } = { status: 200, body: '{"errcode":0,"errmsg":"ok"}' };

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: new URL(req.url ?? '/', 'http://x'),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

beforeEach(() => {
  received.length = 0;
  answer = { status: 200, body: '{"errcode":0,"errmsg":"ok"}' };
});

const message = (over: Partial<OutboundMessage> = {}): OutboundMessage => ({
  id: 'n-1',
  channel: 'webhook',
  recipient: 'ops',
  subject: '【超时督办】小区供水：权威信息发布已超时',
  text: '甲单位：\n权威信息发布（时限5小时）已超时。\n查看详情：http://127.0.0.1:8080/#/incidents/i-1',
  html: null,
  messageId: '<n-1@huiying.local>',
  ...over,
});

async function failure(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DeliveryError) return e;
    throw e;
  }
  throw new Error('expected a DeliveryError');
}

describe('generic webhook', () => {
  it('POSTs the JSON with a timestamp and an HMAC-SHA256 signature the receiver can recompute', async () => {
    const channel = webhookChannel({
      targets: { ops: { url: `${base}/hooks/huiying`, secret: 's3cret' } },
      wallNow: () => 1_780_000_000_000,
    });
    await channel.send(message());
    const [r] = received;
    expect(r!.method).toBe('POST');
    expect(r!.url.pathname).toBe('/hooks/huiying');
    expect(r!.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r!.headers['x-huiying-timestamp']).toBe('1780000000000');
    expect(r!.headers['x-huiying-id']).toBe('n-1');
    const expected = createHmac('sha256', 's3cret').update(`1780000000000.${r!.body}`).digest('hex');
    expect(r!.headers['x-huiying-signature']).toBe(`sha256=${expected}`);
    expect(webhookSignature('s3cret', '1780000000000', r!.body)).toBe(expected);
    expect(JSON.parse(r!.body)).toEqual({ id: 'n-1', messageId: '<n-1@huiying.local>', subject: message().subject, text: message().text });
  });

  it.each([
    [500, true],
    [503, true],
    [429, true],
    [400, false],
    [401, false],
    [404, false],
  ])('HTTP %d is %s transient', async (status, transient) => {
    answer = { status, body: 'nope' };
    const channel = webhookChannel({ targets: { ops: { url: `${base}/h`, secret: 's' } } });
    expect((await failure(channel.send(message()))).transient).toBe(transient);
  });

  it('an unknown target is a permanent failure; a refused connection is transient', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closed = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const channel = webhookChannel({ targets: { ops: { url: `http://127.0.0.1:${closed}/h`, secret: 's' } } });
    expect((await failure(channel.send(message({ recipient: 'nobody' })))).transient).toBe(false);
    const refused = await failure(channel.send(message()));
    expect(refused.transient).toBe(true);
    expect(refused.message).toContain('ECONNREFUSED');
  });
});

describe('企业微信 / 政务微信 group robot', () => {
  it('POSTs a markdown message to the robot URL, key kept in the query', async () => {
    const channel = wecomChannel({ targets: { duty: { url: `${base}/cgi-bin/webhook/send?key=KEY-1` } } });
    await channel.send(message({ channel: 'wecom', recipient: 'duty' }));
    const [r] = received;
    expect(r!.url.pathname).toBe('/cgi-bin/webhook/send');
    expect(r!.url.searchParams.get('key')).toBe('KEY-1');
    expect(JSON.parse(r!.body)).toEqual({ msgtype: 'markdown', markdown: { content: `**${message().subject}**\n${message().text}` } });
  });

  it('reads errors inside a 200: 45009 (rate limit) is transient, 93000 (bad key) is not; the key never reaches the message', async () => {
    const channel = wecomChannel({ targets: { duty: { url: `${base}/send?key=SECRET-KEY` } } });
    answer = { status: 200, body: '{"errcode":45009,"errmsg":"api freq out of limit"}' };
    expect((await failure(channel.send(message({ recipient: 'duty' })))).transient).toBe(true);
    answer = { status: 200, body: '{"errcode":93000,"errmsg":"invalid webhook url"}' };
    expect((await failure(channel.send(message({ recipient: 'duty' })))).transient).toBe(false);
    answer = { status: 502, body: '' };
    const e = await failure(channel.send(message({ recipient: 'duty' })));
    expect(e.transient).toBe(true);
    expect(e.message).not.toContain('SECRET-KEY');
  });

  it('cuts content to 4096 bytes without splitting a character', async () => {
    const channel = wecomChannel({ targets: { duty: { url: `${base}/send?key=k` } } });
    await channel.send(message({ recipient: 'duty', text: '超'.repeat(3000) }));
    const content = (JSON.parse(received[0]!.body) as { markdown: { content: string } }).markdown.content;
    expect(Buffer.byteLength(content)).toBeLessThanOrEqual(4096);
    expect(content.endsWith('…')).toBe(true);
  });
});

describe('钉钉 group robot', () => {
  it('signs the URL: timestamp, then sign = urlencode(base64(HMAC-SHA256(secret, timestamp + "\\n" + secret)))', async () => {
    const ts = 1_780_000_000_000;
    const channel = dingtalkChannel({
      targets: { duty: { url: `${base}/robot/send?access_token=TOKEN`, secret: 'SECabc' } },
      wallNow: () => ts,
    });
    await channel.send(message({ channel: 'dingtalk', recipient: 'duty' }));
    const [r] = received;
    expect(r!.url.pathname).toBe('/robot/send');
    expect(r!.url.searchParams.get('access_token')).toBe('TOKEN');
    expect(r!.url.searchParams.get('timestamp')).toBe(String(ts));
    const sign = createHmac('sha256', 'SECabc').update(`${ts}\nSECabc`).digest('base64');
    expect(r!.url.searchParams.get('sign')).toBe(sign);
    // The raw query carries it url-encoded (base64's + / = escaped).
    expect(dingtalkSignedUrl('https://oapi.dingtalk.com/robot/send?access_token=T', 'SECabc', ts)).toBe(
      `https://oapi.dingtalk.com/robot/send?access_token=T&timestamp=${ts}&sign=${encodeURIComponent(sign)}`,
    );
    expect(JSON.parse(r!.body)).toEqual({
      msgtype: 'markdown',
      markdown: { title: message().subject, text: `### ${message().subject}\n\n${message().text}` },
    });
  });

  it('130101 (sending too fast) is transient; 310000 (bad signature) is not', async () => {
    const channel = dingtalkChannel({ targets: { duty: { url: `${base}/robot/send?access_token=T`, secret: 's' } } });
    answer = { status: 200, body: '{"errcode":130101,"errmsg":"send too fast"}' };
    expect((await failure(channel.send(message({ recipient: 'duty' })))).transient).toBe(true);
    answer = { status: 200, body: '{"errcode":310000,"errmsg":"sign not match"}' };
    expect((await failure(channel.send(message({ recipient: 'duty' })))).transient).toBe(false);
  });
});

describe('SMS through an HTTP gateway', () => {
  it('POSTs phone, a short text (subject and link) and the notification id as request id, with the bearer token', async () => {
    const channel = smsChannel({ url: `${base}/sms/send`, token: 'gw-token', fields: { phone: 'mobile' } });
    await channel.send(message({ channel: 'sms', recipient: '13800000000' }));
    const [r] = received;
    expect(r!.url.pathname).toBe('/sms/send');
    expect(r!.headers.authorization).toBe('Bearer gw-token');
    expect(JSON.parse(r!.body)).toEqual({
      mobile: '13800000000',
      content: `${message().subject} http://127.0.0.1:8080/#/incidents/i-1`,
      requestId: 'n-1',
    });
  });

  it('a gateway 503 is transient, 422 is not', async () => {
    const channel = smsChannel({ url: `${base}/sms/send` });
    answer = { status: 503, body: '' };
    expect((await failure(channel.send(message({ recipient: '1' })))).transient).toBe(true);
    answer = { status: 422, body: '{"error":"bad phone"}' };
    expect((await failure(channel.send(message({ recipient: '1' })))).transient).toBe(false);
  });
});

describe('null adapter', () => {
  it('records what would have been sent, or fails as scripted', async () => {
    const ok = nullAdapter('sms');
    await ok.send(message());
    expect(ok.sent.map((m) => m.id)).toEqual(['n-1']);
    const down = nullAdapter('sms', { fail: () => new DeliveryError('gateway down', true) });
    expect((await failure(down.send(message()))).transient).toBe(true);
    expect(down.sent).toEqual([]);
  });
});

describe('channelsFromSettings (the processes’ environment keys)', () => {
  it('builds an adapter for every channel whose settings are present, and only those', async () => {
    expect(Object.keys(channelsFromSettings({})).sort()).toEqual([]);
    const all = channelsFromSettings({
      SMTP_URL: 'smtp://127.0.0.1:2525',
      SMS_GATEWAY_URL: `${base}/sms`,
      WECOM_ROBOTS: JSON.stringify({ g: `${base}/wecom` }),
      DINGTALK_ROBOTS: JSON.stringify({ d: { url: `${base}/ding`, secret: 'SEC1' } }),
      WEBHOOK_TARGETS: JSON.stringify({ ops: { url: `${base}/hook`, secret: 's' } }),
    });
    expect(Object.keys(all).sort()).toEqual(['dingtalk', 'email', 'sms', 'webhook', 'wecom']);
    // The robot named in a row is the one configured: its URL, signed with its secret.
    await all.dingtalk!.send(message({ channel: 'dingtalk', recipient: 'd' }));
    expect(received[0]!.url.pathname).toBe('/ding');
    expect(received[0]!.url.searchParams.get('sign')).toBeTruthy();
    await all.sms!.send(message({ channel: 'sms', recipient: '13800000001' }));
    expect(JSON.parse(received[1]!.body)).toMatchObject({ phone: '13800000001', requestId: 'n-1' });
    await Promise.all(Object.values(all).map((a) => a.close()));
  });

  it.each([
    [{ WECOM_ROBOTS: 'not json' }, 'WECOM_ROBOTS: not JSON'],
    [{ WECOM_ROBOTS: '["x"]' }, 'WECOM_ROBOTS: expected an object'],
    [{ DINGTALK_ROBOTS: '{"d": {"url": "ftp://x"}}' }, 'DINGTALK_ROBOTS/d: url'],
    [{ WEBHOOK_TARGETS: '{"ops": {"url": "https://x.test/h"}}' }, 'WEBHOOK_TARGETS/ops: secret is required'],
    [{ SMS_GATEWAY_URL: 'gateway' }, 'SMS_GATEWAY_URL'],
  ])('refuses %j, naming the key', (settings, text) => {
    expect(() => channelsFromSettings(settings)).toThrow(ChannelSettingsError);
    expect(() => channelsFromSettings(settings)).toThrow(text);
  });
});
