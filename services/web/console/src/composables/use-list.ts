/**
 * One paged, searchable list (the administration pages, feeds, candidate responses): the
 * page, its size and the search text are sent to the API, which answers the page and the
 * total of what matches. A 404 means the endpoint is not there yet (an empty state, not an error).
 */
import { ref, shallowRef } from 'vue';
import { ApiRequestError } from '../api/client.ts';

export interface PageRequest {
  page: number;
  pageSize: number;
  /** The search text, trimmed; absent when blank. */
  q?: string;
}

/** The page sizes a list offers; the first is the default. */
export const PAGE_SIZES = [20, 50, 100];

export function useList<T>(
  fetch: (p: PageRequest) => Promise<{ items: T[]; total: number }>,
  /** immediate: false for a list the page may not show (another role's), loaded by calling load(). */
  options: { pageSize?: number; immediate?: boolean } = {},
) {
  const items = shallowRef<T[]>([]);
  const total = ref(0);
  const page = ref(1);
  const pageSize = ref(options.pageSize ?? PAGE_SIZES[0]!);
  /** What the search box holds; it applies on search(), not on every key. */
  const q = ref('');
  const state = ref<'loading' | 'ok' | 'unavailable' | 'error'>('loading');
  const error = ref('');
  let asked = 0;

  async function load(): Promise<void> {
    const mine = ++asked;
    state.value = 'loading';
    const text = q.value.trim();
    try {
      const res = await fetch({ page: page.value, pageSize: pageSize.value, ...(text ? { q: text } : {}) });
      // An answer to an older request (the user paged on meanwhile) is dropped.
      if (mine !== asked) return;
      // After a removal the last page may be gone: show the new last page.
      if (res.items.length === 0 && res.total > 0 && page.value > 1) {
        page.value = Math.ceil(res.total / pageSize.value);
        return load();
      }
      items.value = res.items;
      total.value = res.total;
      state.value = 'ok';
    } catch (e) {
      if (mine !== asked) return;
      if (e instanceof ApiRequestError && e.status === 404) state.value = 'unavailable';
      else {
        state.value = 'error';
        error.value = e instanceof Error ? e.message : String(e);
      }
    }
  }

  /** A new search or filter starts again at page 1. */
  function search(): Promise<void> {
    page.value = 1;
    return load();
  }

  function changePage(p: number): Promise<void> {
    page.value = p;
    return load();
  }

  function changePageSize(size: number): Promise<void> {
    pageSize.value = size;
    page.value = 1;
    return load();
  }

  if (options.immediate !== false) void load();
  return { items, total, page, pageSize, q, state, error, load, search, changePage, changePageSize };
}

export type PagedList = Pick<ReturnType<typeof useList>, 'total' | 'page' | 'pageSize' | 'q' | 'search' | 'changePage' | 'changePageSize'>;

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
