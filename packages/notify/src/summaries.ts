/**
 * Periodic summaries beside the leaders' daily digest, zh-CN, HTML and plain text:
 * the weekly digest (每周汇总) for leaders and the handover summary (交接班) for duty officers.
 */
import { clockName, durationText, shanghaiTime } from './step-templates.ts';

export interface SummaryItem {
  type: 'incident' | 'obligation';
  id: string;
  title: string;
  clock: string;
  unitName: string | null;
  dueAt: number;
}

interface Section {
  title: string;
  lines: string[];
}

const MAX_LISTED = 30;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const rootOf = (url: string) => (url.endsWith('/') ? url : `${url}/`);

function listed(items: readonly SummaryItem[], line: (o: SummaryItem) => string): string[] {
  return [
    ...items.slice(0, MAX_LISTED).map(line),
    ...(items.length > MAX_LISTED ? [`……另有 ${items.length - MAX_LISTED} 项，详见看板`] : []),
  ];
}

function render(recipientName: string, intro: string, sections: Section[], link: { label: string; href: string }) {
  const footer = '—— 回应 · 政务舆情回应时效监督系统（自动发送，请勿直接回复）';
  const text = [
    `${recipientName}：`,
    '',
    intro,
    ...sections.flatMap((s) => ['', `${s.title}：`, ...(s.lines.length ? s.lines.map((l) => `  · ${l}`) : ['  （无）'])]),
    '',
    `${link.label}：${link.href}`,
    '',
    footer,
  ].join('\n');
  const html = [
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body style="font-family:sans-serif;line-height:1.6">',
    `<p>${escapeHtml(recipientName)}：</p>`,
    `<p>${escapeHtml(intro)}</p>`,
    ...sections.flatMap((s) => [
      `<h3>${escapeHtml(s.title)}</h3>`,
      s.lines.length ? `<ul>${s.lines.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>` : '<p>（无）</p>',
    ]),
    `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></p>`,
    `<p style="color:#888;font-size:12px">${footer}</p>`,
    '</body></html>',
  ].join('');
  return { text, html };
}

export interface HandoverInput {
  recipientName: string;
  /** The shift change instant. */
  at: number;
  /** Whether this recipient is taking over (接班) or handing over (交班). */
  incoming: boolean;
  /** Names of the officers on shift after the change (empty: nobody). */
  incomingNames: string[];
  outgoingNames: string[];
  /** End of the incoming shift: "due within the next shift" means due in (at, nextShiftEnd]. */
  nextShiftEnd: number;
  /** Clocks and duties already past due and not met, oldest due first. */
  breached: SummaryItem[];
  /** Clocks and duties running that fall due within the next shift, soonest first. */
  dueNext: SummaryItem[];
  /** Unacknowledged alerts on the duty board (breaches, non-qualifying responses, delivery failures …). */
  openAlerts: number;
  dashboardUrl: string;
}

/** 交接班: what is open and due at a shift change — breached first, then what falls due in the next shift. */
export function renderHandover(i: HandoverInput): { subject: string; text: string; html: string } {
  const when = shanghaiTime(i.at);
  const subject = `【交接班】${when} 超时 ${i.breached.length} 项，本班次内到期 ${i.dueNext.length} 项`;
  const names = (n: string[]) => (n.length ? n.join('、') : '（无人在班）');
  const intro =
    `${when}（北京时间）交接班：交班 ${names(i.outgoingNames)}，接班 ${names(i.incomingNames)}。` +
    `${i.incoming ? '请接班后优先处理已超时事项。' : '以下事项移交下一班次。'}` +
    `值班看板上未确认告警 ${i.openAlerts} 条。`;
  const sections: Section[] = [
    {
      title: `已超时未办结（${i.breached.length}项）`,
      lines: listed(
        i.breached,
        (o) =>
          `${o.title}（${o.unitName ?? '待交办'}，${clockName(o.clock)}，${shanghaiTime(o.dueAt)} 到期，已超时 ${durationText(i.at - o.dueAt)}）`,
      ),
    },
    {
      title: `本班次内到期（至 ${shanghaiTime(i.nextShiftEnd)}，${i.dueNext.length}项）`,
      lines: listed(
        i.dueNext,
        (o) =>
          `${o.title}（${o.unitName ?? '待交办'}，${clockName(o.clock)}，${shanghaiTime(o.dueAt)} 到期，剩余 ${durationText(o.dueAt - i.at)}）`,
      ),
    },
  ];
  return { subject, ...render(i.recipientName, intro, sections, { label: '值班看板', href: `${rootOf(i.dashboardUrl)}#/board` }) };
}

export interface WeeklyDigestInput {
  /** Asia/Shanghai days covered, 'YYYY-MM-DD', inclusive. */
  from: string;
  to: string;
  recipientName: string;
  now: number;
  /** Clocks (and duties) that fell due in the week, and how many of them were met on time. */
  dueInWeek: number;
  metOnTime: number;
  /** Breaches in the week per unit (the unit responsible when it happened), most first. */
  breachesByUnit: { unitName: string; breaches: number }[];
  /** Matters overdue now. */
  overdue: SummaryItem[];
  interview: { unitName: string; period: string; breaches: number }[];
  dashboardUrl: string;
}

/** 每周汇总 for leaders: the week's on-time rate, breaches per unit, what is still overdue, 约谈 candidates. */
export function renderWeeklyDigest(i: WeeklyDigestInput): { subject: string; text: string; html: string } {
  const breaches = i.breachesByUnit.reduce((n, u) => n + u.breaches, 0);
  const rate = i.dueInWeek === 0 ? '—' : `${((100 * i.metOnTime) / i.dueInWeek).toFixed(1)}%`;
  const subject = `【每周汇总】${i.from} 至 ${i.to} 政务舆情回应时效：按时率 ${rate}，超时 ${breaches} 次`;
  const intro =
    `${i.from} 至 ${i.to}，到期时限 ${i.dueInWeek} 个，按时回应 ${i.metOnTime} 个（按时率 ${rate}），超时 ${breaches} 次；` +
    `截至 ${shanghaiTime(i.now)}（北京时间）仍超时未办结 ${i.overdue.length} 项。`;
  const sections: Section[] = [
    { title: `本周超时单位（${i.breachesByUnit.length}个）`, lines: i.breachesByUnit.map((u) => `${u.unitName}：超时 ${u.breaches} 次`) },
    {
      title: `当前超时未办结（${i.overdue.length}项）`,
      lines: listed(
        i.overdue,
        (o) => `${o.title}（${o.unitName ?? '待交办'}，${clockName(o.clock)}，已超时 ${durationText(i.now - o.dueAt)}）`,
      ),
    },
    { title: `约谈候选单位（${i.interview.length}个）`, lines: i.interview.map((u) => `${u.unitName}：${u.period} 超时 ${u.breaches} 次`) },
  ];
  return { subject, ...render(i.recipientName, intro, sections, { label: '回应时效统计', href: `${rootOf(i.dashboardUrl)}#/stats` }) };
}
