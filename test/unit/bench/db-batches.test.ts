import { describe, expect, it } from 'vitest';
import { dbBatchWindow, describeDbBatches, parseDbBatches } from '../../../bench/lib/db-batches.js';
import { createMetrics } from '../../../src/observability/metrics.js';

/** The bench reads the batch histogram as a running process exposes it: through prom-client's own text. */
describe('bench db-batches', () => {
  const text = async (metrics: ReturnType<typeof createMetrics>) => metrics.registry.metrics();

  it('reads the batches of one kind between two scrapes: count, items, mean, and the bucket bounds of P99 and the slowest', async () => {
    const metrics = createMetrics();
    metrics.dbBatchSeconds.observe({ batch: 'intake' }, 0.004);
    metrics.dbBatchRows.inc({ batch: 'intake' }, 500);
    metrics.dbBatchSeconds.observe({ batch: 'move' }, 3);
    const before = parseDbBatches(await text(metrics));

    // 100 batches of 10 items: 98 at 3 ms, one at 40 ms, one at 700 ms.
    for (let i = 0; i < 98; i++) metrics.dbBatchSeconds.observe({ batch: 'intake' }, 0.003);
    metrics.dbBatchSeconds.observe({ batch: 'intake' }, 0.04);
    metrics.dbBatchSeconds.observe({ batch: 'intake' }, 0.7);
    metrics.dbBatchRows.inc({ batch: 'intake' }, 1_000);
    const after = parseDbBatches(await text(metrics));

    const w = dbBatchWindow(before, after, 'intake')!;
    expect(w).toEqual({ batches: 100, meanItems: 10, meanMs: 10.34, p99AtMostMs: 50, slowestAtMostMs: 1000 });
    expect(describeDbBatches(w)).toBe('100 batches, mean size 10, mean 10.34 ms, P99 ≤ 50 ms, slowest ≤ 1000 ms');
    // Nothing of a kind between the two scrapes, or never seen: no window.
    expect(dbBatchWindow(before, after, 'move')).toBeUndefined();
    expect(dbBatchWindow(before, after, 'reserve')).toBeUndefined();
    expect(describeDbBatches(undefined)).toBe('no batches');
  });

  it('says a batch slower than the largest bucket is beyond it, not at it', async () => {
    const metrics = createMetrics();
    const before = parseDbBatches(await text(metrics));
    metrics.dbBatchSeconds.observe({ batch: 'store' }, 9);
    metrics.dbBatchRows.inc({ batch: 'store' }, 3);
    const w = dbBatchWindow(before, parseDbBatches(await text(metrics)), 'store')!;
    expect(w).toMatchObject({ batches: 1, meanItems: 3, p99AtMostMs: null, slowestAtMostMs: null });
    expect(describeDbBatches(w)).toBe('1 batch, mean size 3, mean 9000 ms, P99 > 5 s, slowest > 5 s');
  });
});
