/** CSV and XLSX of the figures and the drill-down, with Chinese headers, times in Asia/Shanghai. */
import ExcelJS from 'exceljs';
import {
  KIND_LABEL,
  LEVEL_LABEL,
  OUTCOME_LABEL,
  type RankedRow,
  type StatsItem,
  type StatsKind,
  type StatsLevel,
  type StatsRow,
} from './queries.ts';
import { hours, shanghaiTime } from './period.ts';

type Cell = string | number | null;

export const ROW_HEADERS = [
  '名称',
  '到期事项数',
  '按时',
  '超时回应',
  '超时未回应',
  '未到期',
  '其中告警已撤销',
  '按时回应率',
  '超时事项数',
  '超时合计（小时）',
  '最长超时（小时）',
  '超时中位数（小时）',
  '已回应事件数',
  '首次回应用时中位数（小时）',
  '首次回应用时P90（小时）',
];

const h = (ms: number | null): number | null => (ms === null ? null : Number(hours(ms)));

/** Rates as fractions (XLSX formats them as %); CSV writes the same numbers. */
export function rowCells(r: StatsRow): Cell[] {
  return [
    r.label,
    r.counted,
    r.onTime,
    r.late,
    r.breached,
    r.pending,
    r.retracted,
    r.onTimeRate === null ? null : Number(r.onTimeRate.toFixed(4)),
    r.overdue.count,
    h(r.overdue.totalMs),
    h(r.overdue.maxMs),
    h(r.overdue.medianMs),
    r.firstResponse.incidents,
    h(r.firstResponse.medianMs),
    h(r.firstResponse.p90Ms),
  ];
}

export const ITEM_HEADERS = [
  '类别',
  '编号',
  '标题',
  '时限类型',
  '级别',
  '责任单位',
  '起算时间',
  '截止时间',
  '回应时间',
  '结果',
  '超时（小时）',
  '告警已撤销',
];

export function itemCells(i: StatsItem): Cell[] {
  return [
    i.source === 'incident' ? '舆情事件' : '工作日时限事项',
    i.id,
    i.title,
    Object.hasOwn(KIND_LABEL, i.kind) ? KIND_LABEL[i.kind as StatsKind] : i.kind,
    i.source === 'duty' ? '' : LEVEL_LABEL[(i.level ?? 'ungraded') as StatsLevel],
    i.unit?.name ?? '未指定责任单位',
    shanghaiTime(i.startAt),
    shanghaiTime(i.dueAt),
    shanghaiTime(i.respondedAt),
    OUTCOME_LABEL[i.outcome],
    h(i.overdueMs),
    i.retracted ? '是' : '',
  ];
}

function csvField(v: Cell): string {
  if (v === null) return '';
  const s = String(v);
  // A leading = + - @ would be a formula in Excel/WPS (CSV injection from incident titles).
  const safe = /^[=+\-@\t\r]/.test(s) && typeof v === 'string' ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** UTF-8 with a BOM, CRLF: what Excel and WPS open as Chinese text without an import dialog. */
export function toCsv(headers: readonly string[], rows: readonly Cell[][]): string {
  return '\ufeff' + [headers, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

export interface WorkbookInput {
  title: string;
  generatedAt: string;
  totals: StatsRow;
  ranking: RankedRow[];
  byLevel: StatsRow[];
  byKind: StatsRow[];
  byMonth: StatsRow[];
  items: StatsItem[];
  itemsTotal: number;
}

export async function toXlsx(w: WorkbookInput): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  book.creator = '回应 Huiying';
  book.created = new Date(w.generatedAt);

  const sheet = (name: string, headers: string[], rows: Cell[][], percentColumn?: number) => {
    const s = book.addWorksheet(name, { views: [{ state: 'frozen', ySplit: 2 }] });
    s.addRow([w.title]).font = { bold: true, size: 14 };
    const head = s.addRow(headers);
    head.font = { bold: true };
    head.alignment = { wrapText: true, vertical: 'middle' };
    for (const r of rows) s.addRow(r);
    s.columns.forEach((c, i) => {
      c.width = i === 0 || headers[i] === '标题' ? 28 : 14;
    });
    if (percentColumn !== undefined) s.getColumn(percentColumn).numFmt = '0.0%';
    return s;
  };

  const rateCol = (offset: number) => ROW_HEADERS.indexOf('按时回应率') + 1 + offset;
  sheet('汇总', ROW_HEADERS, [rowCells(w.totals)], rateCol(0));
  sheet(
    '单位排名',
    ['排名', ...ROW_HEADERS],
    w.ranking.map((r) => [r.rank, ...rowCells(r)]),
    rateCol(1),
  );
  sheet('按级别', ROW_HEADERS, w.byLevel.map(rowCells), rateCol(0));
  sheet('按时限类型', ROW_HEADERS, w.byKind.map(rowCells), rateCol(0));
  sheet('按月趋势', ROW_HEADERS, w.byMonth.map(rowCells), rateCol(0));
  const detail = sheet('明细', ITEM_HEADERS, w.items.map(itemCells));
  if (w.itemsTotal > w.items.length) detail.addRow([`（仅列出前 ${w.items.length} 条，共 ${w.itemsTotal} 条；请缩小筛选范围）`]);

  return Buffer.from(await book.xlsx.writeBuffer());
}
