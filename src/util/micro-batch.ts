/**
 * Gathers single calls into batches: what arrives while a batch runs goes into the next one, so
 * a lone call runs at once (no added latency when idle) and batches grow with load (one database
 * transaction, one commit for many callers under pressure). Each caller gets its own result.
 *
 * When a batch of several fails, its items are run again one by one: one bad item (a bug, a row
 * that breaks a constraint) then fails only its own caller, never the others it happened to be
 * batched with.
 */
export type MicroBatcher<I, O> = { submit(item: I): Promise<O> };

type Pending<I, O> = { item: I; resolve: (value: O) => void; reject: (reason: unknown) => void };

export function createMicroBatcher<I, O>(options: {
  /** Runs one batch; must return one result per item, in order. */
  run: (items: I[]) => Promise<O[]>;
  maxSize: number;
  /** Batches that may run at once (1 for SQLite's single writer). */
  concurrency?: number;
  /**
   * Batches that may run at once when the next one is full (`maxSize` items waiting): more of
   * them in flight pays only under a backlog, while at a steady load the same items in more,
   * smaller batches each wait behind the others' commits. Defaults to `concurrency`.
   */
  concurrencyWhenFull?: number;
}): MicroBatcher<I, O> {
  const concurrency = options.concurrency ?? 1;
  const concurrencyWhenFull = Math.max(concurrency, options.concurrencyWhenFull ?? concurrency);
  const mayStart = () => running < concurrency || (running < concurrencyWhenFull && waiting.length >= options.maxSize);
  let waiting: Pending<I, O>[] = [];
  let running = 0;
  let scheduled = false;

  async function runBatch(batch: Pending<I, O>[]): Promise<void> {
    try {
      const items: I[] = [];
      for (const p of batch) items.push(p.item);
      const results = await options.run(items);
      if (results.length !== batch.length) throw new Error(`batch returned ${results.length} results for ${batch.length} items`);
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!);
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      for (const p of batch) await runBatch([p]);
    }
  }

  function pump(): void {
    scheduled = false;
    while (waiting.length > 0 && mayStart()) {
      const batch = waiting.slice(0, options.maxSize);
      waiting = waiting.slice(batch.length);
      running++;
      void runBatch(batch).finally(() => {
        running--;
        schedule();
      });
    }
  }

  // One macrotask later: every caller that got here in the same burst joins the batch.
  function schedule(): void {
    if (scheduled || waiting.length === 0 || !mayStart()) return;
    scheduled = true;
    setImmediate(pump);
  }

  return {
    submit(item: I): Promise<O> {
      return new Promise<O>((resolve, reject) => {
        waiting.push({ item, resolve, reject });
        schedule();
      });
    },
  };
}

/**
 * Batches in flight at once: SQLite has one writer, so more would only queue on its connection;
 * MySQL runs them side by side, and one batch stuck on a dead connection does not hold up the rest.
 */
export function batchConcurrency(db: { dialect: 'sqlite' | 'mysql' }): number {
  return db.dialect === 'mysql' ? 4 : 1;
}
