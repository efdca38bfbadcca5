import { clockName } from './step-templates.ts';
import type { EventMessage } from '@huiying/bus';

// No span in the label: a rule pack may change it, and the event does not carry the clock's
// snapshot. The due time, printed below, is what the unit needs.
const CLOCK_LABEL = (kind: string | undefined): string => (kind ? clockName(kind) : '');

/** Asia/Shanghai wall time for people; instants stay ISO in data. */
export function shanghai(iso: string): string {
  return new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
  }).format(new Date(iso));
}

export function breachMail(e: EventMessage, unitName: string, dashboardUrl: string): { subject: string; text: string } {
  const clock = CLOCK_LABEL(e.clock);
  const title = e.title ?? e.incidentId ?? e.obligationId ?? '';
  const what = e.obligationId ? '事项' : '舆情事件';
  return {
    subject: `【超时督办】${title}：${clock}已超时`,
    text: [
      `${unitName}：`,
      '',
      `${what}“${title}”的${clock}时限已于 ${e.due ? shanghai(e.due) : ''}（北京时间）届满，${e.obligationId ? '尚未完成公开。' : '尚未见权威回应。'}`,
      e.obligationId
        ? '请立即依规公开，并在系统中登记办结。'
        : '请立即通过本单位权威发布渠道作出回应，并在系统中登记回应（不得以转载工作动态、新闻报道、评论文章等充当回应内容）。',
      '按照政务公开时限要求，超时情况将纳入通报，视情约谈。',
      '',
      `编号：${e.incidentId ?? e.obligationId ?? ''}`,
      `查看详情：${dashboardUrl}`,
      '',
      '—— 回应 · 政务舆情回应时效监督系统（自动发送，请勿直接回复）',
    ].join('\n'),
  };
}
