/** Loads one administration list; a 404 means the endpoint is not there yet (an empty state, not an error). */
import { ref, shallowRef } from 'vue';
import { ApiRequestError } from '../api/client.ts';

export function useList<T>(fetch: () => Promise<{ items: T[] }>) {
  const items = shallowRef<T[]>([]);
  const state = ref<'loading' | 'ok' | 'unavailable' | 'error'>('loading');
  const error = ref('');
  async function load(): Promise<void> {
    try {
      items.value = (await fetch()).items;
      state.value = 'ok';
    } catch (e) {
      if (e instanceof ApiRequestError && e.status === 404) state.value = 'unavailable';
      else {
        state.value = 'error';
        error.value = e instanceof Error ? e.message : String(e);
      }
    }
  }
  void load();
  return { items, state, error, load };
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
