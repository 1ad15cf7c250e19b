// The load generator: autocannon in its own process, so it never shares the server's event loop.
// Started by bench/load/run-load.ts with the path of a LoadSpec JSON file; answers over IPC.
import fs from 'node:fs';
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import { tell } from '../lib/child.js';
import { createBodies, recipientPool } from '../lib/workload.js';
import type { LoadResult, LoadSpec } from './spec.js';

const spec = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as LoadSpec;
const auth = { authorization: `Bearer ${spec.apiKey}` };

function requestFor(): autocannon.Request {
  const target = spec.target;
  switch (target.kind) {
    case 'healthz':
      return { method: 'GET', path: '/healthz' };
    case 'get': {
      const ids = target.ids;
      return {
        method: 'GET',
        path: '/v1/withdrawals/x',
        headers: auth,
        setupRequest: (req) => ({ ...req, path: `/v1/withdrawals/${ids[Math.floor(Math.random() * ids.length)]}` }),
      };
    }
    case 'create': {
      const next = createBodies(target.workload, recipientPool(target.recipients));
      let n = 0;
      return {
        method: 'POST',
        path: '/v1/withdrawals',
        setupRequest: (req) => ({
          ...req,
          headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': `${target.keyPrefix}-${process.pid}-${++n}` },
          body: JSON.stringify(next()),
        }),
      };
    }
  }
}

// Our own histogram (same settings as autocannon's) so P95 can be read; autocannon records into it,
// with its coordinated-omission correction in fixed-rate mode.
const latencies = hdr.build({ bitBucketSize: 64, autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 60_000, numberOfSignificantValueDigits: 3 });

const options: autocannon.Options & { histograms: { latencies: hdr.Histogram } } = {
  url: spec.url,
  connections: spec.connections,
  requests: [requestFor()],
  timeout: 30,
  histograms: { latencies },
  ...(spec.rate ? { overallRate: spec.rate } : {}),
  ...(spec.amount ? { amount: spec.amount } : { duration: spec.durationSeconds ?? 10 }),
};

const started = Date.now();
let requests = 0;
let ok2xx = 0;
// Without a callback autocannon returns its event emitter, made thenable.
const instance = autocannon(options) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
instance.on('response', (_client: unknown, statusCode: number) => {
  requests += 1;
  if (statusCode >= 200 && statusCode < 300) ok2xx += 1;
});
const ticker = setInterval(() => void tell({ type: 'tick', ok2xx, requests }).catch(() => undefined), 1_000);

try {
  const r = await instance;
  clearInterval(ticker);
  const durationSeconds = (Date.now() - started) / 1000;
  const statusCodes: Record<string, number> = {};
  for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = (v as { count: number }).count;
  const result: LoadResult = {
    kind: spec.target.kind,
    mode: spec.rate ? 'fixed-rate' : 'max-rate',
    requestedRate: spec.rate ?? null,
    connections: spec.connections,
    durationSeconds,
    requests: requests,
    ok2xx,
    non2xx: r.non2xx,
    statusCodes,
    errors: r.errors,
    timeouts: r.timeouts,
    rate2xx: ok2xx / durationSeconds,
    latencyMs: {
      p50: latencies.getValueAtPercentile(50),
      p95: latencies.getValueAtPercentile(95),
      p99: latencies.getValueAtPercentile(99),
      max: latencies.maxValue,
      mean: Math.round(latencies.mean * 100) / 100,
    },
  };
  await tell({ type: 'result', result });
} catch (err) {
  clearInterval(ticker);
  await tell({ type: 'error', message: (err as Error).stack ?? String(err) });
}
process.exit(0);
