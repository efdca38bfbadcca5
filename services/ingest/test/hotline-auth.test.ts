/**
 * The signature scheme against known answers computed with openssl (the README's worked
 * example): `printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -hex`.
 */
import { describe, expect, it } from 'vitest';
import { decideTicketTime, DEFAULT_TICKET_TIME_POLICY } from '../src/tickets.ts';
import { signBody } from '../src/hotline-auth.ts';

describe('signBody', () => {
  it('is sha256=hex(HMAC-SHA256(secret, timestamp + "." + body)) over the body bytes, as openssl computes it', () => {
    expect(signBody('hys_test', '1790000000', '{"id":"T-1"}')).toBe(
      'sha256=2fa1e0c0b92bd59deb622d1b81f6e91e0bfc4964550be11d34d0057a7492329b',
    );
    // UTF-8 bytes of Chinese text, as string or as the raw body buffer.
    const body = '{"content":"噪音扰民"}';
    const expected = 'sha256=4cdae921295d6c086da1d763b37adc0d97567b80d01ff693368ffc98b50995a4';
    expect(signBody('hys_test', '1790000000', body)).toBe(expected);
    expect(signBody('hys_test', '1790000000', Buffer.from(body, 'utf8'))).toBe(expected);
    expect(signBody('hys_test', '1790000001', body)).not.toBe(expected);
  });
});

describe('decideTicketTime', () => {
  const now = Date.parse('2026-09-30T12:00:00Z');
  const at = (ms: number) => new Date(ms).toISOString();
  const { maxAgeMs, futureSkewMs } = DEFAULT_TICKET_TIME_POLICY;

  it('accepts within the bound, clamps a slightly early hotline clock to now, refuses beyond', () => {
    expect(decideTicketTime({ receivedAt: at(now - maxAgeMs) }, now, DEFAULT_TICKET_TIME_POLICY)).toEqual({
      kind: 'live',
      at: now - maxAgeMs,
    });
    expect(decideTicketTime({ receivedAt: at(now + futureSkewMs) }, now, DEFAULT_TICKET_TIME_POLICY)).toEqual({ kind: 'live', at: now });
    expect(decideTicketTime({ receivedAt: at(now - maxAgeMs - 1) }, now, DEFAULT_TICKET_TIME_POLICY)).toMatchObject({
      kind: 'refused',
      reason: 'received_at_too_old',
    });
    expect(decideTicketTime({ receivedAt: at(now + futureSkewMs + 1) }, now, DEFAULT_TICKET_TIME_POLICY)).toMatchObject({
      kind: 'refused',
      reason: 'received_at_in_future',
    });
    expect(decideTicketTime({ receivedAt: '2026-02-30T00:00:00Z' }, now, DEFAULT_TICKET_TIME_POLICY)).toMatchObject({
      kind: 'refused',
      reason: 'received_at_invalid',
    });
  });

  it('stores a back-fill of any age as history, but never one from the future', () => {
    expect(decideTicketTime({ receivedAt: '2016-01-01T00:00:00Z', backfill: true }, now, DEFAULT_TICKET_TIME_POLICY)).toEqual({
      kind: 'history',
      at: Date.parse('2016-01-01T00:00:00Z'),
    });
    expect(decideTicketTime({ receivedAt: at(now + 86_400_000), backfill: true }, now, DEFAULT_TICKET_TIME_POLICY)).toMatchObject({
      kind: 'refused',
    });
  });
});
