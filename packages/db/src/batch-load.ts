/**
 * Coalesced lookups, as a group commit coalesces writes: the keys asked for during one turn of
 * the event loop are fetched with one query (after the turn's I/O callbacks, in setImmediate),
 * instead of one query, one pool checkout and one round trip each. Nothing is cached: every
 * caller gets what the database holds after it asked, so a revoked credential is refused by the
 * next batch exactly as it was by the next query.
 */
export class BatchLoader<K, V> {
  private pending = new Map<K, { resolve: (v: V | undefined) => void; reject: (e: unknown) => void }[]>();
  private scheduled = false;

  /** `load` gets distinct keys and returns what it found; a key it leaves out resolves undefined. */
  constructor(private readonly load: (keys: K[]) => Promise<ReadonlyMap<K, V>>) {}

  get(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const waiting = this.pending.get(key);
      if (waiting) waiting.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    this.load([...batch.keys()]).then(
      (found) => {
        for (const [key, waiting] of batch) for (const w of waiting) w.resolve(found.get(key));
      },
      (error: unknown) => {
        for (const waiting of batch.values()) for (const w of waiting) w.reject(error);
      },
    );
  }
}
