/**
 * Bulk import of 12345 exports on the real PostgreSQL: CSV in GBK (as Chinese office software
 * writes it) and UTF-8 with BOM, XLSX with date cells, header names in any order; a row report
 * (row, column, reason) while the good rows are stored; re-import adds nothing; the CLI as a
 * real child process.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { rowsOf, sql } from '@huiying/db';
import { freshDatabase } from '@huiying/testkit';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHotlineSource } from '../src/hotline-auth.ts';
import { loadSignalKey } from '../src/signal-key.ts';
import { signalId } from '../src/signals.ts';
import { ImportFileError, importTicketFile, parseReceivedAt } from '../src/tickets-import.ts';
import type { TicketOrigin } from '../src/tickets.ts';

const T0 = new Date('2026-10-01T09:00:00+08:00');
const fixture = (name: string) => readFile(fileURLToPath(new URL(`./fixtures/tickets/${name}`, import.meta.url)));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let db: Awaited<ReturnType<typeof freshDatabase>>;
let origin: TicketOrigin;

const count = async (query: ReturnType<typeof sql>) => rowsOf<{ n: number }>(await db.db.execute(query))[0]!.n;

beforeAll(async () => {
  db = await freshDatabase();
  await db.db.execute(sql`insert into units (id, name) values ('housing', '市住房和城乡建设局'), ('urban', '市城市管理局')`);
  const source = await createHotlineSource(db.db, { name: 'city' }, 'user:admin', T0);
  origin = { source: { id: source.id, name: source.name }, actor: 'user:duty1', signalKey: await loadSignalKey(db.db) };
});
afterAll(async () => {
  await db?.drop();
});

describe('reading 受理时间', () => {
  it('reads Beijing wall time in the forms exports use, keeps explicit offsets, refuses impossible dates', () => {
    expect(parseReceivedAt('2026-09-30 20:15:00')).toBe('2026-09-30T12:15:00.000Z');
    expect(parseReceivedAt('2026/9/30 21:05')).toBe('2026-09-30T13:05:00.000Z');
    expect(parseReceivedAt('2026年9月30日 8时05分')).toBe('2026-09-30T00:05:00.000Z');
    expect(parseReceivedAt('2026-09-30T20:15:00+08:00')).toBe('2026-09-30T12:15:00.000Z');
    expect(parseReceivedAt(new Date(Date.UTC(2026, 8, 30, 20, 15)))).toBe('2026-09-30T12:15:00.000Z');
    expect(parseReceivedAt('2026年9月31日 08:00')).toBeUndefined();
    expect(parseReceivedAt('2026-09-30 25:00')).toBeUndefined();
    expect(parseReceivedAt('昨天晚上')).toBeUndefined();
    expect(parseReceivedAt('')).toBeUndefined();
  });
});

describe('importing exports', () => {
  it('imports a GBK CSV: good rows stored, bad rows reported by line and column; re-import adds nothing', async () => {
    const bytes = await fixture('export-gbk.csv');
    const report = await importTicketFile(db.db, bytes, { origin, now: T0 });
    expect(report).toMatchObject({ format: 'csv', encoding: 'gb18030', rows: 5, accepted: 3, duplicates: 0, history: 0 });
    expect(report.errors).toEqual([
      { row: 5, column: '受理时间', reason: expect.stringContaining('not a time') },
      { row: 6, column: '诉求内容', reason: '为空 (empty)' },
    ]);
    const stored = rowsOf<{ source_ref: string; unit_hint: string | null; published_at: Date; content: string; area: string }>(
      await db.db.execute(sql`select source_ref, unit_hint, published_at, content, area from signals order by source_ref`),
    );
    expect(stored.map((s) => [s.source_ref, s.unit_hint, new Date(s.published_at).toISOString(), s.area])).toEqual([
      ['city:GBK-001', 'housing', '2026-09-30T12:15:00.000Z', '鼓楼区'],
      ['city:GBK-002', 'urban', '2026-09-30T13:05:00.000Z', '台江区'],
      ['city:GBK-005', '市工业和信息化局', '2026-09-30T15:10:00.000Z', '马尾区'],
    ]);
    // The multi-line field is whole; the caller's name is masked in the text and kept apart.
    expect(stored[1]!.content).toBe('台江区路灯不亮\n已持续一周，影响出行');
    expect(stored[0]!.content).toContain('来电人张*');
    expect(stored[0]!.content).not.toContain('张伟');
    const callers = rowsOf<{ ticket_id: string; caller_name: string; caller_phone: string }>(
      await db.db.execute(sql`select ticket_id, caller_name, caller_phone from hotline_tickets order by ticket_id`),
    );
    expect(callers[0]).toEqual({ ticket_id: 'GBK-001', caller_name: '张伟', caller_phone: '13912345678' });

    const again = await importTicketFile(db.db, bytes, { origin, now: new Date(T0.getTime() + 3_600_000) });
    expect(again).toMatchObject({ accepted: 0, duplicates: 3 });
    expect(again.errors.map((e) => e.row)).toEqual([5, 6]);
    expect(await count(sql`select count(*)::int as n from signals`)).toBe(3);
    expect(await count(sql`select count(*)::int as n from outbox`)).toBe(3);
  });

  it('imports the same export in UTF-8 with a BOM', async () => {
    const report = await importTicketFile(db.db, await fixture('export-utf8-bom.csv'), { origin, now: T0 });
    expect(report).toMatchObject({ encoding: 'utf-8', rows: 5, accepted: 3 });
    expect(report.errors.map((e) => [e.row, e.column])).toEqual([
      [5, '受理时间'],
      [6, '诉求内容'],
    ]);
  });

  it('imports an XLSX (columns in another order, date cells): too-old rows reported unless imported as back-fill', async () => {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('工单');
    sheet.addRow(['诉求内容', '工单编号', '所属区域', '受理时间', '诉求类型']);
    sheet.addRow(['地铁站出口积水严重', 'X-1', '鼓楼区', new Date(Date.UTC(2026, 8, 30, 20, 15)), '投诉']);
    sheet.addRow(['垃圾清运不及时', 'X-2', '台江区', '2026-09-30 22:00', '投诉']);
    sheet.addRow(['缺少编号的工单', '', '仓山区', '2026-09-30 22:30', '建议']);
    sheet.addRow(['上个月的工单', 'X-4', '晋安区', new Date(Date.UTC(2026, 8, 1, 10, 0)), '咨询']);
    const bytes = Buffer.from(await workbook.xlsx.writeBuffer());

    const report = await importTicketFile(db.db, bytes, { origin, now: T0 });
    expect(report).toMatchObject({ format: 'xlsx', rows: 4, accepted: 2 });
    expect(report.errors).toEqual([
      { row: 4, column: '工单编号', reason: '为空 (empty)' },
      { row: 5, column: '受理时间', reason: expect.stringContaining('older than 168 h') },
    ]);
    const [x1] = rowsOf<{ published_at: Date }>(await db.db.execute(sql`select published_at from signals where source_ref = 'city:X-1'`));
    expect(new Date(x1!.published_at).toISOString()).toBe('2026-09-30T12:15:00.000Z');

    const archive = await importTicketFile(db.db, bytes, { origin, now: T0, backfill: true });
    expect(archive).toMatchObject({ accepted: 1, history: 1, duplicates: 2 });
    expect(archive.errors.map((e) => e.row)).toEqual([4]);
    const [x4] = rowsOf<{ time_decision: string; processed: boolean }>(
      await db.db.execute(sql`select time_decision, processed_at is not null as processed from signals where source_ref = 'city:X-4'`),
    );
    expect(x4).toEqual({ time_decision: 'history', processed: true });
    expect(await count(sql`select count(*)::int as n from outbox where key = ${signalId('hotline', 'city:X-4')}`)).toBe(0);
  });

  it('rows take the source’s jurisdiction, live and back-filled alike', async () => {
    const east = await createHotlineSource(db.db, { name: 'east', jurisdiction: 'east' }, 'user:admin', T0);
    const from = { ...origin, source: { id: east.id, name: east.name } };
    const csv = ['工单编号,受理时间,诉求内容', 'E-1,2026-09-30 20:00:00,东区路灯不亮', 'E-2,2026-09-01 20:00:00,上个月的东区工单'].join(
      '\n',
    );
    expect(await importTicketFile(db.db, Buffer.from(csv), { origin: from, now: T0, backfill: true })).toMatchObject({ accepted: 2 });
    const rows = rowsOf<{ source_ref: string; jurisdiction: string }>(
      await db.db.execute(sql`select source_ref, jurisdiction from signals where source_ref like 'east:%' order by source_ref`),
    );
    expect(rows).toEqual([
      { source_ref: 'east:E-1', jurisdiction: 'east' },
      { source_ref: 'east:E-2', jurisdiction: 'east' },
    ]);
    const live = ['工单编号,受理时间,诉求内容', 'E-3,2026-09-30 21:00:00,东区井盖缺失'].join('\n');
    expect(await importTicketFile(db.db, Buffer.from(live), { origin: from, now: T0 })).toMatchObject({ accepted: 1, history: 0 });
    expect(await count(sql`select count(*)::int as n from signals where source_ref = 'east:E-3' and jurisdiction = 'east'`)).toBe(1);
    expect(await count(sql`select count(*)::int as n from signals where source_ref like 'city:%' and jurisdiction <> 'default'`)).toBe(0);
  });

  it('stores every good row of a file larger than one transaction around a bad one', async () => {
    const lines = ['工单编号,受理时间,诉求内容'];
    for (let i = 0; i < 1500; i++) lines.push(`BIG-${i},2026-09-30 20:00:00,${i === 1200 ? '' : `第${i}号工单内容`}`);
    const report = await importTicketFile(db.db, Buffer.from(lines.join('\n')), { origin, now: T0 });
    expect(report).toMatchObject({ rows: 1500, accepted: 1499 });
    expect(report.errors).toEqual([{ row: 1202, column: '诉求内容', reason: '为空 (empty)' }]);
    expect(await count(sql`select count(*)::int as n from signals where source_ref like 'city:BIG-%'`)).toBe(1499);
  });

  it('refuses a file without the required columns, naming the header line', async () => {
    await expect(importTicketFile(db.db, Buffer.from('编号,时间\nA,2026-09-30 20:00\n'), { origin, now: T0 })).rejects.toThrow(
      ImportFileError,
    );
    await expect(importTicketFile(db.db, Buffer.from('标题,内容\n'), { origin, now: T0 })).rejects.toThrow(/受理时间/);
    await expect(importTicketFile(db.db, Buffer.from('PK\u0003\u0004garbage'), { origin, now: T0 })).rejects.toThrow(/XLSX cannot be read/);
  });
});

describe('pnpm tickets:import (child process)', () => {
  const run = (args: string[]) =>
    promisify(execFile)(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'services/ingest/src/import-cli.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: db.url },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('imports a file, prints each refused row with its line number, and adds nothing on re-import', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hy-import-'));
    try {
      const fmt = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
      const now = Date.now();
      const file = join(dir, 'export.csv');
      await writeFile(
        file,
        [
          '受理时间,工单编号,诉求内容',
          `${fmt(now - 3_600_000)},CLI-1,噪音扰民`,
          `不是时间,CLI-2,路灯不亮`,
          `${fmt(now - 1_800_000)},CLI-3,井盖缺失`,
        ].join('\r\n'),
      );
      const first = await run(['tickets:import', '--source', 'city', file]);
      expect(first.code, first.stderr).toBe(1);
      expect(first.stderr).toContain(`${file}:3: 列「受理时间」: 不是有效的时间 (not a time)`);
      expect(JSON.parse(first.stdout)).toMatchObject({ rows: 3, accepted: 2, duplicates: 0, refused: 1 });
      const again = await run(['tickets:import', '--source', 'city', file]);
      expect(JSON.parse(again.stdout)).toMatchObject({ accepted: 0, duplicates: 2, refused: 1 });
      expect(await count(sql`select count(*)::int as n from signals where source_ref like 'city:CLI-%'`)).toBe(2);

      const unknown = await run(['tickets:import', '--source', 'nobody', file]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('unknown hotline source nobody');
      const missing = await run(['tickets:import', '--source', 'city', join(dir, 'nope.csv')]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('no such file');
      await writeFile(join(dir, 'bad.csv'), '编号,时间\r\nA,B\r\n');
      const header = await run(['tickets:import', '--source', 'city', join(dir, 'bad.csv')]);
      expect(header.code).toBe(2);
      expect(header.stderr).toMatch(/bad\.csv:1: header lacks/);
      expect(header.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
