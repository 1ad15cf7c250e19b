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

/**
 * Independent PRNG streams derived from one seed: stream `name` always gets the same sequence for
 * the same seed, whatever the other streams consumed (so adding a chaos kind does not reshuffle
 * the workload).
 */
export function deriveRandom(seed: number, name: string): () => number {
  let h = seed >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  const mix = seededRandom(h);
  mix();
  return seededRandom(Math.floor(mix() * 4294967296));
}

export type FaultRates = {
  /** Fail without forwarding: the node never saw the call (HTTP 503, or a JSON-RPC "rate limited"/"internal error"). */
  failBefore: number;
  /** Forward, then answer 502: the call took effect but the caller cannot know. */
  failAfter: number;
  /** Forward after a delay. */
  delay: number;
  /** Hang for `timeoutMs`, then drop the connection without an answer; the call is forwarded half of the time. */
  timeout?: number;
  /** How long a `delay` fault waits: uniform in [min, max] ms (default 150–150). */
  delayMs?: [number, number];
  /** How long a `timeout` fault hangs before dropping the connection (default 2500). */
  timeoutMs?: number;
  /** The first N broadcasts always lose their response, so that path is exercised on every seed. */
  loseFirstBroadcasts?: number;
};

export type FaultKind = 'ok' | 'failBefore' | 'failAfter' | 'delay' | 'timeout';

export type FaultyRpc = {
  url: string;
  /** Faults are injected only while true (e.g. off while the stack boots). */
  enabled: boolean;
  /** Fault rates; may be replaced while running. */
  rates: FaultRates;
  counts: Record<FaultKind, number>;
  /** Lost responses to eth_sendRawTransaction: broadcasts the node took but Sluice was told failed. */
  lostBroadcasts: number;
  /** Calls seen per JSON-RPC method (a batch counts each of its calls). */
  methods: Record<string, number>;
  close(): Promise<void>;
};

/**
 * A JSON-RPC proxy in front of a real node that injects faults at seeded random: failed requests
 * (never forwarded), lost responses (forwarded, then an error: the nasty one for broadcasts),
 * timeouts (a hang past the client's timeout, then a dropped connection) and latency. Handles
 * JSON-RPC batches (viem batches calls): a fault hits the whole HTTP request.
 *
 * `seed` may be a number or a PRNG from `seededRandom`/`deriveRandom`. One roll per request while
 * enabled, so the fault sequence is fixed by the seed; which request gets which roll depends on
 * timing.
 */
export async function startFaultyRpc(upstream: string, seed: number | (() => number), rates: FaultRates): Promise<FaultyRpc> {
  const random = typeof seed === 'number' ? seededRandom(seed) : seed;
  const counts: Record<FaultKind, number> = { ok: 0, failBefore: 0, failAfter: 0, delay: 0, timeout: 0 };
  const methods: Record<string, number> = {};
  let lostBroadcasts = 0;

  function pick(roll: number): FaultKind {
    const r = proxy.rates;
    let edge = r.failBefore;
    if (roll < edge) return 'failBefore';
    if (roll < (edge += r.failAfter)) return 'failAfter';
    if (roll < (edge += r.timeout ?? 0)) return 'timeout';
    if (roll < (edge += r.delay)) return 'delay';
    return 'ok';
  }

  async function forward(body: string): Promise<{ status: number; text: string }> {
    const upstreamRes = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: upstreamRes.status, text: await upstreamRes.text() };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const calls = parseCalls(body);
      for (const c of calls) methods[c.method] = (methods[c.method] ?? 0) + 1;
      const isBroadcast = calls.some((c) => c.method === 'eth_sendRawTransaction');
      const enabled = proxy.enabled;
      const roll = enabled ? random() : 1;
      // A second roll, always taken while enabled, picks details (which error, how long a delay).
      const detail = enabled ? random() : 0;
      const forcedLoss = enabled && isBroadcast && lostBroadcasts < (proxy.rates.loseFirstBroadcasts ?? 0);
      const fault: FaultKind = forcedLoss ? 'failAfter' : pick(roll);
      counts[fault] += 1;
      try {
        if (fault === 'failBefore') {
          if (detail < 0.5 || calls.length === 0) {
            res.writeHead(503).end('injected: service unavailable');
          } else {
            // A node that answers with a JSON-RPC error it means as "try again".
            const error = detail < 0.75 ? { code: -32005, message: 'injected: rate limit exceeded' } : { code: -32603, message: 'injected: internal error' };
            const answers = calls.map((c) => ({ jsonrpc: '2.0', id: c.id, error }));
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Array.isArray(safeParse(body)) ? answers : answers[0]));
          }
          return;
        }
        if (fault === 'timeout') {
          const forwarded = detail < 0.5 ? forward(body).catch(() => undefined) : undefined;
          if (forwarded && isBroadcast) lostBroadcasts += 1;
          await new Promise((r) => setTimeout(r, proxy.rates.timeoutMs ?? 2500));
          await forwarded;
          res.socket?.destroy();
          return;
        }
        if (fault === 'delay') {
          const [min, max] = proxy.rates.delayMs ?? [150, 150];
          await new Promise((r) => setTimeout(r, min + detail * (max - min)));
        }
        const answer = await forward(body);
        if (fault === 'failAfter') {
          if (isBroadcast) lostBroadcasts += 1;
          res.writeHead(502).end('injected: bad gateway after forwarding');
          return;
        }
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.text);
      } catch {
        if (!res.headersSent && !res.destroyed) res.writeHead(502).end('upstream unreachable');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  const proxy: FaultyRpc = {
    url: `http://127.0.0.1:${address.port}`,
    enabled: false,
    rates: { ...rates },
    counts,
    methods,
    get lostBroadcasts() {
      return lostBroadcasts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return proxy;
}

function safeParse(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function parseCalls(body: string): Array<{ id: unknown; method: string }> {
  const parsed = safeParse(body);
  const list = Array.isArray(parsed) ? parsed : parsed ? [parsed] : [];
  return list
    .filter((c): c is { id: unknown; method: string } => typeof c === 'object' && c !== null && typeof (c as { method?: unknown }).method === 'string')
    .map((c) => ({ id: c.id, method: c.method }));
}
