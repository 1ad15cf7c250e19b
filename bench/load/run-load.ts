import fs from 'node:fs';
import path from 'node:path';
import { spawnBenchChild } from '../lib/child.js';
import type { LoadMessage, LoadResult, LoadSpec } from './spec.js';

/** Runs one autocannon load in a separate process and returns what it measured. */
export async function runLoad(spec: LoadSpec, options: { workDir: string; label: string; onTick?: (ok2xx: number, requests: number, seconds: number, loadSeconds: number) => void }): Promise<LoadResult> {
  const specFile = path.join(options.workDir, `load-${options.label}-${Date.now()}.json`);
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const child = spawnBenchChild<LoadMessage>('bench/load/loadgen.ts', [specFile], { logFile: path.join(options.workDir, 'loadgen.log') });
  const started = Date.now();
  const onMessage = (m: LoadMessage) => {
    if (m.type === 'tick') options.onTick?.(m.ok2xx, m.requests, (Date.now() - started) / 1000, m.seconds);
  };
  child.process.on('message', onMessage);
  const budgetMs = ((spec.durationSeconds ?? 0) + 120) * 1000 + (spec.amount ? 600_000 : 0);
  try {
    const m = await child.message((x): x is Extract<LoadMessage, { type: 'result' | 'error' }> => x.type === 'result' || x.type === 'error', budgetMs);
    if (m.type === 'error') throw new Error(`load generator failed: ${m.message}`);
    return m.result;
  } finally {
    child.process.off('message', onMessage);
    await child.stop(2_000);
  }
}
