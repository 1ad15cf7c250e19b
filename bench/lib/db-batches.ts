import { round } from './stats.js';

/** One batch kind's series (sluice_db_batch_seconds, sluice_db_batch_rows_total) at one moment. */
type Series = { count: number; sum: number; items: number; buckets: Array<{ le: number; count: number }> };
/** Every batch kind's series, read from a Prometheus text exposition. */
export type DbBatchSnapshot = Map<string, Series>;

/** What one batch kind did between two snapshots. */
export type DbBatchWindow = {
  batches: number;
  meanItems: number;
  meanMs: number;
  /** Upper bound of the histogram bucket that holds the 99th percentile (the buckets' resolution, not interpolated). */
  p99AtMostMs: number | null;
  /** Upper bound of the highest bucket any batch fell in (null: above the largest bound). */
  slowestAtMostMs: number | null;
};

const LINE = /^(sluice_db_batch_(?:seconds_bucket|seconds_count|seconds_sum|rows_total))\{([^}]*)\} (\S+)$/;

/** Reads the two batch metrics from /metrics text (or prom-client's registry text). */
export function parseDbBatches(text: string): DbBatchSnapshot {
  const out: DbBatchSnapshot = new Map();
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    const batch = labels.batch;
    if (!batch) continue;
    const s = out.get(batch) ?? { count: 0, sum: 0, items: 0, buckets: [] };
    out.set(batch, s);
    const value = Number(m[3]);
    if (m[1] === 'sluice_db_batch_seconds_bucket') s.buckets.push({ le: labels.le === '+Inf' ? Infinity : Number(labels.le), count: value });
    else if (m[1] === 'sluice_db_batch_seconds_count') s.count = value;
    else if (m[1] === 'sluice_db_batch_seconds_sum') s.sum = value;
    else s.items = value;
  }
  for (const s of out.values()) s.buckets.sort((a, b) => a.le - b.le);
  return out;
}

/** The batches of one kind between `before` and `after`; undefined when there were none. */
export function dbBatchWindow(before: DbBatchSnapshot, after: DbBatchSnapshot, batch: string): DbBatchWindow | undefined {
  const a = after.get(batch);
  if (!a) return undefined;
  const b = before.get(batch);
  const batches = a.count - (b?.count ?? 0);
  if (batches <= 0) return undefined;
  const counts = a.buckets.map((bucket) => ({ le: bucket.le, count: bucket.count - (b?.buckets.find((x) => x.le === bucket.le)?.count ?? 0) }));
  const bound = (le: number) => (Number.isFinite(le) ? round(le * 1000, 1) : null);
  const p99 = counts.find((c) => c.count >= batches * 0.99);
  const slowest = counts.find((c) => c.count >= batches);
  return {
    batches,
    meanItems: round((a.items - (b?.items ?? 0)) / batches, 1),
    meanMs: round(((a.sum - (b?.sum ?? 0)) / batches) * 1000, 2),
    p99AtMostMs: p99 ? bound(p99.le) : null,
    slowestAtMostMs: slowest ? bound(slowest.le) : null,
  };
}

/** One line for a report: "1,234 batches, mean size 41.2, mean 3.1 ms, P99 ≤ 10 ms, slowest ≤ 25 ms". */
export function describeDbBatches(w: DbBatchWindow | undefined): string {
  if (!w) return 'no batches';
  const atMost = (ms: number | null) => (ms === null ? '> 5 s' : `≤ ${ms} ms`);
  return `${w.batches.toLocaleString('en-US')} ${w.batches === 1 ? 'batch' : 'batches'}, mean size ${w.meanItems}, mean ${w.meanMs} ms, P99 ${atMost(w.p99AtMostMs)}, slowest ${atMost(w.slowestAtMostMs)}`;
}
