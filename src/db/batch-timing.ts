import type { Metrics } from '../observability/metrics.js';

/**
 * The hot paths' batched write transactions, one label each: the API's group commit (intake),
 * the signer's nonce reservations (reserve) and signature stores (store), the sender's acceptance
 * marks (accept), the tracker's moves (move) and confirmation counts (confirm).
 */
export type DbBatch = 'intake' | 'reserve' | 'store' | 'accept' | 'move' | 'confirm';

/**
 * Runs one batched write and records how long it took and how many items it carried, whether it
 * committed or failed: a commit that stalls (a checkpoint, a lock wait, a slow disk) holds every
 * caller of its batch, and this is where an operator sees it (alert SluiceDatabaseWritesSlow).
 */
export async function timeDbBatch<T>(metrics: Pick<Metrics, 'dbBatchSeconds' | 'dbBatchRows'>, batch: DbBatch, items: number, run: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await run();
  } finally {
    metrics.dbBatchSeconds.observe({ batch }, (performance.now() - start) / 1000);
    metrics.dbBatchRows.inc({ batch }, items);
  }
}
