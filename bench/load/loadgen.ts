// The load generator, in its own process so it never shares the server's event loop: wrk's closed
// loop for max-rate runs (wrk.ts; autocannon's where wrk is not installed), an open loop
// (open-loop.ts) for fixed-rate ones.
// Started by bench/load/run-load.ts with the path of a LoadSpec JSON file; answers over IPC.
import fs from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import { tell } from '../lib/child.js';
import { createBodies, recipientPool } from '../lib/workload.js';
import { type ResponseCounts, type OutgoingRequest, runOpenLoop } from './open-loop.js';
import { type LoadResult, type LoadSpec, WARMUP_SECONDS } from './spec.js';
import { findWrk, runWrk, type WrkRequests, type WrkSummary, wrkVersion, writeWrkScript } from './wrk.js';

const spec = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as LoadSpec;
const auth = { authorization: `Bearer ${spec.apiKey}` };

/** Makes each request: a fresh body and Idempotency-Key per create, a random id per get. */
function requestFactory(): () => OutgoingRequest {
  const target = spec.target;
  switch (target.kind) {
    case 'healthz':
      return () => ({ method: 'GET', path: '/healthz', headers: {} });
    case 'get': {
      const ids = target.ids;
      return () => ({ method: 'GET', path: `/v1/withdrawals/${ids[Math.floor(Math.random() * ids.length)]}`, headers: auth });
    }
    case 'create': {
      const next = createBodies(target.workload, recipientPool(target.recipients));
      let n = 0;
      return () => ({
        method: 'POST',
        path: '/v1/withdrawals',
        headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': `${target.keyPrefix}-${process.pid}-${++n}` },
        body: JSON.stringify(next()),
      });
    }
  }
}

/** The same requests for wrk: a pool of bodies (or ids) made by the same code, drawn per request. */
function wrkRequests(): WrkRequests {
  const target = spec.target;
  switch (target.kind) {
    case 'healthz':
      return { sample: { method: 'GET', path: '/healthz', headers: {} }, vary: null, keyPrefix: null };
    case 'get': {
      const ids = target.ids;
      return { sample: next(), vary: { field: 'path', make: () => `/v1/withdrawals/${ids[Math.floor(Math.random() * ids.length)]}`, pool: Math.min(ids.length, 20_000) }, keyPrefix: null };
    }
    case 'create':
      return { sample: next(), vary: { field: 'body', make: () => next().body!, pool: 20_000 }, keyPrefix: `${target.keyPrefix}-${process.pid}-` };
  }
}

const next = requestFactory();
const wrk = spec.rate || spec.amount ? null : findWrk();
const generator = spec.rate ? 'open loop (open-loop.ts)' : wrk ? `wrk ${wrkVersion(wrk)}, 1 thread` : 'autocannon';
const counts: ResponseCounts = { requests: 0, ok2xx: 0, non2xx: 0, statusCodes: {}, errors: 0, timeouts: 0 };
const histogram = () => hdr.build({ bitBucketSize: 64, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });

/** As fast as the server answers: autocannon's closed loop over `connections`. Latencies in whole ms. */
async function maxRateAutocannon(latencies: hdr.Histogram): Promise<void> {
  const options: autocannon.Options & { histograms: { latencies: hdr.Histogram } } = {
    url: spec.url,
    connections: spec.connections,
    // /healthz is the HTTP ceiling: one fixed request, nothing made per send.
    requests: [spec.target.kind === 'healthz' ? { method: 'GET', path: '/healthz' } : { setupRequest: (req) => ({ ...req, ...next() }) }],
    timeout: 30,
    histograms: { latencies },
    ...(spec.amount ? { amount: spec.amount } : { duration: spec.durationSeconds ?? 10 }),
  };
  // Without a callback autocannon returns its event emitter, made thenable.
  const instance = autocannon(options) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on('response', (_client: unknown, statusCode: number) => {
    counts.requests += 1;
    if (statusCode >= 200 && statusCode < 300) counts.ok2xx += 1;
  });
  const r = await instance;
  counts.non2xx = r.non2xx;
  counts.errors = r.errors;
  counts.timeouts = r.timeouts;
  for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) counts.statusCodes[code] = (v as { count: number }).count;
}

/**
 * As fast as the server answers, with wrk: a run of WARMUP_SECONDS, then the measured run on fresh
 * connections (wrk reports only at its end, so the warm-up is a run of its own). Latencies in µs,
 * of the measured run.
 */
async function maxRateWrk(wrkPath: string): Promise<{ latenciesUs: WrkSummary['latencyUs']; measured: { seconds: number; ok2xx: number } | null }> {
  const total = spec.durationSeconds ?? 10;
  const script = writeWrkScript(path.dirname(process.argv[2]!), `${spec.target.kind}-${process.pid}`, wrkRequests());
  const run = async (tag: string, seconds: number) => {
    const r = await runWrk({ wrk: wrkPath, url: spec.url, script: script(tag), connections: spec.connections, seconds, timeoutSeconds: 30 });
    const ok = r.requests - r.statusErrors;
    counts.requests += r.requests;
    counts.ok2xx += ok;
    counts.non2xx += r.statusErrors;
    counts.errors += r.socketErrors;
    counts.timeouts += r.timeouts;
    if (r.statusErrors > 0) counts.statusCodes['400-599'] = (counts.statusCodes['400-599'] ?? 0) + r.statusErrors;
    counts.statusCodes['2xx-399'] = (counts.statusCodes['2xx-399'] ?? 0) + ok;
    return { ...r, ok };
  };
  // A run too short to leave out a warm-up (--quick) is measured whole.
  if (total < 2 * WARMUP_SECONDS) {
    const r = await run('all', total);
    return { latenciesUs: r.latencyUs, measured: null };
  }
  wrkWarmingUp = true;
  await run('warmup', WARMUP_SECONDS);
  // Where the sustained window starts, for the caller's CPU readings: now, not at a tick that may
  // fall just before the warm-up run has ended.
  wrkWarmingUp = false;
  await tell({ type: 'tick', ok2xx: counts.ok2xx, requests: counts.requests, seconds: Math.max(WARMUP_SECONDS, (Date.now() - started) / 1000) });
  const r = await run('measured', total - WARMUP_SECONDS);
  return { latenciesUs: r.latencyUs, measured: { seconds: r.seconds, ok2xx: r.ok } };
}

const started = Date.now();
/** While wrk's warm-up run lasts, ticks stay short of the warm-up's end (wrk.ts runs it apart). */
let wrkWarmingUp = false;
/** 2xx count at the first tick past the warm-up, for the sustained rate. */
let afterWarmup = null as { seconds: number; ok2xx: number } | null;
const ticker = setInterval(() => {
  const elapsed = (Date.now() - started) / 1000;
  const seconds = wrkWarmingUp ? Math.min(elapsed, WARMUP_SECONDS * 0.999) : elapsed;
  if (afterWarmup === null && seconds >= WARMUP_SECONDS) afterWarmup = { seconds, ok2xx: counts.ok2xx };
  void tell({ type: 'tick', ok2xx: counts.ok2xx, requests: counts.requests, seconds }).catch(() => undefined);
}, 1_000);

try {
  const ms = (v: number, unitMs: number) => Math.round(v * unitMs * 10) / 10;
  const fromHistogram = (h: hdr.Histogram, unitMs: number): LoadResult['latencyMs'] => ({
    p50: ms(h.getValueAtPercentile(50), unitMs),
    p95: ms(h.getValueAtPercentile(95), unitMs),
    p99: ms(h.getValueAtPercentile(99), unitMs),
    max: ms(h.maxValue, unitMs),
    mean: ms(h.mean, unitMs),
  });
  let latencyMs: LoadResult['latencyMs'];
  /** The sustained rate's window, when the generator measured it apart from the warm-up. */
  let measured: { seconds: number; ok2xx: number } | null | undefined;
  if (spec.rate) {
    const latencies = histogram();
    await runOpenLoop({ url: spec.url, rate: spec.rate, connections: spec.connections, requests: spec.amount ?? Math.round(spec.rate * (spec.durationSeconds ?? 10)), timeoutSeconds: 30, next, latenciesUs: latencies, counts });
    latencyMs = fromHistogram(latencies, 0.001);
  } else if (wrk) {
    const r = await maxRateWrk(wrk);
    const { p50, p95, p99, max, mean } = r.latenciesUs;
    latencyMs = { p50: ms(p50, 0.001), p95: ms(p95, 0.001), p99: ms(p99, 0.001), max: ms(max, 0.001), mean: ms(mean, 0.001) };
    measured = r.measured;
  } else {
    const latencies = histogram();
    await maxRateAutocannon(latencies);
    latencyMs = fromHistogram(latencies, 1);
  }
  clearInterval(ticker);
  const durationSeconds = (Date.now() - started) / 1000;
  const result: LoadResult = {
    kind: spec.target.kind,
    mode: spec.rate ? 'fixed-rate' : 'max-rate',
    requestedRate: spec.rate ?? null,
    connections: spec.connections,
    durationSeconds,
    ...counts,
    rate2xx: counts.ok2xx / durationSeconds,
    rate2xxAfterWarmup:
      measured !== undefined
        ? measured && measured.ok2xx / measured.seconds
        : // At least as long again as the warm-up left, or the whole run stands.
          afterWarmup && durationSeconds - afterWarmup.seconds >= WARMUP_SECONDS
          ? (counts.ok2xx - afterWarmup.ok2xx) / (durationSeconds - afterWarmup.seconds)
          : null,
    warmupSeconds: WARMUP_SECONDS,
    generator,
    latencyMs,
  };
  await tell({ type: 'result', result });
} catch (err) {
  clearInterval(ticker);
  await tell({ type: 'error', message: (err as Error).stack ?? String(err) });
}
process.exit(0);
