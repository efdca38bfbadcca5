/**
 * The incident page's single timeline: every signal, clock event, response, alert, mail and
 * audit entry of one incident, oldest first. Pure, so the merge and wording are unit-tested.
 */
import type { Timeline, TimelineSignal } from '../api/identity.ts';
import { alertKindLabel, clockLabel, formatDuration, responseKindLabel } from './logic.ts';
import type { AlertKind, ResponseKind } from '../api/types.ts';

export type EntryKind = 'signal' | 'clock' | 'response' | 'alert' | 'mail' | 'audit';

export interface TimelineEntry {
  at: number;
  kind: EntryKind;
  title: string;
  detail?: string;
  url?: string | null;
  /** Element Plus timeline colour type. */
  tone: 'primary' | 'success' | 'warning' | 'danger' | 'info';
}

const ms = (iso: string | null | undefined): number => (iso ? Date.parse(iso) : Number.NaN);

const SOURCE_LABEL: Record<string, string> = {
  feed: '信息源',
  rss: '信息源',
  hotline: '12345 热线',
  ticket: '12345 热线',
  manual: '人工补充',
};

export function sourceLabel(source: string): string {
  return Object.hasOwn(SOURCE_LABEL, source) ? SOURCE_LABEL[source]! : source;
}

const AUDIT_LABEL: Record<string, string> = {
  'incident.graded': '研判定级',
  'incident.assigned': '指派责任单位',
  'incident.dismissed': '排除',
  'incident.occurred': '登记发生时间',
  'response.recorded': '登记回应',
  'signal.attached': '补充线索',
  'alert.acknowledged': '确认告警',
  'signal.accepted': '接收线索',
  'signal.opened': '线索：新建事件',
  'signal.joined': '线索：归并入本事件',
  'signal.promoted': '人工立案',
  'incident.merged': '合并事件',
  'incident.split': '拆分事件',
  'incident.created': '生成事件',
  'clock.started': '时限起算',
  'clock.met': '时限已回应',
  'clock.breached': '时限超时',
  'clock.warned': '时限预警',
  'clock.cancelled': '时限取消',
};

export function auditLabel(action: string): string {
  return Object.hasOwn(AUDIT_LABEL, action) ? AUDIT_LABEL[action]! : action;
}

function safeResponseKind(kind: string): string {
  return kind === 'release' || kind === 'press_conference' || kind === 'reply' ? responseKindLabel(kind as ResponseKind) : kind;
}

const JOIN_REASON: Record<string, string> = {
  link: '链接相同',
  ticket_matter: '同类别同区域工单（集中反映）',
  similar_text: '文本相似',
};

const score = (x: number | null | undefined) => (typeof x === 'number' ? `，相似度 ${x.toFixed(2)}` : '');

/** 归并依据: why a signal belongs to its incident (the engine's decision recorded on the signal), in words. */
export function groupingLabel(g: TimelineSignal['grouping'] | undefined): string {
  if (!g || g.decision === null) return '—';
  const rule = g.ruleName ? `命中监测方案「${g.ruleName}」` : g.ruleId ? `命中监测方案 ${g.ruleId}` : '';
  const via = g.via ? `（与线索 ${g.via}）` : '';
  switch (g.decision) {
    case 'opened':
      if (g.reason === 'before_grouping') return '新建事件（归并规则启用前）';
      return `新建事件：${rule || '命中监测方案'}${g.via ? `；最接近的线索 ${g.via}${score(g.score)}，未达归并阈值` : ''}`;
    case 'joined':
      return `归并：${JOIN_REASON[g.reason ?? ''] ?? g.reason ?? ''}${score(g.reason === 'link' ? null : g.score)}${via}${rule ? `；${rule}` : ''}`;
    case 'promoted': {
      const note = g.reason?.startsWith('manual: ') ? `：${g.reason.slice('manual: '.length)}` : '';
      return `人工立案${note}`;
    }
    case 'attached':
      return '人工补充';
    case 'merged':
      return `合并自事件 ${g.via ?? ''}`.trim();
    case 'split':
      return `拆分自事件 ${g.via ?? ''}`.trim();
    default:
      return g.decision;
  }
}

export function buildTimeline(t: Timeline): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  for (const s of t.signals ?? []) {
    const why = groupingLabel(s.grouping);
    out.push({
      at: ms(s.publishedAt ?? s.receivedAt),
      kind: 'signal',
      title: `线索（${sourceLabel(s.source)}）`,
      detail: why === '—' ? (s.title ?? '') : `${s.title ?? ''}\n${why}`,
      url: s.url,
      tone: 'info',
    });
  }
  for (const c of t.incident.clocks ?? []) {
    out.push({ at: ms(c.startAt), kind: 'clock', title: `起算：${clockLabel(c.kind)}`, tone: 'primary' });
    if (c.respondedAt !== null) {
      const late = c.late === true;
      const by = ms(c.respondedAt) - ms(c.dueAt);
      out.push({
        at: ms(c.respondedAt),
        kind: 'clock',
        title: `${late ? '逾期回应' : '按时回应'}：${clockLabel(c.kind)}`,
        ...(late ? { detail: `超时 ${formatDuration(Math.floor(by / 1000))}` } : {}),
        tone: late ? 'warning' : 'success',
      });
    }
    if (c.state === 'cancelled' || c.state === 'waived') {
      out.push({
        at: ms(c.dueAt),
        kind: 'clock',
        title: `${c.state === 'cancelled' ? '取消' : '豁免'}：${clockLabel(c.kind)}`,
        tone: 'info',
      });
    }
  }
  for (const r of t.responses ?? []) {
    const qualified = r.qualifies ?? r.original;
    out.push({
      at: ms(r.publishedAt),
      kind: 'response',
      title: `${r.original ? '原创' : '转载'}回应：${safeResponseKind(r.kind)}${qualified ? '' : '（不计为权威回应）'}`,
      detail: [r.channel, r.recordedBy ? `登记人 ${r.recordedBy}` : null].filter(Boolean).join(' · '),
      url: r.url,
      tone: qualified ? 'success' : 'warning',
    });
  }
  for (const a of t.alerts ?? []) {
    out.push({
      at: ms(a.at),
      kind: 'alert',
      title: `告警：${alertKindLabel({ kind: a.kind as AlertKind, elapsed: a.elapsed })}${a.clock ? ` · ${clockLabel(a.clock)}` : ''}`,
      detail: a.acknowledgedAt ? `已确认${a.acknowledgedBy ? `（${a.acknowledgedBy}）` : ''}` : '未确认',
      tone: a.kind === 'breached' ? 'danger' : 'warning',
    });
  }
  for (const m of t.mails ?? []) {
    out.push({
      at: ms(m.sentAt ?? m.createdAt),
      kind: 'mail',
      title: `督办邮件：${m.subject}`,
      detail: `${m.to} · ${m.status === 'sent' ? '已发送' : m.status}`,
      tone: 'info',
    });
  }
  for (const e of t.audit ?? []) {
    out.push({ at: ms(e.at), kind: 'audit', title: `操作：${auditLabel(e.action)}`, detail: e.actor, tone: 'primary' });
  }
  return out.filter((e) => Number.isFinite(e.at)).sort((a, b) => a.at - b.at);
}
