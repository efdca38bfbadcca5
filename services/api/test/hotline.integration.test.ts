/**
 * 12345 intake through the whole app on the real PostgreSQL: administrators add hotline
 * sources (the secret shown once, never listed or audited), a signed ticket becomes an
 * incident, a token bound to a source posts as it, duty officers upload exports (CSV in GBK,
 * XLSX) and get the row report, a disabled source is refused everywhere.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { FakeClock } from '@huiying/clock';
import { rowsOf, sql } from '@huiying/db';
import { signalId, signBody } from '@huiying/ingest';
import { eventually, freshDatabase, type SessionClient } from '@huiying/testkit';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedHarness, startEmbedded } from '../../standalone/test/embedded-harness.ts';

const T0 = Date.parse('2026-10-01T09:00:00+08:00');
const clock = new FakeClock(T0);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let env: EmbeddedHarness;
let admin: SessionClient;
let duty: SessionClient;
let source: { id: string; name: string; secret: string };
let districtToken: string;

const gbkExport = () => readFile(fileURLToPath(new URL('../../ingest/test/fixtures/tickets/export-gbk.csv', import.meta.url)));
const count = async (query: ReturnType<typeof sql>) => rowsOf<{ n: number }>(await db.db.execute(query))[0]!.n;

function signed(body: string, secret = source.secret) {
  // Signature timestamps are wall-clock time (the app's real clock), not the engine's.
  const timestamp = String(Math.floor(Date.now() / 1000));
  return env.hy.app.inject({
    method: 'POST',
    url: '/api/tickets',
    payload: body,
    headers: {
      'content-type': 'application/json',
      'x-huiying-source': 'city',
      'x-huiying-timestamp': timestamp,
      'x-huiying-signature': signBody(secret, timestamp, body),
    },
  });
}
const upload = (client: SessionClient, bytes: Buffer, query: string, type = 'text/csv') =>
  client.inject({ method: 'POST', url: `/api/hotline/imports?${query}`, payload: bytes, headers: { 'content-type': type } });

beforeAll(async () => {
  db = await freshDatabase();
  env = await startEmbedded({
    clock,
    handle: db,
    units: [
      { id: 'housing', name: '市住房和城乡建设局', email: 'zjj@example.test' },
      { id: 'urban', name: '市城市管理局', email: 'cgj@example.test' },
    ],
  });
  admin = await env.as('admin');
  duty = await env.as('duty');
});
afterAll(async () => {
  await env?.stop();
  await db?.drop();
});

describe('hotline sources (administrators)', () => {
  it('adds a source and shows its secret once: never in the list, never in the audit trail', async () => {
    const res = await admin.inject({ method: 'POST', url: '/api/admin/hotline-sources', payload: { name: 'city' } });
    expect(res.statusCode).toBe(201);
    source = res.json();
    expect(source).toMatchObject({ name: 'city', active: true, tokenId: null, disabledAt: null });
    expect(source.secret).toMatch(/^hys_[\w-]{40,}$/);
    const list = await admin.inject({ method: 'GET', url: '/api/admin/hotline-sources' });
    expect(list.json()).toEqual({ items: [expect.objectContaining({ id: source.id, name: 'city' })], total: 1, page: 1, pageSize: 200 });
    expect(list.body).not.toContain(source.secret);
    expect(list.json().items[0]).not.toHaveProperty('secret');
    const trail = rowsOf<{ actor: string; input: string }>(
      await db.db.execute(sql`select actor, input::text as input from audit_log where action = 'hotline_source.created'`),
    );
    expect(trail).toEqual([{ actor: 'user:admin', input: expect.stringContaining('city') }]);
    expect(trail[0]!.input).not.toContain(source.secret);

    expect((await admin.inject({ method: 'POST', url: '/api/admin/hotline-sources', payload: { name: 'city' } })).statusCode).toBe(409);
    expect((await admin.inject({ method: 'POST', url: '/api/admin/hotline-sources', payload: { name: 'Bad Name' } })).statusCode).toBe(400);
    const unknownToken = await admin.inject({
      method: 'POST',
      url: '/api/admin/hotline-sources',
      payload: { name: 'other', tokenId: 'tok_nope' },
    });
    expect(unknownToken.statusCode).toBe(400);
  });

  it('a signed ticket becomes an incident; its caller is readable by duty and the assigned unit only, each reading audited', async () => {
    const res = await signed(
      JSON.stringify({
        id: '2026100100001',
        receivedAt: new Date(T0 - 600_000).toISOString(),
        content: '小区电梯停运三天无人维修，李建华来电',
        unit: 'housing',
        caller: '李建华',
        phone: '139 0000 1234',
      }),
    );
    expect(res.statusCode).toBe(201);
    expect(res.json().signalId).toBe(signalId('hotline', 'city:2026100100001'));
    const incident = await eventually(
      async () =>
        rowsOf<{ incident_id: string | null }>(
          await db.db.execute(sql`select incident_id from signals where id = ${res.json().signalId}`),
        )[0]?.incident_id,
      'incident for the signed ticket',
    );
    expect(incident).toBeTruthy();
    const url = `/api/hotline/callers/${res.json().signalId}`;
    const seen = await duty.inject({ method: 'GET', url });
    expect(seen.json()).toEqual({
      signalId: res.json().signalId,
      ticketId: '2026100100001',
      source: 'city',
      callerName: '李建华',
      callerPhone: '139 0000 1234',
    });
    expect((await (await env.as('unit-housing')).inject({ method: 'GET', url })).statusCode).toBe(200);
    expect((await (await env.as('unit-urban')).inject({ method: 'GET', url })).statusCode).toBe(404);
    expect((await (await env.as('leader')).inject({ method: 'GET', url })).statusCode).toBe(403);
    expect(await count(sql`select count(*)::int as n from audit_log where action = 'caller.viewed'`)).toBe(2);
    // The incident's own text does not carry the name.
    const [text] = rowsOf<{ title: string; content: string }>(
      await db.db.execute(sql`select title, content from signals where id = ${res.json().signalId}`),
    );
    expect(`${text!.title}${text!.content}`).not.toContain('李建华');
    expect((await signed(JSON.stringify({ id: 'X', receivedAt: new Date(T0).toISOString(), content: 'x' }), 'hys_wrong')).statusCode).toBe(
      401,
    );
  });

  it('a token bound to a source posts as that source', async () => {
    const token = await admin.inject({
      method: 'POST',
      url: '/api/admin/tokens',
      payload: { name: 'district-12345', scopes: ['tickets:write'] },
    });
    const bound = await admin.inject({
      method: 'POST',
      url: '/api/admin/hotline-sources',
      payload: { name: 'district', tokenId: token.json().id },
    });
    expect(bound.statusCode).toBe(201);
    const res = await env.hy.app.inject({
      method: 'POST',
      url: '/api/tickets',
      payload: { id: 'D-1', receivedAt: new Date(T0).toISOString(), content: '路灯不亮' },
      headers: { authorization: `Bearer ${token.json().token}` },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().signalId).toBe(signalId('hotline', 'district:D-1'));
    districtToken = token.json().token;
  });

  it('an administrator sets a source’s jurisdiction (audited; others refused); its tickets carry it and meet that jurisdiction’s rules only', async () => {
    const district = (await admin.inject({ method: 'GET', url: '/api/admin/hotline-sources' }))
      .json<{ items: { id: string; name: string; jurisdiction: string }[] }>()
      .items.find((x) => x.name === 'district')!;
    expect(district.jurisdiction).toBe('default');
    const url = `/api/admin/hotline-sources/${district.id}`;
    expect((await duty.inject({ method: 'PATCH', url, payload: { jurisdiction: 'east' } })).statusCode).toBe(403);
    expect((await (await env.as('leader')).inject({ method: 'PATCH', url, payload: { jurisdiction: 'east' } })).statusCode).toBe(403);
    expect((await admin.inject({ method: 'PATCH', url, payload: { jurisdiction: '' } })).statusCode).toBe(400);
    expect((await admin.inject({ method: 'PATCH', url, payload: { jurisdiction: '  ' } })).statusCode).toBe(400);
    expect(
      (await admin.inject({ method: 'PATCH', url: '/api/admin/hotline-sources/hs_nope', payload: { jurisdiction: 'east' } })).statusCode,
    ).toBe(404);
    const res = await admin.inject({ method: 'PATCH', url, payload: { jurisdiction: 'east' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ name: 'district', jurisdiction: 'east' });
    const trail = rowsOf<{ actor: string; input: unknown; result: unknown }>(
      await db.db.execute(
        sql`select actor, input, result from audit_log where action = 'hotline_source.changed' and entity_id = ${district.id}`,
      ),
    );
    expect(trail).toEqual([{ actor: 'user:admin', input: { jurisdiction: 'east' }, result: { before: { jurisdiction: 'default' } } }]);

    const posted = await env.hy.app.inject({
      method: 'POST',
      url: '/api/tickets',
      payload: { id: 'D-2', receivedAt: new Date(T0).toISOString(), content: '路灯不亮' },
      headers: { authorization: `Bearer ${districtToken}` },
    });
    expect(posted.statusCode).toBe(201);
    const id = posted.json().signalId as string;
    // east has no monitoring rules: the ticket is stored and searchable, and opens nothing.
    const decided = await eventually(
      async () =>
        rowsOf<{ jurisdiction: string; decision: string | null; decision_reason: string | null }>(
          await db.db.execute(sql`select jurisdiction, decision, decision_reason from signals where id = ${id}`),
        ).find((r) => r.decision !== null),
      'the engine’s decision',
    );
    expect(decided).toEqual({ jurisdiction: 'east', decision: 'unmatched', decision_reason: 'no_rule' });
    // The earlier ticket keeps the jurisdiction it arrived with.
    const [before] = rowsOf<{ jurisdiction: string }>(
      await db.db.execute(sql`select jurisdiction from signals where id = ${signalId('hotline', 'district:D-1')}`),
    );
    expect(before!.jurisdiction).toBe('default');
  });
});

describe('importing exports (duty officers, administrators)', () => {
  it('imports a GBK CSV with a row report; re-importing stores nothing twice', async () => {
    const res = await upload(duty, await gbkExport(), 'source=city');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ format: 'csv', encoding: 'gb18030', rows: 5, accepted: 3, duplicates: 0 });
    expect(res.json().errors).toEqual([
      { row: 5, column: '受理时间', reason: expect.any(String) },
      { row: 6, column: '诉求内容', reason: '为空 (empty)' },
    ]);
    const again = await upload(admin, await gbkExport(), 'source=city');
    expect(again.json()).toMatchObject({ accepted: 0, duplicates: 3 });
    expect(await count(sql`select count(*)::int as n from signals where source_ref like 'city:GBK-%'`)).toBe(3);
    const [unit] = rowsOf<{ unit_hint: string }>(await db.db.execute(sql`select unit_hint from signals where source_ref = 'city:GBK-001'`));
    expect(unit!.unit_hint).toBe('housing');
    const audits = rowsOf<{ actor: string; result: { accepted: number; refused: number } }>(
      await db.db.execute(sql`select actor, result from audit_log where action = 'hotline_import.completed' order by id`),
    );
    expect(audits.map((a) => [a.actor, a.result.accepted, a.result.refused])).toEqual([
      ['user:duty', 3, 2],
      ['user:admin', 0, 2],
    ]);
  });

  it('imports an XLSX upload, and as a back-fill on request', async () => {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('Sheet1');
    sheet.addRow(['工单编号', '诉求内容', '受理时间', '承办单位']);
    sheet.addRow(['XL-1', '占道经营', new Date(Date.UTC(2026, 8, 30, 18, 0)), '市城市管理局']);
    sheet.addRow(['XL-2', '去年的工单', '2025-10-01 10:00', '']);
    const bytes = Buffer.from(await workbook.xlsx.writeBuffer());
    const xlsx = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
    const res = await upload(duty, bytes, 'source=city', xlsx);
    expect(res.json()).toMatchObject({ format: 'xlsx', rows: 2, accepted: 1, errors: [{ row: 3, column: '受理时间' }] });
    const archive = await upload(duty, bytes, 'source=city&backfill=true', 'application/octet-stream');
    expect(archive.json()).toMatchObject({ accepted: 1, history: 1, duplicates: 1, errors: [] });
  });

  it('refuses an unreadable file, an unknown source or an empty body with a 400 and a reason', async () => {
    const header = await upload(duty, Buffer.from('编号,时间\n1,2\n'), 'source=city');
    expect(header.statusCode).toBe(400);
    expect(header.json()).toMatchObject({ code: 'HY_VALIDATION', message: expect.stringContaining('row 1') });
    expect((await upload(duty, await gbkExport(), 'source=nobody')).json()).toMatchObject({ code: 'HY_VALIDATION' });
    expect((await upload(duty, Buffer.alloc(0), 'source=city')).statusCode).toBe(400);
    expect((await upload(duty, Buffer.from('x'), 'source=city', 'image/png')).statusCode).toBe(415);
  });

  it('a disabled source is refused for signatures and imports', async () => {
    const res = await admin.inject({ method: 'POST', url: `/api/admin/hotline-sources/${source.id}/disable` });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ active: false, disabledAt: expect.any(String) });
    const refused = await signed(JSON.stringify({ id: 'OFF-1', receivedAt: new Date(T0).toISOString(), content: '停用后' }));
    expect(refused.statusCode).toBe(401);
    expect((await upload(duty, await gbkExport(), 'source=city')).json().message).toContain('disabled');
    expect((await admin.inject({ method: 'POST', url: '/api/admin/hotline-sources/hs_nope/disable' })).statusCode).toBe(404);
  });
});
