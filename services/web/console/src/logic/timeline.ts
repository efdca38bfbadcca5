/**
 * The incident page's single timeline: every signal, clock event, response, alert, mail and
 * audit entry of one incident, oldest first. Pure, so the merge and wording are unit-tested.
 */
import type { Timeline, TimelineAudit, TimelineSignal } from '../api/identity.ts';
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

/** The audit actions the server writes about an incident and the records on it (incident-writer.ts and the routes). */
const AUDIT_LABEL: Record<string, string> = {
  'incident.created': '生成事件',
  'incident.updated': '更新事件',
  'incident.merged': '合并事件',
  'incident.split': '拆分事件',
  'incident.quarantined': '事件数据异常，暂停计时',
  'response.recorded': '登记回应',
  'response_candidate.accepted': '采纳候选回应',
  'response_candidate.rejected': '驳回候选回应',
  'signal.attached': '补充线索',
  'signal.accepted': '接收线索',
  'signal.opened': '线索：新建事件',
  'signal.joined': '线索：归并入本事件',
  'signal.promoted': '人工立案',
  'signal.source_added': '线索：新增来源',
  'alert.acknowledged': '确认告警',
  'clock.started': '时限起算',
  'clock.rescheduled': '时限起点调整',
  'clock.warning': '时限预警',
  'clock.met': '时限已回应',
  'clock.breached': '时限超时',
  'clock.breach_retracted': '撤销超时',
  'clock.cancelled': '时限取消',
  'clock.waived': '时限豁免',
  'clock.nonqualifying_response': '回应不计为权威回应',
  'clock.escalated': '逐级提醒',
};

export function auditLabel(action: string): string {
  return Object.hasOwn(AUDIT_LABEL, action) ? AUDIT_LABEL[action]! : action;
}

/** 较大（III级）: the level as the emergency-response documents name it. */
const LEVEL_NAME: Record<string, string> = { I: '特别重大（I级）', II: '重大（II级）', III: '较大（III级）', IV: '一般（IV级）' };

type Command = TimelineAudit['commands'][number];

/**
 * What a duty officer's command did, in words: 定级 and 交办 (a grading may assign too),
 * 登记发生时间, 排除. Signals, responses and timer wakes have entries of their own.
 */
export function commandLabel(c: Command): string | null {
  const unit = c.unit ? c.unit.name : null;
  switch (c.type) {
    case 'grade': {
      const level = c.level === null ? '' : Object.hasOwn(LEVEL_NAME, c.level) ? LEVEL_NAME[c.level]! : c.level;
      return `定级：${level}${unit ? `，交办 ${unit}` : ''}`;
    }
    case 'assign':
      return `交办：${unit ?? '—'}`;
    case 'occurred':
      return '登记发生时间';
    case 'dismiss':
      return '排除（结案）';
    default:
      return null;
  }
}

/** One audit row in words, for the 审计记录 table: the action, its clock, and the command behind it. */
export function auditDescription(e: TimelineAudit): string {
  const why = (e.commands ?? []).map(commandLabel).filter((x): x is string => x !== null);
  if (why.length > 0 && e.action === 'incident.updated') return why.join('；');
  const clock = e.clock ? ` · ${clockLabel(e.clock)}` : '';
  return `${auditLabel(e.action)}${clock}${why.length > 0 ? `（${why.join('；')}）` : ''}`;
}

const ACTOR_LABEL: Record<string, string> = {
  engine: '系统',
  timer: '系统（计时）',
  'signal:hotline': '12345 工单',
  'signal:feed': '信息源',
};

/** `user:duty` → duty; the engine's own actors in words. */
function actorLabel(actor: string): string {
  if (Object.hasOwn(ACTOR_LABEL, actor)) return ACTOR_LABEL[actor]!;
  return actor.startsWith('user:') ? actor.slice('user:'.length) : actor;
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
  // One command is behind several audit rows (a grading cancels the 48 h clock and starts two):
  // it is told once, then each row of the trail with its clock.
  const told = new Set<string>();
  for (const e of t.audit ?? []) {
    const commands = e.commands ?? [];
    let explained = false;
    for (const c of commands) {
      const title = commandLabel(c);
      if (title === null) continue;
      explained = true;
      const key = `${e.at}|${e.actor}|${title}`;
      if (told.has(key)) continue;
      told.add(key);
      out.push({ at: ms(e.at), kind: 'audit', title, detail: actorLabel(e.actor), tone: c.type === 'dismiss' ? 'info' : 'primary' });
    }
    // The row a command left with no clock change only repeats the command.
    if (explained && e.action === 'incident.updated') continue;
    const clock = e.clock ? ` · ${clockLabel(e.clock)}` : '';
    out.push({ at: ms(e.at), kind: 'audit', title: `操作：${auditLabel(e.action)}${clock}`, detail: actorLabel(e.actor), tone: 'primary' });
  }
  return out.filter((e) => Number.isFinite(e.at)).sort((a, b) => a.at - b.at);
}
