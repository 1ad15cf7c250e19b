import { setMaxListeners } from 'node:events';
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

/**
 * The controller whose signal is `Common.signal`. Every wait of every message in flight listens on
 * that one signal (sleep(), a queue's long poll, an RPC call), up to SLUICE_SIGNER_CONCURRENCY of
 * them at once, each removing its listener when it ends. Node's default limit of 10 listeners
 * would print "Possible EventTarget memory leak detected" for what is only a busy process.
 */
export function createShutdownController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

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
