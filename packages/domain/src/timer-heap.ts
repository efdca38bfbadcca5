/**
 * Indexed binary min-heap of timer owners keyed by their next wake instant. Each owner is
 * in the heap at most once and knows its slot, so rescheduling moves it in place: the heap
 * never holds more entries than there are aggregates with a running clock.
 */
export interface HeapOwner {
  /** Key; meaningful while in the heap. */
  wake: number;
  /** Slot in the heap, -1 when absent. */
  heapIndex: number;
}

export class TimerHeap<T extends HeapOwner> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** Instant of the earliest owner (Infinity when empty). */
  peekAt(): number {
    return this.items.length === 0 ? Number.POSITIVE_INFINITY : this.items[0]!.wake;
  }

  /** Put `owner` in the heap at `wake`, move it there, or (null) take it out. */
  set(owner: T, wake: number | null): void {
    const i = owner.heapIndex;
    if (wake === null) {
      if (i >= 0) this.removeAt(i);
      return;
    }
    if (i < 0) {
      owner.wake = wake;
      owner.heapIndex = this.items.length;
      this.items.push(owner);
      this.up(owner.heapIndex);
      return;
    }
    const before = owner.wake;
    owner.wake = wake;
    if (wake < before) this.up(i);
    else if (wake > before) this.down(i);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.removeAt(0);
    return top;
  }

  private removeAt(i: number): void {
    const items = this.items;
    const removed = items[i]!;
    const last = items.pop()!;
    removed.heapIndex = -1;
    if (last === removed) return;
    items[i] = last;
    last.heapIndex = i;
    this.up(i);
    this.down(last.heapIndex);
  }

  private up(i: number): void {
    const items = this.items;
    const item = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (p.wake <= item.wake) break;
      items[i] = p;
      p.heapIndex = i;
      i = parent;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && items[r]!.wake < items[l]!.wake ? r : l;
      const c = items[child]!;
      if (c.wake >= item.wake) break;
      items[i] = c;
      c.heapIndex = i;
      i = child;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}
