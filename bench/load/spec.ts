import type { WorkloadSpec } from '../lib/workload.js';

/** Left out of a closed loop's sustained rate: the first seconds go to opening connections and warming both sides' JIT. */
export const WARMUP_SECONDS = 2;

/** What one load-generator run sends. */
export type LoadTarget =
  /** POST /v1/withdrawals with a unique Idempotency-Key and a fresh realistic body per request. */
  | { kind: 'create'; workload: WorkloadSpec; keyPrefix: string; recipients: number }
  /** GET /v1/withdrawals/{id} over these ids at random. */
  | { kind: 'get'; ids: string[] }
  /** GET /healthz: the server's HTTP ceiling (no auth, no database). */
  | { kind: 'healthz' };

export type LoadSpec = {
  url: string;
  apiKey: string;
  target: LoadTarget;
  connections: number;
  /** Fixed-rate mode (requests/s over all connections); absent = as fast as the server answers. */
  rate?: number;
  durationSeconds?: number;
  /** Stop after this many requests (overrides the duration). */
  amount?: number;
};

export type LoadResult = {
  kind: LoadTarget['kind'];
  mode: 'fixed-rate' | 'max-rate';
  requestedRate: number | null;
  connections: number;
  durationSeconds: number;
  requests: number;
  ok2xx: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  /** 2xx answers per second over the whole run. */
  rate2xx: number;
  /**
   * 2xx answers per second after the first `warmupSeconds` (connections opening, both sides'
   * JIT): the max sustained rate of a closed loop. Null when the run was too short to leave one out.
   */
  rate2xxAfterWarmup: number | null;
  warmupSeconds: number;
  /** What made the load: wrk or autocannon (closed loop), or the open loop. */
  generator: string;
  /** 2xx latencies: fixed-rate from when each request was due (open-loop.ts), 0.1 ms resolution; max-rate wrk's in 0.1 ms (of every answer, as it does not split them by status), autocannon's in whole ms. */
  latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number };
};

/** A tick's `seconds` run from when the load started (the generator's clock, not its process's start). */
export type LoadMessage = { type: 'tick'; ok2xx: number; requests: number; seconds: number } | { type: 'result'; result: LoadResult } | { type: 'error'; message: string };
