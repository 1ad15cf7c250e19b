// The load generator, in its own process so it never shares the server's event loop: autocannon's
// closed loop for max-rate runs, an open loop (open-loop.ts) for fixed-rate ones.
// Started by bench/load/run-load.ts with the path of a LoadSpec JSON file; answers over IPC.
import fs from 'node:fs';
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import { tell } from '../lib/child.js';
import { createBodies, recipientPool } from '../lib/workload.js';
import { type ResponseCounts, type OutgoingRequest, runOpenLoop } from './open-loop.js';
import { type LoadResult, type LoadSpec, WARMUP_SECONDS } from './spec.js';

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

const next = requestFactory();
const counts: ResponseCounts = { requests: 0, ok2xx: 0, non2xx: 0, statusCodes: {}, errors: 0, timeouts: 0 };
const histogram = () => hdr.build({ bitBucketSize: 64, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });

/** As fast as the server answers: autocannon's closed loop over `connections`. Latencies in whole ms. */
async function maxRate(latencies: hdr.Histogram): Promise<void> {
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

const started = Date.now();
/** 2xx count at the first tick past the warm-up, for the sustained rate. */
let afterWarmup = null as { seconds: number; ok2xx: number } | null;
const ticker = setInterval(() => {
  const seconds = (Date.now() - started) / 1000;
  if (afterWarmup === null && seconds >= WARMUP_SECONDS) afterWarmup = { seconds, ok2xx: counts.ok2xx };
  void tell({ type: 'tick', ok2xx: counts.ok2xx, requests: counts.requests, seconds }).catch(() => undefined);
}, 1_000);

try {
  const latencies = histogram();
  // Open-loop latencies are in µs, autocannon's in ms.
  let unitMs = 1;
  if (spec.rate) {
    unitMs = 0.001;
    await runOpenLoop({ url: spec.url, rate: spec.rate, connections: spec.connections, requests: spec.amount ?? Math.round(spec.rate * (spec.durationSeconds ?? 10)), timeoutSeconds: 30, next, latenciesUs: latencies, counts });
  } else {
    await maxRate(latencies);
  }
  clearInterval(ticker);
  const durationSeconds = (Date.now() - started) / 1000;
  const ms = (v: number) => Math.round(v * unitMs * 10) / 10;
  const result: LoadResult = {
    kind: spec.target.kind,
    mode: spec.rate ? 'fixed-rate' : 'max-rate',
    requestedRate: spec.rate ?? null,
    connections: spec.connections,
    durationSeconds,
    ...counts,
    rate2xx: counts.ok2xx / durationSeconds,
    // At least as long again as the warm-up left, or the whole run stands.
    rate2xxAfterWarmup: afterWarmup && durationSeconds - afterWarmup.seconds >= WARMUP_SECONDS ? (counts.ok2xx - afterWarmup.ok2xx) / (durationSeconds - afterWarmup.seconds) : null,
    warmupSeconds: WARMUP_SECONDS,
    latencyMs: {
      p50: ms(latencies.getValueAtPercentile(50)),
      p95: ms(latencies.getValueAtPercentile(95)),
      p99: ms(latencies.getValueAtPercentile(99)),
      max: ms(latencies.maxValue),
      mean: ms(latencies.mean),
    },
  };
  await tell({ type: 'result', result });
} catch (err) {
  clearInterval(ticker);
  await tell({ type: 'error', message: (err as Error).stack ?? String(err) });
}
process.exit(0);
