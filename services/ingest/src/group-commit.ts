/**
 * Application-level group commit, as Kafka's producer lingers to batch sends: concurrent callers
 * each submit one item, and the items that arrive while a commit is in flight share the next
 * one. With nothing in flight an item is written at once (no added latency when idle); under
 * load one transaction carries many requests, so the commit (an fsync) is paid once per batch.
 *
 * `write` gets items in submission order and returns one result per item. If it throws for a
 * batch of several, each item is written on its own, so one bad item fails only its caller.
 */
export class GroupCommit<I, O> {
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;
  private closed = false;
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly write: (items: I[]) => Promise<O[]>,
    private readonly options: {
      /** Items per transaction (default 1000). */
      maxBatch?: number;
      /** Transactions in flight at once (default 2: one commits while the next fills). */
      concurrency?: number;
    } = {},
  ) {}

  submit(item: I): Promise<O> {
    if (this.closed) return Promise.reject(new Error('group commit closed'));
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      // The rest of this tick's requests join before the first write starts.
      if (this.queue.length === 1) setImmediate(() => this.pump());
    });
  }

  /** Refuse new items and wait for those already submitted. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.inFlight > 0 || this.queue.length > 0) {
      this.pump();
      await new Promise<void>((r) => this.idle.push(r));
    }
  }

  private pump(): void {
    const max = this.options.maxBatch ?? 1000;
    while (this.queue.length > 0 && this.inFlight < (this.options.concurrency ?? 2)) {
      const batch = this.queue.splice(0, max);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
        for (const r of this.idle.splice(0)) r();
      });
    }
  }

  private async run(batch: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[]): Promise<void> {
    try {
      const results = await this.write(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(results[i]!));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      for (const b of batch) {
        try {
          const [result] = await this.write([b.item]);
          b.resolve(result!);
        } catch (e) {
          b.reject(e);
        }
      }
    }
  }
}
