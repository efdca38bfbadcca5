/**
 * Bulk import of 12345 ticket exports (CSV in UTF-8 or GBK/GB18030, or XLSX): header names
 * mapped whatever their order, each row checked on its own, accepted rows stored through the
 * same path as POST /api/tickets (idempotent on (source, ticket id), so a re-import adds
 * nothing), and a row-level report: row number (the line in a CSV, the sheet row in XLSX),
 * column and reason. A bad row loses nothing already accepted.
 */
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { Value } from '@sinclair/typebox/value';
import { type Db, rowsOf, sql } from '@huiying/db';
import { acceptTickets } from './ticket-writes.ts';
import { DEFAULT_TICKET_TIME_POLICY, MAX_TICKETS_PER_REQUEST, Ticket, type TicketOrigin, type TicketTimePolicy } from './tickets.ts';

type Field = 'id' | 'receivedAt' | 'content' | 'title' | 'category' | 'area' | 'unit' | 'caller' | 'phone';

/** The column names 12345 exports use for each field (the first is the canonical one, used in reports). */
export const TICKET_COLUMNS: Record<Field, readonly string[]> = {
  id: ['工单编号', '工单号', '编号', '受理编号'],
  receivedAt: ['受理时间', '来电时间', '登记时间', '创建时间'],
  content: ['诉求内容', '来电内容', '反映内容', '工单内容', '问题描述'],
  title: ['诉求标题', '工单标题', '标题'],
  category: ['诉求类型', '诉求类别', '工单类型', '业务类型'],
  area: ['所属区域', '区域', '所属区县', '发生地区域'],
  unit: ['承办单位', '责任单位', '建议承办单位', '主办单位'],
  caller: ['来电人', '来电人姓名', '诉求人', '联系人'],
  phone: ['联系电话', '来电号码', '联系方式', '手机号码'],
};
/** The reason for a required cell left empty. */
export const EMPTY = '为空 (empty)';
const canonical = (f: Field): string => TICKET_COLUMNS[f][0]!;
const REQUIRED: readonly Field[] = ['id', 'receivedAt', 'content'];

export interface RowError {
  /** The CSV line (a quoted multi-line field: its first line) or the XLSX row number; 1 is the header. */
  row: number;
  /** The file's own column name, or '' for the row as a whole. */
  column: string;
  reason: string;
}

export interface ImportReport {
  format: 'csv' | 'xlsx';
  encoding: string;
  rows: number;
  accepted: number;
  history: number;
  duplicates: number;
  errors: RowError[];
}

export class ImportFileError extends Error {
  constructor(
    readonly row: number,
    message: string,
  ) {
    super(message);
  }
}

type Cell = string | Date | undefined;
interface RawRow {
  row: number;
  cells: Cell[];
}

const clean = (s: string) =>
  s
    .replace(/^\uFEFF/, '')
    .replace(/[\s\u3000*＊:：]/g, '')
    .trim();
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

function isXlsx(bytes: Buffer): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/** UTF-8 (with or without BOM) when the bytes are valid UTF-8, else GB18030 (a superset of GBK and GB2312). */
export function decodeCsv(bytes: Buffer): { text: string; encoding: string } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    return { text: new TextDecoder('gb18030').decode(bytes), encoding: 'gb18030' };
  }
}

function readCsv(bytes: Buffer): { rows: RawRow[]; encoding: string } {
  const { text, encoding } = decodeCsv(bytes);
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      info: true,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      bom: true,
    }) as unknown as typeof records;
  } catch (error) {
    const line = (error as { lines?: number }).lines ?? 0;
    throw new ImportFileError(line, `CSV cannot be read: ${(error as Error).message.split('\n')[0]}`);
  }
  return {
    encoding,
    // info.lines is where the record ends; a quoted field spanning lines started that many lines earlier.
    rows: records.map(({ record, info }) => ({
      row: info.lines - record.reduce((n, f) => n + (f.match(/\n/g)?.length ?? 0), 0),
      cells: record,
    })),
  };
}

function cellValue(value: ExcelJS.CellValue): Cell {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Date) return value;
  if (typeof value === 'object') {
    if ('richText' in value) return value.richText.map((r) => r.text).join('');
    if ('text' in value && typeof value.text === 'string') return value.text;
    if ('result' in value) return cellValue(value.result as ExcelJS.CellValue);
    if ('error' in value) return undefined;
    return undefined;
  }
  return String(value);
}

async function readXlsx(bytes: Buffer): Promise<RawRow[]> {
  const workbook = new ExcelJS.Workbook();
  try {
    await workbook.xlsx.load(bytes as unknown as ArrayBuffer);
  } catch (error) {
    throw new ImportFileError(0, `XLSX cannot be read: ${(error as Error).message}`);
  }
  const sheet = workbook.worksheets[0];
  if (!sheet) throw new ImportFileError(0, 'XLSX has no worksheet');
  const rows: RawRow[] = [];
  sheet.eachRow({ includeEmpty: false }, (row) => {
    const cells: Cell[] = [];
    row.eachCell({ includeEmpty: true }, (cell, col) => {
      cells[col - 1] = cellValue(cell.value);
    });
    rows.push({ row: row.number, cells });
  });
  return rows;
}

const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/**
 * 受理时间 as an ISO instant. Exports write Beijing wall time without an offset
 * ("2026-09-30 20:00:00", "2026/9/30 20:00", "2026年9月30日 20时00分"); an explicit offset is kept.
 * A spreadsheet date cell carries the wall time as if it were UTC.
 */
export function parseReceivedAt(value: Cell): string | undefined {
  if (value instanceof Date) {
    const ms = value.getTime() - SHANGHAI_OFFSET_MS;
    return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
  }
  const text = value?.trim();
  if (!text) return undefined;
  const local = /^(\d{4})[-/年.](\d{1,2})[-/月.](\d{1,2})日?(?:[ T]+(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2})(?:\.\d+)?秒?)?分?)?$/.exec(
    text,
  );
  if (local) {
    const [, y, mo, d, h = '0', mi = '0', s = '0'] = local;
    const parts = [Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s)] as const;
    const ms = Date.UTC(parts[0], parts[1] - 1, parts[2], parts[3], parts[4], parts[5]) - SHANGHAI_OFFSET_MS;
    // Date.UTC rolls 2026-02-30 over to March: a date that does not exist is refused, not moved.
    const back = new Date(ms + SHANGHAI_OFFSET_MS);
    if (
      back.getUTCFullYear() !== parts[0] ||
      back.getUTCMonth() !== parts[1] - 1 ||
      back.getUTCDate() !== parts[2] ||
      back.getUTCHours() !== parts[3] ||
      back.getUTCMinutes() !== parts[4] ||
      back.getUTCSeconds() !== parts[5]
    )
      return undefined;
    return new Date(ms).toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(text)) {
    const ms = Date.parse(text);
    return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
  }
  return undefined;
}

/** Header row → the column index of each field; unknown columns are ignored, a missing required one fails the file. */
function mapHeader(header: RawRow): { index: Partial<Record<Field, number>>; names: Partial<Record<Field, string>> } {
  const index: Partial<Record<Field, number>> = {};
  const names: Partial<Record<Field, string>> = {};
  header.cells.forEach((cell, col) => {
    if (typeof cell !== 'string') return;
    const name = clean(cell);
    for (const [field, aliases] of Object.entries(TICKET_COLUMNS) as [Field, readonly string[]][]) {
      if (index[field] === undefined && aliases.includes(name)) {
        index[field] = col;
        names[field] = cell.trim();
      }
    }
  });
  const missing = REQUIRED.filter((f) => index[f] === undefined);
  if (missing.length > 0)
    throw new ImportFileError(
      header.row,
      `header lacks ${missing.map((f) => `「${canonical(f)}」`).join('')} (columns found: ${header.cells
        .filter((c): c is string => typeof c === 'string')
        .map((c) => c.trim())
        .join(', ')})`,
    );
  return { index, names };
}

/** Read an export into tickets, with an error per row that cannot become one. */
export async function readTicketFile(bytes: Buffer): Promise<{
  format: 'csv' | 'xlsx';
  encoding: string;
  tickets: { row: number; ticket: Ticket }[];
  errors: RowError[];
  rows: number;
  columns: Partial<Record<Field, string>>;
}> {
  const format = isXlsx(bytes) ? 'xlsx' : 'csv';
  let raw: RawRow[];
  let encoding = 'binary';
  if (format === 'xlsx') raw = await readXlsx(bytes);
  else ({ rows: raw, encoding } = readCsv(bytes));
  const [header, ...body] = raw;
  if (!header) throw new ImportFileError(1, 'the file is empty (no header row)');
  const { index, names } = mapHeader(header);
  const column = (f: Field) => names[f] ?? canonical(f);
  const tickets: { row: number; ticket: Ticket }[] = [];
  const errors: RowError[] = [];
  for (const r of body) {
    const text = (f: Field): string | undefined => {
      const i = index[f];
      const v = i === undefined ? undefined : r.cells[i];
      if (v === undefined) return undefined;
      const s = (v instanceof Date ? v.toISOString() : v).replace(CONTROL, '').trim();
      return s === '' ? undefined : s;
    };
    if (r.cells.every((c) => c === undefined || (typeof c === 'string' && c.trim() === ''))) continue;
    const rowErrors: RowError[] = [];
    for (const f of REQUIRED)
      if (f !== 'receivedAt' && text(f) === undefined) rowErrors.push({ row: r.row, column: column(f), reason: EMPTY });
    const receivedCell = index.receivedAt === undefined ? undefined : r.cells[index.receivedAt];
    const receivedAt = parseReceivedAt(receivedCell);
    if (receivedAt === undefined)
      rowErrors.push({
        row: r.row,
        column: column('receivedAt'),
        reason:
          text('receivedAt') === undefined
            ? EMPTY
            : `不是有效的时间 (not a time): ${JSON.stringify(text('receivedAt')!.slice(0, 40))}，应如 2026-09-30 20:00:00（北京时间）`,
      });
    if (rowErrors.length > 0) {
      errors.push(...rowErrors);
      continue;
    }
    const ticket: Ticket = { id: text('id')!, receivedAt: receivedAt!, content: text('content')! };
    for (const f of ['title', 'category', 'area', 'unit', 'caller', 'phone'] as const) {
      const v = text(f);
      if (v !== undefined) ticket[f] = v;
    }
    // The API's own schema: lengths and the rest, reported per column.
    const schemaErrors = [...Value.Errors(Ticket, ticket)];
    if (schemaErrors.length > 0) {
      const seen = new Set<string>();
      for (const e of schemaErrors) {
        const field = e.path.replace(/^\//, '') as Field;
        if (seen.has(field)) continue;
        seen.add(field);
        errors.push({ row: r.row, column: TICKET_COLUMNS[field] ? column(field) : field, reason: e.message });
      }
      continue;
    }
    tickets.push({ row: r.row, ticket });
  }
  return { format, encoding, tickets, errors, rows: body.length, columns: names };
}

/**
 * Import one export file for a hotline source: rows read and checked, then stored 1 000 at a
 * time (each chunk its own transaction, so a failure later in the file keeps earlier chunks).
 * `backfill` imports the whole file as history (an archive: no clocks); otherwise rows whose
 * 受理时间 is beyond the bound are reported, like the API refuses them.
 */
export async function importTicketFile(
  db: Db,
  bytes: Buffer,
  options: { origin: TicketOrigin; now: Date; backfill?: boolean; policy?: TicketTimePolicy },
): Promise<ImportReport> {
  const file = await readTicketFile(bytes);
  const report: ImportReport = {
    format: file.format,
    encoding: file.encoding,
    rows: file.rows,
    accepted: 0,
    history: 0,
    duplicates: 0,
    errors: [...file.errors],
  };
  // 承办单位 in an export is a unit's name; the engine's hint is its id.
  const units = new Map<string, string>();
  for (const u of rowsOf<{ id: string; name: string }>(await db.execute(sql`select id, name from units`))) {
    units.set(u.name, u.id);
    units.set(u.id, u.id);
  }
  const tickets = file.tickets.map(({ row, ticket }) => {
    const t: Ticket = { ...ticket, ...(options.backfill ? { backfill: true } : {}) };
    if (t.unit !== undefined) t.unit = units.get(t.unit) ?? t.unit;
    return { row, ticket: t };
  });
  const receivedColumn = file.columns.receivedAt ?? canonical('receivedAt');
  for (let start = 0; start < tickets.length; start += MAX_TICKETS_PER_REQUEST) {
    const chunk = tickets.slice(start, start + MAX_TICKETS_PER_REQUEST);
    const results = await acceptTickets(
      db,
      chunk.map((c) => c.ticket),
      options.origin,
      options.now,
      options.policy ?? DEFAULT_TICKET_TIME_POLICY,
    );
    results.forEach((r, k) => {
      if (r.error) report.errors.push({ row: chunk[k]!.row, column: receivedColumn, reason: r.error.message });
      else if (r.duplicate) report.duplicates++;
      else {
        report.accepted++;
        if (r.history) report.history++;
      }
    });
  }
  report.errors.sort((a, b) => a.row - b.row);
  return report;
}
