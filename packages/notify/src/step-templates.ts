/**
 * zh-CN messages for the ladder's steps, HTML and plain text. Spans come from the clock's own
 * snapshot (a rule pack may make the release clock 3 h), never from a label: the label names
 * the duty, the span is printed beside it.
 */
export type StepKind = 'notice' | 'warning' | 'urge' | 'report';

/** One clock as the message shows it; `spanMs` for natural-hour clocks, `workingDays` for duties. */
export interface ClockFacts {
  kind: string;
  startAt: number;
  dueAt: number;
  spanMs?: number;
  workingDays?: number;
  state?: string;
}

export interface StepMessageInput {
  step: StepKind;
  /** 舆情事件 or 工作日时限事项. */
  subject: { type: 'incident' | 'obligation'; id: string; title: string; level?: string | null };
  /** Who the message addresses (the unit, its supervising office, the leaders). */
  recipientName: string;
  /** The responsible unit (责任单位), named in copies to others. */
  unitName: string;
  /** The clock the step is about; for a notice, the first of `clocks`. */
  clock: ClockFacts;
  /** For a notice: every clock of the incident, each with its due. */
  clocks?: ClockFacts[];
  /** For a warning: the fraction of the span elapsed (0.5, 0.8). */
  elapsed?: number;
  now: number;
  /** The dashboard's base URL. */
  dashboardUrl: string;
}

const CLOCK_NAME: Record<string, string> = {
  response: '权威回应',
  release: '权威信息发布',
  press_conference: '新闻发布会',
  policy_interpretation: '政策解读材料发布',
  service_change: '服务事项变更公开',
  proposal_reply: '建议提案办理复文公开',
  penalty_disclosure: '抽查及行政处罚结果公开',
  disclosure_request: '依申请公开答复',
};

const LEVEL_NAME: Record<string, string> = { I: '特别重大（I级）', II: '重大（II级）', III: '较大（III级）', IV: '一般（IV级）' };

export const clockName = (kind: string): string => CLOCK_NAME[kind] ?? kind;

/** "5小时", "3.5小时", "30分钟", "3个工作日". */
export function spanText(c: ClockFacts): string {
  if (c.workingDays !== undefined) return `${c.workingDays}个工作日`;
  const ms = c.spanMs ?? c.dueAt - c.startAt;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}小时`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)}分钟`;
  return `${Math.round((ms / 3_600_000) * 10) / 10}小时`;
}

/** Made once: building an Intl formatter costs far more than formatting with it (the engine renders one per ladder step). */
const SHANGHAI = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});

/** Asia/Shanghai wall time, e.g. "2026-03-02 13:00". */
export function shanghaiTime(at: number): string {
  const parts = SHANGHAI.formatToParts(new Date(at));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`;
}

/** "2天3小时", "1小时5分钟", "不足1分钟". */
export function durationText(ms: number): string {
  const minutes = Math.floor(Math.abs(ms) / 60_000);
  if (minutes === 0) return '不足1分钟';
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return [d ? `${d}天` : '', h ? `${h}小时` : '', m && !d ? `${m}分钟` : ''].join('') || `${d}天`;
}

/** "剩余 1小时5分钟" before the due, "已超时 2小时" after it. */
export function leftOrOverdue(c: ClockFacts, now: number): string {
  return now < c.dueAt ? `剩余 ${durationText(c.dueAt - now)}` : `已超时 ${durationText(now - c.dueAt)}`;
}

export function deepLink(base: string, s: StepMessageInput['subject']): string {
  const root = base.endsWith('/') ? base : `${base}/`;
  return `${root}#/${s.type === 'incident' ? 'incidents' : 'duties'}/${encodeURIComponent(s.id)}`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const clockLine = (c: ClockFacts, now: number) =>
  `${clockName(c.kind)}（时限${spanText(c)}）：${shanghaiTime(c.dueAt)} 前（北京时间），${leftOrOverdue(c, now)}`;

/** The message for one ladder step to one recipient. */
export function renderStepMessage(i: StepMessageInput): { subject: string; text: string; html: string } {
  const what = i.subject.type === 'incident' ? '舆情事件' : '事项';
  const name = clockName(i.clock.kind);
  const title = i.subject.title;
  const link = deepLink(i.dashboardUrl, i.subject);
  const clocks = i.step === 'notice' && i.clocks?.length ? i.clocks : [i.clock];
  let subject: string;
  let lead: string;
  let ask: string;
  const howToRespond =
    i.subject.type === 'incident'
      ? '请通过本单位权威发布渠道作出回应，并在系统中登记回应（不得以转载工作动态、新闻报道、评论文章等充当回应内容）。'
      : '请依规公开，并在系统中登记办结。';
  switch (i.step) {
    case 'notice':
      subject = `【交办】${title}`;
      lead = `${what}“${title}”已交由${i.unitName}负责办理，时限如下：`;
      ask = howToRespond;
      break;
    case 'warning':
      subject = `【预警】${title}：${name}${leftOrOverdue(i.clock, i.now)}`;
      lead = `${what}“${title}”的${name}时限已过${i.elapsed === undefined ? '' : ` ${Math.round(i.elapsed * 100)}%`}，尚未办结：`;
      ask = howToRespond;
      break;
    case 'urge':
      subject = `【超时督办】${title}：${name}已超时`;
      lead = `${what}“${title}”的${name}时限已届满，${i.unitName}${i.subject.type === 'incident' ? '尚未作出权威回应' : '尚未完成公开'}：`;
      ask = `${howToRespond}按照政务公开时限要求，超时情况将纳入通报，视情约谈。`;
      break;
    case 'report':
      subject = `【超时通报】${title}：${i.unitName}${name}${leftOrOverdue(i.clock, i.now)}`;
      lead = `${what}“${title}”的${name}时限届满后仍未办结，责任单位：${i.unitName}。该事件已列入通报候选：`;
      ask = '请阅示，督促责任单位立即办理。';
      break;
  }
  const level = i.subject.level ? (LEVEL_NAME[i.subject.level] ?? i.subject.level) : null;
  const facts = [level ? `级别：${level}` : null, `责任单位：${i.unitName}`, `编号：${i.subject.id}`].filter(
    (x): x is string => x !== null,
  );
  const text = [
    `${i.recipientName}：`,
    '',
    lead,
    ...clocks.map((c) => `  · ${clockLine(c, i.now)}`),
    '',
    ask,
    '',
    ...facts,
    `查看详情：${link}`,
    '',
    '—— 回应 · 政务舆情回应时效监督系统（自动发送，请勿直接回复）',
  ].join('\n');
  const html = [
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body style="font-family:sans-serif;line-height:1.6">',
    `<p>${escapeHtml(i.recipientName)}：</p>`,
    `<p>${escapeHtml(lead)}</p>`,
    '<ul>',
    ...clocks.map((c) => `<li>${escapeHtml(clockLine(c, i.now))}</li>`),
    '</ul>',
    `<p>${escapeHtml(ask)}</p>`,
    `<p style="color:#555">${facts.map(escapeHtml).join('<br>')}</p>`,
    `<p><a href="${escapeHtml(link)}">查看详情</a></p>`,
    '<p style="color:#888;font-size:12px">—— 回应 · 政务舆情回应时效监督系统（自动发送，请勿直接回复）</p>',
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}

/**
 * A response that does not count (a repost of news, work updates, commentary): the unit is told
 * why, and which clocks still run.
 */
export function renderRepostMessage(i: {
  subject: StepMessageInput['subject'];
  recipientName: string;
  unitName: string;
  /** The incident's clocks still running or overdue. */
  clocks: ClockFacts[];
  now: number;
  dashboardUrl: string;
}): { subject: string; text: string; html: string } {
  const title = i.subject.title;
  const link = deepLink(i.dashboardUrl, i.subject);
  const subject = `【回应不计入】${title}：转载内容不能作为权威回应`;
  const lead = `${i.unitName}为舆情事件“${title}”登记的回应是转载内容，不计为权威回应，时限不因此停止。`;
  const why =
    '依照政务舆情回应要求，权威回应须由责任单位通过本单位权威发布渠道原创发布；转载工作动态、新闻报道、评论文章等不得充当回应内容。';
  const ask = i.clocks.length ? '以下时限仍在计算，请在时限内作出原创回应并在系统中登记：' : '请作出原创回应并在系统中登记。';
  const text = [
    `${i.recipientName}：`,
    '',
    lead,
    why,
    '',
    ask,
    ...i.clocks.map((c) => `  · ${clockLine(c, i.now)}`),
    '',
    `编号：${i.subject.id}`,
    `查看详情：${link}`,
    '',
    '—— 回应 · 政务舆情回应时效监督系统（自动发送，请勿直接回复）',
  ].join('\n');
  const html = [
    '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body style="font-family:sans-serif;line-height:1.6">',
    `<p>${escapeHtml(i.recipientName)}：</p>`,
    `<p>${escapeHtml(lead)}</p>`,
    `<p>${escapeHtml(why)}</p>`,
    `<p>${escapeHtml(ask)}</p>`,
    '<ul>',
    ...i.clocks.map((c) => `<li>${escapeHtml(clockLine(c, i.now))}</li>`),
    '</ul>',
    `<p style="color:#555">${escapeHtml(`编号：${i.subject.id}`)}</p>`,
    `<p><a href="${escapeHtml(link)}">查看详情</a></p>`,
    '<p style="color:#888;font-size:12px">—— 回应 · 政务舆情回应时效监督系统（自动发送，请勿直接回复）</p>',
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}
