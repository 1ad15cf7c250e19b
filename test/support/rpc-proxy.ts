import http from 'node:http';
import type { Socket } from 'node:net';

/**
 * How the proxy behaves, switchable at runtime:
 * - pass: forward everything to the node.
 * - down: accept the TCP connection and close it at once, without reading (also cuts idle
 *   keep-alive connections when switched on): a crashed node behind a load balancer.
 * - http503: answer every request with HTTP 503.
 * - hang: read the request and never answer (the client must time out).
 * - stale: a node that stopped following the chain. The head freezes at the node's block number
 *   when staleness started: eth_blockNumber answers it, eth_getBlockByNumber('latest'|'pending')
 *   answers that block, a block above it is null, and eth_getTransactionReceipt answers null for
 *   a tx mined after it. Everything else passes through.
 */
export type ProxyMode = 'pass' | 'down' | 'http503' | 'hang' | 'stale';

export type RpcProxy = {
  url: string;
  /** Setting 'stale' freezes the head asynchronously; requests arriving meanwhile wait for it. */
  mode: ProxyMode;
  /** Sets the mode; for 'stale', resolves once the frozen head is known. */
  setMode(mode: ProxyMode): Promise<void>;
  /** The frozen head while stale, else null. */
  readonly frozenBlock: bigint | null;
  /** JSON-RPC requests received per method (each element of a batch counts), in every mode but 'down'. */
  readonly counts: Readonly<Record<string, number>>;
  count(method: string): number;
  /** HTTP requests received (a batch is one), in every mode but 'down'. */
  readonly httpRequests: number;
  resetCounts(): void;
  close(): Promise<void>;
};

type Call = { jsonrpc?: string; id?: unknown; method?: string; params?: unknown[] };
type Reply = { jsonrpc: '2.0'; id: unknown; result?: unknown; error?: unknown };

/** A JSON-RPC proxy in front of a real node, for tests that switch its behaviour while running. */
export async function startRpcProxy(upstream: string, options: { mode?: ProxyMode } = {}): Promise<RpcProxy> {
  let mode: ProxyMode = options.mode ?? 'pass';
  let frozen: Promise<bigint> | undefined;
  let frozenValue: bigint | null = null;
  let counts: Record<string, number> = {};
  let httpRequests = 0;
  const sockets = new Set<Socket>();
  const hung = new Set<http.ServerResponse>();

  async function upstreamCall(body: string): Promise<{ status: number; text: string }> {
    const res = await fetch(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, text: await res.text() };
  }

  async function forward(call: Call): Promise<Reply> {
    const { text } = await upstreamCall(JSON.stringify(call));
    return JSON.parse(text) as Reply;
  }

  function freeze(): Promise<bigint> {
    const p = forward({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] }).then((r) => BigInt(r.result as string));
    void p.then((n) => {
      if (frozen === p) frozenValue = n;
    }, () => undefined);
    return p;
  }

  async function staleCall(call: Call): Promise<Reply> {
    const head = await frozen!;
    const reply = (result: unknown): Reply => ({ jsonrpc: '2.0', id: call.id ?? null, result });
    const params = call.params ?? [];
    switch (call.method) {
      case 'eth_blockNumber':
        return reply(`0x${head.toString(16)}`);
      case 'eth_getBlockByNumber': {
        const tag = params[0];
        if (tag === 'latest' || tag === 'pending') return forward({ ...call, params: [`0x${head.toString(16)}`, ...params.slice(1)] });
        if (typeof tag === 'string' && tag.startsWith('0x') && BigInt(tag) > head) return reply(null);
        return forward(call);
      }
      case 'eth_getTransactionReceipt': {
        const answer = await forward(call);
        const receipt = answer.result as { blockNumber?: string } | null | undefined;
        if (receipt?.blockNumber && BigInt(receipt.blockNumber) > head) return { ...answer, result: null };
        return answer;
      }
      default:
        return forward(call);
    }
  }

  const server = http.createServer((req, res) => {
    if (mode === 'down') {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const current = mode; // as the request arrived
      if (current === 'down') {
        req.socket.destroy();
        return;
      }
      httpRequests += 1;
      let parsed: Call | Call[] | undefined;
      try {
        parsed = JSON.parse(body) as Call | Call[];
        for (const call of Array.isArray(parsed) ? parsed : [parsed]) {
          const method = call?.method ?? '(none)';
          counts[method] = (counts[method] ?? 0) + 1;
        }
      } catch {
        parsed = undefined;
      }
      if (current === 'http503') {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('service unavailable (rpc-proxy)');
        return;
      }
      if (current === 'hang') {
        hung.add(res);
        res.on('close', () => hung.delete(res));
        return;
      }
      void (async () => {
        try {
          if (current === 'stale' && parsed !== undefined) {
            const answer = Array.isArray(parsed) ? await Promise.all(parsed.map(staleCall)) : await staleCall(parsed);
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
            return;
          }
          const { status, text } = await upstreamCall(body);
          res.writeHead(status, { 'content-type': 'application/json' }).end(text);
        } catch (err) {
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`upstream failed: ${(err as Error).message}`);
        }
      })();
    });
  });
  server.on('connection', (socket) => {
    if (mode === 'down') {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };

  function setModeSync(next: ProxyMode): void {
    const previous = mode;
    mode = next;
    if (next === 'stale' && previous !== 'stale') {
      frozenValue = null;
      frozen = freeze();
    }
    if (next !== 'stale') {
      frozen = undefined;
      frozenValue = null;
    }
    if (next === 'down') for (const s of sockets) s.destroy();
    if (previous === 'hang' && next !== 'hang') for (const res of hung) res.socket?.destroy();
  }

  return {
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    set mode(next: ProxyMode) {
      setModeSync(next);
    },
    async setMode(next: ProxyMode) {
      setModeSync(next);
      if (frozen) await frozen;
    },
    get frozenBlock() {
      return frozenValue;
    },
    get counts() {
      return counts;
    },
    count: (method: string) => counts[method] ?? 0,
    get httpRequests() {
      return httpRequests;
    },
    resetCounts() {
      counts = {};
      httpRequests = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
