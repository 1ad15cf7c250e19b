/** Nearest-rank percentile of unsorted samples (copy sorted once per call set via `percentiles`). */
export function percentiles(samples: number[], ps: number[]): Record<string, number | null> {
  const sorted = [...samples].sort((a, b) => a - b);
  const out: Record<string, number | null> = {};
  for (const p of ps) {
    out[`p${p}`] = sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  }
  return out;
}

export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export function median(values: number[]): number | null {
  return percentiles(values, [50]).p50 ?? null;
}

/**
 * Events per second between the first and the last of `times` (ms): the rate a stage kept up
 * while work kept coming, with the latency before its first event not counted against it. Fewer
 * than two events, or all at one instant, give 0.
 */
export function ratePerSecondBetween(times: number[]): number {
  if (times.length < 2) return 0;
  let first = Infinity;
  let last = -Infinity;
  for (const t of times) {
    if (t < first) first = t;
    if (t > last) last = t;
  }
  return last > first ? (times.length - 1) / ((last - first) / 1000) : 0;
}
