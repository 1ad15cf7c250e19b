import v8 from 'node:v8';
import type { Config } from '../config/schema.js';

/**
 * How far V8 lets the heap grow past what the last full collection left alive before it collects
 * again (SLUICE_HEAP_GROWTH_PERCENT). Under load V8's own heuristic lets an API process grow its
 * heap to about four times its live set before a full collection: a process living on ~40 MB held
 * ~140 MB, and RSS passed 250 MB. At 50% it stays near 190 MB for no measurable throughput
 * (bench api-sqlite, same hour: 5,542/s by V8's heuristic, 5,407/s at 50%). It only paces
 * collections; it never limits what may be alive (--max-old-space-size would, by crashing).
 * V8 flags are process-wide, so this covers the SQLite write worker's heap too.
 */
export function applyHeapGrowth(config: Pick<Config, 'heapGrowthPercent'>): void {
  if (config.heapGrowthPercent > 0) v8.setFlagsFromString(`--heap-growing-percent=${config.heapGrowthPercent}`);
}
