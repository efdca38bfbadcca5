/**
 * The leaders' daily digest (领导每日汇总), zh-CN, HTML and plain text: what is overdue now, what
 * became a 通报 candidate, which units are 约谈 candidates, what falls due in the next 24 hours.
 */
import { clockName, durationText, shanghaiTime } from './step-templates.ts';
import type { SummaryItem } from './summaries.ts';

/** A matter listed in the digest: the same item as in the weekly digest and the handover. */
export type DigestOverdue = SummaryItem;

export interface DigestInput {
  /** The Asia/Shanghai day the digest is for, 'YYYY-MM-DD'. */
  day: string;
  recipientName: string;
  now: number;
  overdue: DigestOverdue[];
  /** Matters whose leaders' step (通报) fired in the last 24 hours. */
  reportCandidates: DigestOverdue[];
  /** Units at or over the 约谈 threshold in the current period. */
  interview: { unitName: string; period: string; breaches: number }[];
  /** Clocks still running that fall due in the next 24 hours. */
  dueSoon: number;
  dashboardUrl: string;
}

const MAX_LISTED = 20;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const itemLine = (o: DigestOverdue, now: number) =>
  `${o.title}（${o.unitName ?? '待交办'}，${clockName(o.clock)}，${shanghaiTime(o.dueAt)} 到期，已超时 ${durationText(now - o.dueAt)}）`;

export function renderLeaderDigest(i: DigestInput): { subject: string; text: string; html: string } {
  const subject = `【每日汇总】${i.day} 政务舆情回应时效：超时 ${i.overdue.length} 项，通报候选 ${i.reportCandidates.length} 项`;
  const sections: { title: string; lines: string[] }[] = [
    {
      title: `当前超时未办结（${i.overdue.length}项）`,
      lines: [
        ...i.overdue.slice(0, MAX_LISTED).map((o) => itemLine(o, i.now)),
        ...(i.overdue.length > MAX_LISTED ? [`……另有 ${i.overdue.length - MAX_LISTED} 项，详见看板`] : []),
      ],
    },
    {
      title: `近24小时列入通报候选（${i.reportCandidates.length}项）`,
      lines: i.reportCandidates.slice(0, MAX_LISTED).map((o) => itemLine(o, i.now)),
    },
    {
      title: `约谈候选单位（${i.interview.length}个）`,
      lines: i.interview.map((u) => `${u.unitName}：${u.period} 超时 ${u.breaches} 次`),
    },
  ];
  const root = i.dashboardUrl.endsWith('/') ? i.dashboardUrl : `${i.dashboardUrl}/`;
  const text = [
    `${i.recipientName}：`,
    '',
    `截至 ${shanghaiTime(i.now)}（北京时间），政务舆情回应时效情况如下；未来24小时内还有 ${i.dueSoon} 个时限到期。`,
    ...sections.flatMap((s) => ['', `${s.title}：`, ...(s.lines.length ? s.lines.map((l) => `  · ${l}`) : ['  （无）'])]),
    '',
    `回应时效统计：${root}#/stats`,
    '',
    '—— 回应 · 政务舆情回应时效监督系统（自动发送，请勿直接回复）',
  ].join('\n');
  const html = [
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body style="font-family:sans-serif;line-height:1.6">',
    `<p>${escapeHtml(i.recipientName)}：</p>`,
    `<p>截至 ${escapeHtml(shanghaiTime(i.now))}（北京时间），政务舆情回应时效情况如下；未来24小时内还有 ${i.dueSoon} 个时限到期。</p>`,
    ...sections.flatMap((s) => [
      `<h3>${escapeHtml(s.title)}</h3>`,
      s.lines.length ? `<ul>${s.lines.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>` : '<p>（无）</p>',
    ]),
    `<p><a href="${escapeHtml(`${root}#/stats`)}">回应时效统计</a></p>`,
    '<p style="color:#888;font-size:12px">—— 回应 · 政务舆情回应时效监督系统（自动发送，请勿直接回复）</p>',
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}
