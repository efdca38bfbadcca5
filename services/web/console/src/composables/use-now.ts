/**
 * The (possibly simulated) system time, ticking once a second, shared by every page.
 * Synced with GET /api/time every 30 s; between syncs it advances on the monotonic clock at
 * the server's scale, so a drill (演练 ×600) runs down visibly.
 */
import { computed, onScopeDispose, ref } from 'vue';
import { api } from '../api/client.ts';
import { scaleBadge, simulatedNow, type TimeSync } from '../logic/logic.ts';

const TICK_MS = 1000;
const RESYNC_MS = 30_000;

const now = ref(Date.now());
const sync = ref<TimeSync | null>(null);
let users = 0;
let tickTimer: ReturnType<typeof setInterval> | undefined;
let syncTimer: ReturnType<typeof setInterval> | undefined;

function read(): number {
  return sync.value === null ? Date.now() : simulatedNow(sync.value, performance.now());
}

async function resync(): Promise<void> {
  try {
    const before = performance.now();
    const t = await api.time();
    const after = performance.now();
    const serverMs = Date.parse(t.now);
    if (!Number.isFinite(serverMs) || !(t.scale > 0)) return;
    // The server read its clock somewhere within the round trip: the midpoint halves the error.
    sync.value = { serverMs, perfAt: (before + after) / 2, scale: t.scale };
    now.value = read();
  } catch {
    // Keep counting on the last sync (or the local clock); the next resync tries again.
  }
}

export function useNow() {
  users += 1;
  if (users === 1) {
    void resync();
    tickTimer = setInterval(() => (now.value = read()), TICK_MS);
    syncTimer = setInterval(() => void resync(), RESYNC_MS);
  }
  onScopeDispose(() => {
    users -= 1;
    if (users === 0) {
      clearInterval(tickTimer);
      clearInterval(syncTimer);
    }
  });
  return { now, badge: computed(() => (sync.value === null ? null : scaleBadge(sync.value.scale))), resync };
}
