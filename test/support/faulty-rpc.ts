import http from 'node:http';

/** Small seeded PRNG (mulberry32): the same SEED gives the same fault sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type FaultRates = {
  /** Answer 503 without forwarding: the node never saw the call. */
  failBefore: number;
  /** Forward, then answer 502: the call took effect but the caller cannot know. */
  failAfter: number;
  /** Forward after a delay. */
  delay: number;
  /** The first N broadcasts always lose their response, so that path is exercised on every seed. */
  loseFirstBroadcasts?: number;
};

export type FaultyRpc = {
  url: string;
  /** Faults are injected only while true (e.g. off while the stack boots). */
  enabled: boolean;
  counts: Record<'ok' | 'failBefore' | 'failAfter' | 'delay', number>;
  /** Lost responses to eth_sendRawTransaction: broadcasts the node took but Sluice was told failed. */
  lostBroadcasts: number;
  close(): Promise<void>;
};

/**
 * A JSON-RPC proxy in front of a real node that injects faults at seeded random: dropped
 * requests, lost responses (the nasty one for broadcasts), and latency.
 */
export async function startFaultyRpc(upstream: string, seed: number, rates: FaultRates): Promise<FaultyRpc> {
  const random = seededRandom(seed);
  const counts = { ok: 0, failBefore: 0, failAfter: 0, delay: 0 };
  let lostBroadcasts = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const roll = proxy.enabled ? random() : 1;
      const isBroadcast = body.includes('eth_sendRawTransaction');
      const forcedLoss = proxy.enabled && isBroadcast && lostBroadcasts < (rates.loseFirstBroadcasts ?? 0);
      const fault = forcedLoss
        ? 'failAfter'
        : roll < rates.failBefore
          ? 'failBefore'
          : roll < rates.failBefore + rates.failAfter
            ? 'failAfter'
            : roll < rates.failBefore + rates.failAfter + rates.delay
              ? 'delay'
              : 'ok';
      counts[fault] += 1;
      if (fault === 'failBefore') {
        res.writeHead(503).end('injected: service unavailable');
        return;
      }
      if (fault === 'delay') await new Promise((r) => setTimeout(r, 150));
      try {
        const upstreamRes = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const text = await upstreamRes.text();
        if (fault === 'failAfter') {
          if (isBroadcast) lostBroadcasts += 1;
          res.writeHead(502).end('injected: bad gateway after forwarding');
          return;
        }
        res.writeHead(upstreamRes.status, { 'content-type': 'application/json' }).end(text);
      } catch {
        res.writeHead(502).end('upstream unreachable');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  const proxy: FaultyRpc = {
    url: `http://127.0.0.1:${address.port}`,
    enabled: false,
    counts,
    get lostBroadcasts() {
      return lostBroadcasts;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return proxy;
}
