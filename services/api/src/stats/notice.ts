/**
 * The 通报 draft for a period as DOCX, laid out as an official document (党政机关公文格式,
 * GB/T 9704-2012): A4, margins 37/35/28/26 mm, title in 2号小标宋 centred, 主送 flush left,
 * body in 3号仿宋 with a two-character first-line indent and 28 pt fixed line spacing, 一级标题
 * in 黑体, the 附件 note, 落款 and the date in Arabic numerals on the right, page numbers
 * "— 1 —" in the footer, then the 附件 on a new page with its table. Fonts are the names WPS
 * and Word on a government PC carry; elsewhere they fall back. Meant to be edited before issue.
 */
import {
  AlignmentType,
  BorderStyle,
  Document,
  Footer,
  LineRuleType,
  Packer,
  PageBreak,
  PageNumber,
  Paragraph,
  Table,
  TableCell,
  TableRow,
  TextRun,
  VerticalAlignTable,
  WidthType,
} from 'docx';
import { KIND_LABEL, OUTCOME_LABEL, type StatsItem, type StatsKind, type StatsRow } from './queries.ts';
import { chineseDate, durationCn, percent, shanghaiTime } from './period.ts';

const mm = (v: number) => Math.round((v * 1440) / 25.4);
const FANGSONG = '仿宋_GB2312';
const HEITI = '黑体';
const XIAOBIAOSONG = '方正小标宋简体';
const SIZE_2 = 44; // 2号 22 pt, in half-points
const SIZE_3 = 32; // 3号 16 pt
const SIZE_4 = 28; // 4号 14 pt
const SIZE_TABLE = 24; // 小4号 12 pt
const LINE = { line: 560, lineRule: LineRuleType.EXACT }; // 28 pt
const INDENT_2CHARS = { firstLine: 640 }; // 2 × 16 pt

const font = (name: string) => ({
  ascii: name === FANGSONG ? 'Times New Roman' : name,
  hAnsi: name === FANGSONG ? 'Times New Roman' : name,
  eastAsia: name,
  cs: name,
});
const run = (text: string, name = FANGSONG, size = SIZE_3, bold = false) => new TextRun({ text, font: font(name), size, bold });
const body = (text: string) =>
  new Paragraph({ children: [run(text)], indent: INDENT_2CHARS, spacing: LINE, alignment: AlignmentType.JUSTIFIED });
const heading = (text: string) => new Paragraph({ children: [run(text, HEITI)], indent: INDENT_2CHARS, spacing: LINE });

export interface NoticeInput {
  periodLabel: string;
  /** 主送机关, e.g. 各区人民政府，市政府各部门 */
  recipients: string;
  /** 发文机关 in the 落款 */
  issuer: string;
  issuedAt: number;
  totals: StatsRow;
  incidentTotals: StatsRow;
  dutyTotals: StatsRow;
  /** Units with late or breached deadlines, worst first. */
  units: StatsRow[];
  /** The late and breached deadlines, grouped by unit in the order of `units`. */
  items: StatsItem[];
  /**
   * 通报 candidates of the period (issue 10 step 4: still without a response N hours after the
   * breach, so the leaders were told): named in the text and marked in the 附件.
   */
  reports?: {
    source: 'incident' | 'duty';
    id: string;
    seq: number;
    title: string;
    unitName: string | null;
    overdueMs: number;
    state: 'breached' | 'met';
  }[];
}

export function noticeTitle(periodLabel: string): string {
  return `关于${periodLabel}政务舆情回应超时情况的通报`;
}

export interface NoticeParagraph {
  heading: boolean;
  text: string;
}

export function noticeText(n: NoticeInput): { title: string; main: string; paragraphs: NoticeParagraph[]; annexTitle: string } {
  const t = n.totals;
  const fr = t.firstResponse;
  const annexTitle = `${n.periodLabel}政务舆情回应超时事项清单`;
  const paragraphs: (string | { heading: string })[] = [];
  paragraphs.push(
    `为严格执行国办发〔2016〕61号、国办发〔2016〕80号文件关于特别重大、重大突发事件最迟5小时内发布权威信息、24小时内举行新闻发布会，其他政务舆情48小时内予以权威回应的时限要求，落实通报批评和约谈制度，确保回应不超时、内容不敷衍，现将${n.periodLabel}政务舆情回应时效情况通报如下。`,
  );
  paragraphs.push({ heading: '一、总体情况' });
  let overall = `${n.periodLabel}，共有${t.counted}项回应时限到期，其中舆情事件回应时限${n.incidentTotals.counted}项、工作日时限公开事项${n.dutyTotals.counted}项。按时回应${t.onTime}项，超时回应${t.late}项，超时未回应${t.breached}项，按时回应率为${percent(t.onTimeRate)}。`;
  if (fr.incidents > 0)
    overall += `已作出权威回应的舆情事件${fr.incidents}件，首次权威回应用时中位数为${durationCn(fr.medianMs)}，90%的事件在${durationCn(fr.p90Ms)}内作出首次回应。`;
  paragraphs.push(overall);
  paragraphs.push({ heading: '二、超时单位情况' });
  if (n.units.length === 0) {
    paragraphs.push('本期各责任单位均在时限内作出回应，未发生超时情况。');
  } else {
    const list = n.units
      .map((u) => {
        const parts = [u.late > 0 ? `超时回应${u.late}项` : '', u.breached > 0 ? `超时未回应${u.breached}项` : ''].filter(Boolean);
        return `${u.label}（${parts.join('、')}，最长超时${durationCn(u.overdue.maxMs)}）`;
      })
      .join('；');
    paragraphs.push(`本期共有${n.units.length}个单位存在超时情况：${list}。具体事项见附件。`);
  }
  const reports = n.reports ?? [];
  if (reports.length > 0) {
    const list = reports
      .map(
        (r) =>
          `${r.unitName ?? '未指定责任单位'}“${r.title}”（${r.state === 'met' ? `超时${durationCn(r.overdueMs)}后回应` : `已超时${durationCn(r.overdueMs)}，仍未回应`}）`,
      )
      .join('；');
    paragraphs.push(`其中，超时后经催办仍未在规定时间内回应、已报请领导督办的事项${reports.length}项，列为通报事项：${list}。`);
  }
  paragraphs.push({ heading: '三、有关要求' });
  paragraphs.push(
    '请上述单位认真查找超时原因，切实落实政务舆情回应主体责任，于5个工作日内将整改情况书面报送' +
      `${n.issuer}。对仍未回应的事项，责任单位要立即发布权威信息、回应社会关切，不得以转载工作动态、新闻报道、评论文章等充当回应内容。对多次超时、回应不力的单位，将依照有关规定予以通报批评或约谈。`,
  );
  return {
    title: noticeTitle(n.periodLabel),
    main: `${n.recipients}：`,
    paragraphs: paragraphs.map((p) => (typeof p === 'string' ? { heading: false, text: p } : { heading: true, text: p.heading })),
    annexTitle,
  };
}

function cell(text: string, width: number, bold = false, align: (typeof AlignmentType)[keyof typeof AlignmentType] = AlignmentType.CENTER) {
  return new TableCell({
    width: { size: width, type: WidthType.DXA },
    verticalAlign: VerticalAlignTable.CENTER,
    children: [new Paragraph({ alignment: align, children: [run(text, bold ? HEITI : FANGSONG, SIZE_TABLE)] })],
  });
}

const ANNEX_COLUMNS: [string, number][] = [
  ['序号', 600],
  ['责任单位', 1500],
  ['事项名称', 2300],
  ['时限类型', 1300],
  ['截止时间', 1200],
  ['回应时间', 1200],
  ['超时时长', 900],
  ['状态', 842],
];

export async function noticeDocx(n: NoticeInput): Promise<Buffer> {
  const text = noticeText(n);
  const line = { top: { style: BorderStyle.SINGLE, size: 4, color: '000000' } };
  const header = new TableRow({ tableHeader: true, children: ANNEX_COLUMNS.map(([name, w]) => cell(name, w, true)) });
  const reported = new Set((n.reports ?? []).map((r) => `${r.source}|${r.id}|${r.seq}`));
  const rows = n.items.map(
    (i, index) =>
      new TableRow({
        cantSplit: true,
        children: [
          String(index + 1),
          i.unit?.name ?? '未指定责任单位',
          i.title,
          Object.hasOwn(KIND_LABEL, i.kind) ? KIND_LABEL[i.kind as StatsKind] : i.kind,
          shanghaiTime(i.dueAt),
          i.respondedAt === null ? '未回应' : shanghaiTime(i.respondedAt),
          durationCn(i.overdueMs),
          reported.has(`${i.source}|${i.id}|${i.seq}`) ? `${OUTCOME_LABEL[i.outcome]}（通报）` : OUTCOME_LABEL[i.outcome],
        ].map((v, c) => cell(v, ANNEX_COLUMNS[c]![1], false, c === 2 ? AlignmentType.LEFT : AlignmentType.CENTER)),
      }),
  );

  const doc = new Document({
    creator: '回应 Huiying',
    title: text.title,
    styles: { default: { document: { run: { font: font(FANGSONG), size: SIZE_3 } } } },
    sections: [
      {
        properties: {
          page: {
            size: { width: mm(210), height: mm(297) },
            margin: { top: mm(37), bottom: mm(35), left: mm(28), right: mm(26), footer: mm(28) },
          },
        },
        footers: {
          default: new Footer({
            children: [
              new Paragraph({
                alignment: AlignmentType.CENTER,
                children: [new TextRun({ children: ['— ', PageNumber.CURRENT, ' —'], font: font('宋体'), size: SIZE_4 })],
              }),
            ],
          }),
        },
        children: [
          new Paragraph({
            alignment: AlignmentType.CENTER,
            spacing: { ...LINE, after: 560 },
            children: [run(text.title, XIAOBIAOSONG, SIZE_2)],
          }),
          new Paragraph({ spacing: LINE, children: [run(text.main)] }),
          ...text.paragraphs.map((p) => (p.heading ? heading(p.text) : body(p.text))),
          new Paragraph({ spacing: LINE, children: [] }),
          new Paragraph({ indent: INDENT_2CHARS, spacing: LINE, children: [run(`附件：${text.annexTitle}`)] }),
          new Paragraph({ spacing: LINE, children: [] }),
          new Paragraph({ spacing: LINE, children: [] }),
          new Paragraph({ alignment: AlignmentType.RIGHT, indent: { right: 1280 }, spacing: LINE, children: [run(n.issuer)] }),
          new Paragraph({
            alignment: AlignmentType.RIGHT,
            indent: { right: 1280 },
            spacing: LINE,
            children: [run(chineseDate(n.issuedAt))],
          }),
          new Paragraph({ children: [new PageBreak()] }),
          new Paragraph({ spacing: LINE, children: [run('附件', HEITI)] }),
          new Paragraph({
            alignment: AlignmentType.CENTER,
            spacing: { ...LINE, before: 280, after: 280 },
            children: [run(text.annexTitle, XIAOBIAOSONG, SIZE_2 - 8)],
          }),
          n.items.length === 0
            ? new Paragraph({ alignment: AlignmentType.CENTER, children: [run('本期无超时事项。')] })
            : new Table({
                width: { size: 10042, type: WidthType.DXA },
                columnWidths: ANNEX_COLUMNS.map(([, w]) => w),
                rows: [header, ...rows],
              }),
          new Paragraph({
            border: line,
            spacing: { before: 280 },
            children: [
              run(
                `注：截止时间、回应时间均为北京时间；“超时未回应”的超时时长计至${shanghaiTime(new Date(n.issuedAt))}。`,
                FANGSONG,
                SIZE_TABLE,
              ),
            ],
          }),
        ],
      },
    ],
  });
  return Packer.toBuffer(doc);
}
