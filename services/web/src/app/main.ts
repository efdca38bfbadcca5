/**
 * The duty officers' live alert board (值班员告警看板). Browser entry point, bundled by
 * services/web/src/index.ts. State lives in BoardStore (incidents, alerts) and DutyStore
 * (working-day duties); this file owns the DOM, the timers and the event stream.
 */
import type { Alert, Clock, Incident, Level, Obligation, ResponseKind, ResponseRequest, SuspendReason } from './api-types.ts';
import { api, ApiRequestError, looksLikeIncident, looksLikeObligation } from './api-client.ts';
import { BoardStore } from './board-store.ts';
import { byId, h, reconcile } from './dom.ts';
import { DutyStore } from './duty-store.ts';
import {
  alertKindLabel,
  clockCountdownText,
  clockLabel,
  clockStateLabel,
  cstLocalInputToIso,
  dueDayOf,
  dutyActions,
  dutyCountdownText,
  dutyStateLabel,
  dutyUrgency,
  type DutyUrgency,
  formatDueDate,
  formatFullInstant,
  formatInstant,
  isDutyOwed,
  isDutySuspended,
  LEVELS,
  levelLabel,
  RESPONSE_KINDS,
  responseKindLabel,
  scaleBadge,
  simulatedNow,
  suspendReasonLabel,
  urgency,
  worseUrgency,
  type TimeSync,
  type Urgency,
} from './logic.ts';

const BASE_TITLE = '回应 · 政务舆情回应时效看板';
const TICK_MS = 1000;
const TIME_RESYNC_MS = 30_000;
/** EventSource retries by itself unless the server answered with an error; then we do. */
const STREAM_RETRY_MS = 5000;
/**
 * Duties have no stream event, and a duty's calendar_missing alert is not streamed either:
 * both lists are re-read this often (and on connect, and when a duty's alert arrives).
 */
const LIST_REFRESH_MS = 60_000;

const store = new BoardStore();
const duties = new DutyStore();

const els = {
  alertList: byId<HTMLOListElement>('alert-list'),
  alertEmpty: byId('alert-empty'),
  alertCount: byId('alert-count'),
  board: byId('incident-board'),
  incidentEmpty: byId('incident-empty'),
  incidentCount: byId('incident-count'),
  boardSummary: byId('board-summary'),
  dutyList: byId<HTMLOListElement>('duty-list'),
  dutyEmpty: byId('duty-empty'),
  dutyCount: byId('duty-count'),
  dutySummary: byId('duty-summary'),
  sysTime: byId('sys-time'),
  scaleBadge: byId('scale-badge'),
  connection: byId('connection'),
  toasts: byId('toasts'),
};

// ---------------------------------------------------------------------------------------
// Simulated time

let timeSync: TimeSync | null = null;
let timeSyncFailing = false;

function now(): number {
  return timeSync === null ? Date.now() : simulatedNow(timeSync, performance.now());
}

async function syncTime(): Promise<void> {
  try {
    const before = performance.now();
    const t = await api.time();
    const after = performance.now();
    const serverMs = Date.parse(t.now);
    if (!Number.isFinite(serverMs) || !(typeof t.scale === 'number' && t.scale > 0)) {
      throw new ApiRequestError('BAD_TIME', '系统时间格式错误', 200);
    }
    // The server read its clock somewhere within the round trip; the midpoint halves the
    // error, which matters in a drill where one real second is many simulated minutes.
    timeSync = { serverMs, perfAt: (before + after) / 2, scale: t.scale };
    timeSyncFailing = false;
    renderScale();
  } catch (e) {
    if (!timeSyncFailing) reportError(e, '无法获取系统时间');
    timeSyncFailing = true;
  }
}

function renderScale(): void {
  const badge = timeSync === null ? null : scaleBadge(timeSync.scale);
  els.scaleBadge.hidden = badge === null;
  els.scaleBadge.textContent = badge ?? '';
}

// ---------------------------------------------------------------------------------------
// Toasts

function toast(message: string, kind: 'error' | 'info' = 'error'): void {
  const close = h('button', { class: 'toast-close', attrs: { type: 'button', 'aria-label': '关闭' } }, '×');
  const el = h(
    'div',
    { class: `toast toast--${kind}`, testid: 'toast', attrs: { role: kind === 'error' ? 'alert' : 'status' } },
    h('span', { class: 'toast-text' }, message),
    close,
  );
  const remove = (): void => el.remove();
  close.addEventListener('click', remove);
  els.toasts.appendChild(el);
  setTimeout(remove, kind === 'error' ? 8000 : 4000);
}

function reportError(e: unknown, context?: string): void {
  const prefix = context === undefined ? '' : `${context}：`;
  if (e instanceof ApiRequestError) toast(`${prefix}${e.message}（${e.code}）`);
  else toast(`${prefix}${e instanceof Error ? e.message : String(e)}`);
}

// ---------------------------------------------------------------------------------------
// Alerts

interface AlertView {
  alert: Alert;
  el: HTMLLIElement;
}

const alertViews = new Map<string, AlertView>();
const ackInFlight = new Set<string>();

function renderAlerts(): void {
  const alerts = store.openAlerts();
  const live = new Set<string>();
  const wanted = alerts.map((a) => {
    live.add(a.id);
    let view = alertViews.get(a.id);
    if (view === undefined) {
      view = { alert: a, el: h('li', { testid: 'alert-item' }) };
      fillAlert(view.el, a);
      alertViews.set(a.id, view);
    } else if (view.alert !== a) {
      view.alert = a;
      fillAlert(view.el, a);
    }
    return view.el;
  });
  for (const id of [...alertViews.keys()]) if (!live.has(id)) alertViews.delete(id);
  reconcile(els.alertList, wanted);
  els.alertCount.textContent = String(alerts.length);
  els.alertCount.classList.toggle('has-items', alerts.length > 0);
  els.alertEmpty.hidden = alerts.length > 0;
  document.title = alerts.length > 0 ? `(${alerts.length}) ${BASE_TITLE}` : BASE_TITLE;
}

function fillAlert(li: HTMLLIElement, a: Alert): void {
  li.className = `alert alert--${a.kind}`;
  li.dataset.alertId = a.id;
  li.dataset.kind = a.kind;

  const incidentId = a.incidentId;
  const dutyId = a.obligationId ?? null;
  const href = incidentId ? `#incident-${incidentId}` : dutyId ? `#duty-${dutyId}` : '#';
  const title = h('a', { class: 'alert-title', attrs: { href, title: a.incidentTitle } }, a.incidentTitle);
  title.addEventListener('click', (ev) => {
    ev.preventDefault();
    if (incidentId) revealIncident(incidentId);
    else if (dutyId) revealDuty(dutyId);
  });

  const ack = h('button', { class: 'btn btn-ack', testid: 'ack-button', attrs: { type: 'button' } }, '确认');
  ack.disabled = ackInFlight.has(a.id);
  ack.addEventListener('click', () => void acknowledge(a.id, ack));

  const meta =
    a.kind === 'nonqualifying_response'
      ? [h('span', {}, '转载不计为权威回应')]
      : [
          h('span', { class: 'alert-clock' }, clockLabel(a.clock)),
          a.dueAt === null ? null : h('span', {}, `截止 ${alertDueText(a, Date.parse(a.dueAt))}`),
        ];

  li.replaceChildren(
    h('span', { class: `tag tag--${a.kind}` }, alertKindLabel(a)),
    h(
      'div',
      { class: 'alert-body' },
      title,
      h('div', { class: 'alert-meta' }, ...meta, h('span', { class: 'alert-at' }, `告警 ${formatInstant(Date.parse(a.at))}`)),
    ),
    ack,
  );
}

/** A duty is due at the end of a working day: its date says more than "next day 00:00". */
function alertDueText(a: Alert, dueMs: number): string {
  const day = a.obligationId ? dueDayOf(dueMs) : null;
  return day === null ? formatInstant(dueMs) : formatDueDate(day);
}

async function acknowledge(alertId: string, button: HTMLButtonElement): Promise<void> {
  ackInFlight.add(alertId);
  button.disabled = true;
  button.textContent = '确认中';
  try {
    await api.ack(alertId, {});
    store.markAcknowledged(alertId);
    renderAlerts();
  } catch (e) {
    reportError(e, '确认告警失败');
    button.disabled = false;
    button.textContent = '确认';
  } finally {
    ackInFlight.delete(alertId);
  }
}

function flashAlert(alertId: string): void {
  const el = alertViews.get(alertId)?.el;
  if (el === undefined) return;
  el.classList.add('is-new');
  setTimeout(() => el.classList.remove('is-new'), 6000);
}

// ---------------------------------------------------------------------------------------
// Incidents

interface ClockView {
  clock: Clock;
  row: HTMLTableRowElement;
  countdown: HTMLElement;
}

interface CardView {
  incident: Incident;
  el: HTMLElement;
  /** Rebuilt on every change of the incident; the actions and forms around them are not. */
  slots: { head: HTMLElement; meta: HTMLElement; clocks: HTMLElement };
  clocks: ClockView[];
  gradeSelect: HTMLSelectElement;
}

const cardViews = new Map<string, CardView>();

function renderIncidents(): void {
  const incidents = store.sortedIncidents();
  const live = new Set<string>();
  const wanted = incidents.map((inc) => {
    live.add(inc.id);
    let view = cardViews.get(inc.id);
    if (view === undefined) {
      view = buildCard(inc);
      cardViews.set(inc.id, view);
    } else if (view.incident !== inc) {
      fillCard(view, inc);
    }
    return view.el;
  });
  for (const id of [...cardViews.keys()]) if (!live.has(id)) cardViews.delete(id);
  reconcile(els.board, wanted);
  els.incidentCount.textContent = String(incidents.length);
  els.incidentEmpty.hidden = incidents.length > 0;
  tick();
}

function buildCard(inc: Incident): CardView {
  const slots = {
    head: h('header', { class: 'card-head' }),
    meta: h('dl', { class: 'card-meta' }),
    clocks: h('div', { class: 'card-clocks' }),
  };
  const el = h('article', {
    class: 'card',
    testid: 'incident-card',
    data: { 'incident-id': inc.id },
    attrs: { id: `incident-${inc.id}` },
  });

  const gradeSelect = h(
    'select',
    { testid: 'grade-select', attrs: { name: 'level', 'aria-label': '级别' } },
    h('option', { attrs: { value: '' } }, '选择级别'),
    ...LEVELS.map((l) => h('option', { attrs: { value: l } }, levelLabel(l))),
  );
  gradeSelect.required = true;

  const gradeForm = buildGradeForm(
    () => view,
    gradeSelect,
    () => closeForms(),
  );
  const responseForm = buildResponseForm(
    () => view,
    () => closeForms(),
  );

  const gradeButton = h('button', { class: 'btn', testid: 'grade-button', attrs: { type: 'button' } }, '研判定级');
  const respondButton = h('button', { class: 'btn', testid: 'respond-button', attrs: { type: 'button' } }, '登记回应');
  const closeForms = (): void => {
    for (const [f, b] of [
      [gradeForm, gradeButton],
      [responseForm, respondButton],
    ] as const) {
      f.hidden = true;
      b.setAttribute('aria-expanded', 'false');
    }
  };
  const toggle = (form: HTMLFormElement, button: HTMLButtonElement): void => {
    const open = form.hidden;
    closeForms();
    form.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    if (open) form.querySelector<HTMLElement>('select, input')?.focus();
  };
  gradeButton.addEventListener('click', () => toggle(gradeForm, gradeButton));
  respondButton.addEventListener('click', () => toggle(responseForm, respondButton));
  gradeButton.setAttribute('aria-expanded', 'false');
  respondButton.setAttribute('aria-expanded', 'false');

  el.append(
    slots.head,
    h('div', { class: 'card-bar' }, slots.meta, h('div', { class: 'card-actions' }, gradeButton, respondButton)),
    slots.clocks,
    gradeForm,
    responseForm,
  );

  const view: CardView = { incident: inc, el, slots, clocks: [], gradeSelect };
  fillCard(view, inc);
  return view;
}

function fillCard(view: CardView, inc: Incident): void {
  view.incident = inc;
  const unit = inc.unit === null ? h('span', { class: 'unassigned' }, '未指派') : inc.unit.name;
  const levelClass = inc.level === null ? 'level level--none' : `level level--${inc.level}`;

  const clocks = [...inc.clocks].sort((a, b) => a.seq - b.seq);
  view.clocks = clocks.map((clock) => {
    const countdown = h('td', { class: 'countdown', testid: 'countdown' });
    const row = h(
      'tr',
      { class: 'clock', testid: 'clock', data: { 'clock-kind': clock.kind } },
      h('th', { class: 'clock-label', attrs: { scope: 'row' } }, clockLabel(clock.kind)),
      h('td', { class: 'clock-due' }, formatInstant(Date.parse(clock.dueAt))),
      h('td', { class: `clock-state state--${clock.state}` }, clockStateLabel(clock.state)),
      countdown,
    );
    return { clock, row, countdown };
  });

  const table =
    view.clocks.length === 0
      ? h('p', { class: 'no-clocks' }, '暂无时限')
      : h(
          'table',
          { class: 'clocks' },
          h('thead', {}, h('tr', {}, h('th', {}, '时限'), h('th', {}, '截止'), h('th', {}, '状态'), h('th', {}, '倒计时'))),
          h('tbody', {}, ...view.clocks.map((c) => c.row)),
        );

  view.slots.head.replaceChildren(
    h('span', { class: levelClass, testid: 'incident-level' }, levelLabel(inc.level)),
    h('h3', { class: 'card-title', testid: 'incident-title' }, inc.title),
  );
  view.slots.meta.replaceChildren(
    h('div', {}, h('dt', {}, '责任单位'), h('dd', { testid: 'incident-unit' }, unit)),
    h('div', {}, h('dt', {}, '起算时间'), h('dd', {}, formatInstant(Date.parse(inc.startAt)))),
  );
  view.slots.clocks.replaceChildren(table);
  // Keep an untouched select in step with the incident; a half-filled one is the officer's.
  const form = view.gradeSelect.form;
  if (form === null || form.hidden) view.gradeSelect.value = inc.level ?? '';
}

function buildGradeForm(getView: () => CardView, select: HTMLSelectElement, done: () => void): HTMLFormElement {
  const submit = h('button', { class: 'btn btn-primary', testid: 'grade-submit', attrs: { type: 'submit' } }, '提交');
  const form = h(
    'form',
    { class: 'card-form', testid: 'grade-form', attrs: { 'aria-label': '研判定级' } },
    h('div', { class: 'form-row' }, h('label', {}, '级别 ', select), submit),
    h('p', { class: 'form-hint' }, '定为特别重大 I、重大 II：起算5小时权威信息发布、24小时新闻发布会时限'),
  );
  form.hidden = true;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const level = select.value;
    if (!isLevel(level)) {
      toast('请选择级别');
      return;
    }
    const view = getView();
    void submitWith(
      submit,
      async () => {
        const res = await api.grade(view.incident.id, { level });
        done();
        toast(`已定级：${levelLabel(level)}`, 'info');
        if (looksLikeIncident(res)) store.applyIncident(res);
        renderIncidents();
      },
      '定级失败',
    );
  });
  return form;
}

function buildResponseForm(getView: () => CardView, done: () => void): HTMLFormElement {
  const kind = h(
    'select',
    { testid: 'response-kind', attrs: { name: 'kind' } },
    ...RESPONSE_KINDS.map((k) => h('option', { attrs: { value: k } }, responseKindLabel(k))),
  );
  const original = h('input', { testid: 'response-original', attrs: { type: 'checkbox', name: 'original' } });
  const url = h('input', {
    testid: 'response-url',
    attrs: { type: 'url', name: 'url', placeholder: 'https://', autocomplete: 'off' },
  });
  const publishedAt = h('input', {
    testid: 'response-published-at',
    attrs: { type: 'datetime-local', name: 'publishedAt', step: '60' },
  });
  const originalHint = h('p', { class: 'form-hint form-hint--warn' });
  const syncHint = (): void => {
    originalHint.textContent = original.checked
      ? '原创权威信息可计为按时回应'
      : '转载（工作动态、新闻报道、评论文章）不计为权威回应，将产生“内容敷衍”告警';
    originalHint.classList.toggle('form-hint--warn', !original.checked);
  };
  original.addEventListener('change', syncHint);
  syncHint();

  const submit = h('button', { class: 'btn btn-primary', testid: 'response-submit', attrs: { type: 'submit' } }, '登记');
  const form = h(
    'form',
    { class: 'card-form', testid: 'response-form', attrs: { 'aria-label': '登记回应' } },
    h('div', { class: 'form-row' }, h('label', {}, '类型 ', kind), h('label', { class: 'check' }, original, ' 原创')),
    h('div', { class: 'form-row' }, h('label', { class: 'grow' }, '链接 ', url)),
    h(
      'div',
      { class: 'form-row' },
      h('label', {}, '发布时间 ', publishedAt),
      h('span', { class: 'form-note' }, '北京时间，可不填'),
      submit,
    ),
    originalHint,
  );
  form.hidden = true;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const k = kind.value;
    if (!isResponseKind(k)) return;
    const body: ResponseRequest = {
      kind: k,
      original: original.checked,
    };
    const u = url.value.trim();
    if (u !== '') body.url = u;
    if (publishedAt.value !== '') {
      const iso = cstLocalInputToIso(publishedAt.value);
      if (iso === null) {
        toast('发布时间格式错误');
        return;
      }
      body.publishedAt = iso;
    }
    const view = getView();
    void submitWith(
      submit,
      async () => {
        const res = await api.recordResponse(view.incident.id, body);
        form.reset();
        syncHint();
        done();
        toast(`已登记${body.original ? '' : '转载'}回应：${responseKindLabel(body.kind)}`, 'info');
        if (looksLikeIncident(res)) store.applyIncident(res);
        renderIncidents();
      },
      '登记回应失败',
    );
  });
  return form;
}

async function submitWith(button: HTMLButtonElement, run: () => Promise<void>, context: string): Promise<void> {
  button.disabled = true;
  try {
    await run();
  } catch (e) {
    reportError(e, context);
  } finally {
    button.disabled = false;
  }
}

function isLevel(x: string): x is Level {
  return (LEVELS as readonly string[]).includes(x);
}

function isResponseKind(x: string): x is ResponseKind {
  return (RESPONSE_KINDS as readonly string[]).includes(x);
}

function revealIncident(incidentId: string): void {
  const el = cardViews.get(incidentId)?.el;
  if (el === undefined) {
    toast('该事件已不在进行中列表', 'info');
    return;
  }
  flash(el);
}

function flash(el: HTMLElement, scroll = true): void {
  if (scroll) el.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  el.classList.remove('is-flash');
  void el.offsetWidth; // restart the animation
  el.classList.add('is-flash');
}

// ---------------------------------------------------------------------------------------
// Working-day duties (工作日时限事项)

interface DutyView {
  duty: Obligation;
  el: HTMLLIElement;
  countdown: HTMLElement;
  /** The 暂停 reason chooser is open; survives re-reads of the list. */
  choosingReason: boolean;
}

const dutyViews = new Map<string, DutyView>();
/** Duties with an action in flight: their buttons stay disabled across re-renders. */
const dutyBusy = new Set<string>();

function renderDuties(): void {
  const list = duties.arranged(now());
  const live = new Set<string>();
  const wanted = list.map((d) => {
    live.add(d.id);
    let view = dutyViews.get(d.id);
    if (view === undefined) {
      view = {
        duty: d,
        el: h('li', { testid: 'duty-item', attrs: { id: `duty-${d.id}` } }),
        countdown: h('span'),
        choosingReason: false,
      };
      dutyViews.set(d.id, view);
      fillDuty(view, d);
    } else if (view.duty !== d) {
      fillDuty(view, d);
    }
    return view.el;
  });
  for (const id of [...dutyViews.keys()]) if (!live.has(id)) dutyViews.delete(id);
  reconcile(els.dutyList, wanted);
  const owed = list.filter(isDutyOwed).length;
  els.dutyCount.textContent = String(owed);
  els.dutyEmpty.textContent = duties.loaded ? '暂无工作日时限事项' : '加载中…';
  els.dutyEmpty.hidden = list.length > 0;
  tick();
}

function fillDuty(view: DutyView, d: Obligation): void {
  view.duty = d;
  const li = view.el;
  li.dataset.dutyId = d.id;
  li.dataset.state = d.state;
  li.dataset.provisional = String(d.provisional);
  li.dataset.kind = d.kind;
  // tick() sets the urgency class; start from none so it applies at once.
  delete li.dataset.urgency;
  li.className = 'duty';

  const suspended = isDutySuspended(d);
  const stateClass = d.state === 'met' && d.late === true ? 'ds--late' : `ds--${d.state}`;
  const badges = [
    d.provisional
      ? h(
          'span',
          {
            class: 'badge badge--provisional',
            testid: 'duty-provisional',
            attrs: { title: '该年节假日安排尚未导入：截止日按周一至周五估算，导入后自动重算' },
          },
          '临时（按周一至周五估算）',
        )
      : null,
    d.extended ? h('span', { class: 'badge badge--extended', testid: 'duty-extended' }, '已延期') : null,
    suspended && d.suspended !== null
      ? h(
          'span',
          {
            class: 'badge badge--suspended',
            testid: 'duty-suspended',
            attrs: { title: `自 ${formatInstant(Date.parse(d.suspended.since))} 起暂停计时` },
          },
          `暂停中（${suspendReasonLabel(d.suspended.reason)}）`,
        )
      : null,
  ];

  view.countdown = h('span', { class: 'duty-countdown', testid: 'duty-countdown' });
  const unit = d.unit === null ? h('span', { class: 'unassigned' }, '未指派') : h('span', {}, d.unit.name);

  li.replaceChildren(
    h('span', { class: `duty-state ${stateClass}`, testid: 'duty-state' }, dutyStateLabel(d)),
    h(
      'div',
      { class: 'duty-main' },
      h(
        'div',
        { class: 'duty-head' },
        h(
          'span',
          { class: 'duty-title', testid: 'duty-title', attrs: { title: d.title === null ? d.id : `${d.title}（${d.id}）` } },
          d.title ?? d.id,
        ),
        ...badges,
      ),
      h(
        'div',
        { class: 'duty-meta' },
        h('span', { class: 'duty-kind' }, clockLabel(d.kind)),
        unit,
        // While suspended the due is frozen as it stood; resuming computes it again.
        h('span', { class: 'duty-due', testid: 'duty-due' }, suspended ? '原截止 ' : '截止 ', h('strong', {}, formatDueDate(d.dueDate))),
      ),
    ),
    h('div', { class: 'duty-side' }, view.countdown, buildDutyActions(view, d)),
  );
}

function buildDutyActions(view: DutyView, d: Obligation): HTMLElement {
  const can = dutyActions(d);
  const busy = dutyBusy.has(d.id);
  const button = (testid: string, label: string, onClick: () => void, primary = false): HTMLButtonElement => {
    const b = h('button', { class: primary ? 'btn btn-primary' : 'btn', testid, attrs: { type: 'button' } }, label);
    b.disabled = busy;
    b.addEventListener('click', onClick);
    return b;
  };
  const box = h('div', { class: 'duty-actions' });

  if (can.suspend && view.choosingReason) {
    const choose = (reason: SuspendReason) => () =>
      void dutyAction(d, `暂停计时（${suspendReasonLabel(reason)}）`, () => api.suspend(d.id, { reason }));
    box.append(
      h('span', { class: 'duty-choose' }, '暂停原因'),
      button('duty-suspend-correction', '补正', choose('correction')),
      button('duty-suspend-third-party', '征求第三方意见', choose('third_party')),
      button('duty-suspend-cancel', '取消', () => {
        view.choosingReason = false;
        fillDuty(view, view.duty);
        tick();
      }),
    );
    box.setAttribute('role', 'group');
    box.setAttribute('aria-label', '暂停原因');
    return box;
  }
  view.choosingReason = false;

  if (can.fulfil) box.append(button('duty-fulfil', '办结', () => void dutyAction(d, '办结', () => api.fulfil(d.id, {})), true));
  if (can.extend) box.append(button('duty-extend', '延期', () => void dutyAction(d, '延期', () => api.extend(d.id, {}))));
  if (can.suspend) {
    box.append(
      button('duty-suspend', '暂停', () => {
        view.choosingReason = true;
        fillDuty(view, view.duty);
        tick();
        view.el.querySelector<HTMLButtonElement>('[data-testid="duty-suspend-correction"]')?.focus();
      }),
    );
  }
  if (can.resume) box.append(button('duty-resume', '恢复', () => void dutyAction(d, '恢复计时', () => api.resume(d.id, {}))));
  return box;
}

/**
 * Runs one duty action. Success shows in the row itself (badge, buttons, a flash): the
 * toast stack sits bottom right, over these very buttons, so only failures toast.
 */
async function dutyAction(d: Obligation, what: string, call: () => Promise<unknown>): Promise<void> {
  if (dutyBusy.has(d.id)) return;
  // The clicked button is rebuilt: keyboard focus goes back to the row's first action.
  const refocus = dutyViews.get(d.id)?.el.contains(document.activeElement) ?? false;
  dutyBusy.add(d.id);
  rerenderDuty(d.id);
  let done = false;
  try {
    const res = await call();
    const view = dutyViews.get(d.id);
    if (view !== undefined) view.choosingReason = false;
    if (looksLikeObligation(res)) duties.apply(res);
    else void refreshDuties();
    done = true;
  } catch (e) {
    reportError(e, `${what}失败`);
  } finally {
    dutyBusy.delete(d.id);
    rerenderDuty(d.id);
    renderDuties();
  }
  const el = dutyViews.get(d.id)?.el;
  if (el === undefined) return;
  if (done) flash(el, false);
  if (refocus) el.querySelector<HTMLButtonElement>('.duty-actions button:not(:disabled)')?.focus();
}

/** Rebuilds one row in place (its buttons follow dutyBusy and the chooser). */
function rerenderDuty(id: string): void {
  const view = dutyViews.get(id);
  if (view === undefined) return;
  fillDuty(view, duties.get(id) ?? view.duty);
  tick();
}

function revealDuty(id: string): void {
  const el = dutyViews.get(id)?.el;
  if (el === undefined) {
    toast('该事项已不在列表中', 'info');
    return;
  }
  flash(el);
}

let dutyRefreshRunning = false;
let dutyRefreshAgain = false;
let dutyRefreshFailing = false;

/** Re-reads GET /api/obligations; calls while one is in flight coalesce into one more. */
async function refreshDuties(): Promise<void> {
  if (dutyRefreshRunning) {
    dutyRefreshAgain = true;
    return;
  }
  dutyRefreshRunning = true;
  try {
    do {
      dutyRefreshAgain = false;
      const token = duties.beginRefresh();
      try {
        const res = await api.obligations();
        if (duties.completeRefresh(token, Array.isArray(res.items) ? res.items.filter(looksLikeObligation) : [])) renderDuties();
        dutyRefreshFailing = false;
      } catch (e) {
        duties.abortRefresh(token);
        // Once per outage: the minute refresh must not stack a toast a minute.
        if (!dutyRefreshFailing) reportError(e, '加载工作日时限事项失败');
        dutyRefreshFailing = true;
      }
    } while (dutyRefreshAgain);
  } finally {
    dutyRefreshRunning = false;
  }
}

// ---------------------------------------------------------------------------------------
// The one-second tick: countdowns and colours move, nothing is rebuilt.

function tick(): void {
  const t = now();
  els.sysTime.textContent = formatFullInstant(t);
  let breached = 0;
  let danger = 0;
  for (const view of cardViews.values()) {
    let worst: Urgency = 'done';
    for (const c of view.clocks) {
      const u = urgency(c.clock, t);
      if (c.row.dataset.urgency !== u) {
        c.row.dataset.urgency = u;
        c.row.className = `clock u-${u}`;
      }
      const text = clockCountdownText(c.clock, t);
      if (c.countdown.textContent !== text) c.countdown.textContent = text;
      worst = worseUrgency(worst, u);
    }
    if (view.el.dataset.urgency !== worst) {
      view.el.dataset.urgency = worst;
      view.el.classList.remove('u-calm', 'u-warn', 'u-danger', 'u-breached', 'u-done');
      view.el.classList.add(`u-${worst}`);
    }
    if (worst === 'breached') breached += 1;
    else if (worst === 'danger') danger += 1;
  }
  const summary = `已超时 ${breached} · 临近截止 ${danger}`;
  if (els.boardSummary.textContent !== summary) els.boardSummary.textContent = summary;
  els.boardSummary.classList.toggle('has-breach', breached > 0);
  tickDuties(t);
}

function tickDuties(t: number): void {
  let breached = 0;
  let danger = 0;
  let paused = 0;
  for (const view of dutyViews.values()) {
    const u: DutyUrgency = dutyUrgency(view.duty, t);
    if (view.el.dataset.urgency !== u) {
      view.el.dataset.urgency = u;
      view.el.classList.remove('u-calm', 'u-warn', 'u-danger', 'u-breached', 'u-done', 'u-paused');
      view.el.classList.add(`u-${u}`);
    }
    const text = dutyCountdownText(view.duty, t);
    if (view.countdown.textContent !== text) view.countdown.textContent = text;
    if (u === 'breached') breached += 1;
    else if (u === 'danger') danger += 1;
    else if (u === 'paused') paused += 1;
  }
  const summary = `已超时 ${breached} · 临近截止 ${danger}${paused > 0 ? ` · 暂停 ${paused}` : ''}`;
  if (els.dutySummary.textContent !== summary) els.dutySummary.textContent = summary;
  els.dutySummary.classList.toggle('has-breach', breached > 0);
}

// ---------------------------------------------------------------------------------------
// Lists and stream

let resyncFailing = false;

async function resync(): Promise<void> {
  const token = store.beginResync();
  try {
    const [incidents, alerts] = await Promise.all([api.openIncidents(), api.openAlerts()]);
    if (store.completeResync(token, incidents.items, alerts.items)) {
      renderIncidents();
      renderAlerts();
    }
    resyncFailing = false;
  } catch (e) {
    store.abortResync(token);
    // Once per outage: the minute refresh must not stack a toast a minute.
    if (!resyncFailing) reportError(e, '加载数据失败');
    resyncFailing = true;
  }
}

type ConnectionState = 'connecting' | 'open' | 'closed';

function setConnection(state: ConnectionState): void {
  const el = els.connection;
  if (el.dataset.state === state) return;
  el.dataset.state = state;
  const text = el.querySelector('.conn-text');
  if (text !== null) text.textContent = state === 'open' ? '实时连接中' : state === 'closed' ? '已断开' : '连接中…';
}

function parseData(ev: Event): unknown {
  try {
    return JSON.parse((ev as MessageEvent<string>).data);
  } catch {
    return undefined;
  }
}

function connect(): void {
  setConnection('connecting');
  const source = new EventSource('/api/stream');
  source.addEventListener('open', () => {
    setConnection('open');
    // Whatever happened while we were away is only in the lists.
    void resync();
    void refreshDuties();
  });
  source.addEventListener('hello', () => setConnection('open'));
  source.addEventListener('error', () => {
    setConnection('closed');
    if (source.readyState === EventSource.CLOSED) {
      source.close();
      setTimeout(connect, STREAM_RETRY_MS);
    }
  });
  source.addEventListener('alert', (ev) => {
    const alert = parseData(ev) as Alert | undefined;
    if (alert === undefined || typeof alert.id !== 'string') return;
    const isNew = !alertViews.has(alert.id);
    store.applyAlert(alert);
    renderAlerts();
    if (isNew) flashAlert(alert.id);
    // A duty's warning or breach: the duty itself has no event, so re-read the list.
    if (typeof alert.obligationId === 'string') void refreshDuties();
  });
  source.addEventListener('incident', (ev) => {
    const incident = parseData(ev);
    if (!looksLikeIncident(incident)) return;
    store.applyIncident(incident);
    renderIncidents();
  });
}

async function boot(): Promise<void> {
  await syncTime();
  tick();
  setInterval(tick, TICK_MS);
  setInterval(() => void syncTime(), TIME_RESYNC_MS);
  setInterval(() => {
    void resync();
    void refreshDuties();
  }, LIST_REFRESH_MS);
  connect();
  await Promise.all([resync(), refreshDuties()]);
}

void boot();
