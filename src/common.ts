import { writeSync } from 'node:fs';
import type { Config } from './config/schema.js';
import type { Logger } from './observability/logger.js';
import type { Metrics } from './observability/metrics.js';

/** What every component gets: settings, logs, metrics, and the signal that says "stop". */
export type Common = {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  signal: AbortSignal;
};

export type CrashPoint = NonNullable<Config['crashAt']>;

/**
 * Test-only fault injection (SLUICE_CRASH_AT): the process kills itself hard at a named point so
 * crash-recovery tests exercise a real SIGKILL at an exact place.
 */
export function crashIfAsked(common: Common, point: CrashPoint): void {
  if (common.config.crashAt !== point) return;
  // Written synchronously: an async log line could still be buffered when SIGKILL lands.
  writeSync(2, `SLUICE_CRASH_AT reached (${point}); killing process\n`);
  process.kill(process.pid, 'SIGKILL');
}
