import cookie from '@fastify/cookie';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { setSessionCookie, trustProxyOf } from '../src/index.ts';

/** A log-in's cookie and the client address, as the app sees them with a TRUST_PROXY value. */
async function behindProxy(trustProxy: string | undefined) {
  const app = Fastify({ trustProxy: trustProxyOf(trustProxy) });
  await app.register(cookie);
  app.post('/login', async (request, reply) => {
    setSessionCookie(request, reply, 'hys_secret', new Date(Date.now() + 60_000));
    return { ip: request.ip };
  });
  const res = await app.inject({
    method: 'POST',
    url: '/login',
    remoteAddress: '10.1.2.3',
    headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' },
  });
  await app.close();
  return { cookie: String(res.headers['set-cookie']), ip: res.json<{ ip: string }>().ip };
}

describe('TRUST_PROXY', () => {
  it.each([
    [undefined, false],
    ['false', false],
    ['true', true],
    ['10.0.0.0/8, 127.0.0.1', '10.0.0.0/8, 127.0.0.1'],
  ])('%s → %s', (value, expected) => expect(trustProxyOf(value)).toEqual(expected));

  it('trusted, X-Forwarded-Proto https makes the session cookie Secure and X-Forwarded-For the client', async () => {
    for (const value of ['true', '10.0.0.0/8']) {
      const { cookie, ip } = await behindProxy(value);
      expect(cookie, value).toContain('Secure');
      expect(ip, value).toBe('203.0.113.7');
    }
  });

  it('not trusted (the default, or another proxy), the forwarded headers are ignored', async () => {
    for (const value of [undefined, 'false', '192.168.0.1']) {
      const { cookie, ip } = await behindProxy(value);
      expect(cookie, String(value)).not.toContain('Secure');
      expect(ip, String(value)).toBe('10.1.2.3');
    }
  });
});
