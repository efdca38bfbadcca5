/**
 * The live board: open incidents, open alerts and working-day duties, kept by BoardStore and
 * DutyStore (unit-tested merge rules), fed by list snapshots and the SSE stream. The server
 * scopes both to the signed-in user, so a unit user's page uses the same feed.
 *
 * Vue sees the stores through a version counter bumped after every change.
 */
import { ElMessage } from 'element-plus';
import { computed, onScopeDispose, ref, shallowRef } from 'vue';
import { api, ApiRequestError, looksLikeIncident, looksLikeObligation } from '../api/client.ts';
import type { Alert, Incident, IncidentQuery, Obligation, ListResponse } from '../api/types.ts';
import { BoardStore } from '../logic/board-store.ts';
import { DutyStore } from '../logic/duty-store.ts';
import { matchesQueries } from '../logic/filters.ts';

const STREAM_RETRY_MS = 5000;
/** Duties have no stream event: lists are re-read this often (and on connect). */
const LIST_REFRESH_MS = 60_000;

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface LiveOptions {
  /** Called for each alert first seen over the stream (the visible/audible cue). */
  onNewAlert?: (alert: Alert) => void;
  /** Also keep working-day duties (GET /api/obligations). */
  duties?: boolean;
  /** The incident list's server-side filter to start with (see setIncidentFilter). */
  incidentFilter?: IncidentQuery[];
}

function reportOnce(flag: { failing: boolean }, e: unknown, context: string): void {
  if (flag.failing) return;
  flag.failing = true;
  // 401 is handled globally (back to log-in).
  if (e instanceof ApiRequestError && e.status === 401) return;
  ElMessage.error(`${context}：${e instanceof Error ? e.message : String(e)}`);
}

export function useLive(options: LiveOptions = {}) {
  const store = new BoardStore();
  const duties = new DutyStore();
  const version = ref(0);
  const connection = ref<ConnectionState>('connecting');
  const loaded = ref(false);
  /** Open incidents on the server (under the filter); more than one page means the board shows the most urgent only. */
  const total = ref(0);
  /** The server-side filter of the incident list (filters.ts serverQueries): one query, or one per level. */
  let queries: IncidentQuery[] = options.incidentFilter ?? [{}];
  if (options.incidentFilter) store.setFilter((i) => matchesQueries(i, queries));
  const bump = () => (version.value += 1);
  const newAlertIds = shallowRef<ReadonlySet<string>>(new Set());

  const listFail = { failing: false };
  const dutyFail = { failing: false };

  async function resync(): Promise<void> {
    const token = store.beginResync();
    try {
      const asked = queries;
      const [pages, alerts] = await Promise.all([Promise.all(asked.map((q) => api.openIncidents(q))), api.openAlerts()]);
      // Several levels are disjoint queries: their pages and totals add up.
      const items = pages.flatMap((p: ListResponse<Incident>) => p.items);
      if (store.completeResync(token, items, alerts.items)) {
        bump();
        total.value = pages.reduce((n, p) => n + (p.total ?? p.items.length), 0);
      }
      loaded.value = true;
      listFail.failing = false;
    } catch (e) {
      store.abortResync(token);
      reportOnce(listFail, e, '加载数据失败');
    }
  }

  let dutyRunning = false;
  let dutyAgain = false;
  async function refreshDuties(): Promise<void> {
    if (!options.duties) return;
    if (dutyRunning) {
      dutyAgain = true;
      return;
    }
    dutyRunning = true;
    try {
      do {
        dutyAgain = false;
        const token = duties.beginRefresh();
        try {
          const res = await api.obligations();
          const items = Array.isArray(res.items) ? res.items.filter(looksLikeObligation) : [];
          if (duties.completeRefresh(token, items, res.total ?? items.length)) bump();
          dutyFail.failing = false;
        } catch (e) {
          duties.abortRefresh(token);
          reportOnce(dutyFail, e, '加载工作日时限事项失败');
        }
      } while (dutyAgain);
    } finally {
      dutyRunning = false;
    }
  }

  let source: EventSource | null = null;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  function parse(ev: Event): unknown {
    try {
      return JSON.parse((ev as MessageEvent<string>).data);
    } catch {
      return undefined;
    }
  }

  function connect(): void {
    if (stopped) return;
    connection.value = 'connecting';
    const es = new EventSource('/api/stream');
    source = es;
    es.addEventListener('open', () => {
      connection.value = 'open';
      // Whatever happened while we were away is only in the lists.
      void resync();
      void refreshDuties();
    });
    es.addEventListener('hello', () => (connection.value = 'open'));
    es.addEventListener('error', () => {
      connection.value = 'closed';
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        retry = setTimeout(connect, STREAM_RETRY_MS);
      }
    });
    es.addEventListener('alert', (ev) => {
      const alert = parse(ev) as Alert | undefined;
      if (alert === undefined || typeof alert.id !== 'string') return;
      const isNew = !store.openAlerts().some((a) => a.id === alert.id) && alert.acknowledgedAt === null;
      store.applyAlert(alert);
      if (isNew) {
        newAlertIds.value = new Set([...newAlertIds.value, alert.id]);
        setTimeout(() => {
          const next = new Set(newAlertIds.value);
          next.delete(alert.id);
          newAlertIds.value = next;
        }, 8000);
        options.onNewAlert?.(alert);
      }
      bump();
      if (typeof alert.obligationId === 'string') void refreshDuties();
    });
    es.addEventListener('incident', (ev) => {
      const incident = parse(ev);
      if (!looksLikeIncident(incident)) return;
      store.applyIncident(incident);
      bump();
    });
  }

  const refresher = setInterval(() => {
    void resync();
    void refreshDuties();
  }, LIST_REFRESH_MS);
  connect();
  void resync();
  void refreshDuties();

  onScopeDispose(() => {
    stopped = true;
    clearInterval(refresher);
    clearTimeout(retry);
    source?.close();
  });

  return {
    version,
    connection,
    loaded,
    total,
    newAlertIds,
    incidents: computed<Incident[]>(() => (version.value, store.sortedIncidents())),
    alerts: computed<Alert[]>(() => (version.value, store.openAlerts())),
    duties: (nowMs: () => number) => computed<Obligation[]>(() => (version.value, duties.arranged(nowMs()))),
    dutiesLoaded: computed(() => (version.value, duties.loaded)),
    /** Duties beyond the page the board holds, and the server's total. */
    dutiesNotShown: computed(() => (version.value, duties.notShown)),
    dutiesTotal: computed(() => (version.value, duties.total)),
    /** Applies an action's answer (an incident or a duty) at once, without waiting for the stream. */
    applyAnswer(res: unknown): void {
      if (looksLikeIncident(res)) store.applyIncident(res);
      else if (looksLikeObligation(res)) duties.apply(res);
      else {
        void resync();
        void refreshDuties();
        return;
      }
      bump();
    },
    markAcknowledged(alertId: string): void {
      store.markAcknowledged(alertId);
      bump();
    },
    /** Withdrawn here (an administrator's retry); unlike an acknowledged one, it shows again if raised again. */
    markWithdrawn(alertId: string): void {
      store.markWithdrawn(alertId);
      bump();
    },
    resync,
    refreshDuties,
    /**
     * Filters the incidents on the server: the board reloads its page under the new filter, and
     * the stream's events for incidents outside it are kept off the board.
     */
    setIncidentFilter(next: IncidentQuery[]): void {
      if (JSON.stringify(next) === JSON.stringify(queries)) return;
      queries = next;
      store.setFilter((i) => matchesQueries(i, next));
      bump();
      void resync();
    },
  };
}
