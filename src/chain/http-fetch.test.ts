import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicClient, http as httpTransport, HttpRequestError, RpcRequestError, TimeoutError } from 'viem';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeUnavailableError } from './errors.js';
import { createRpcFetch, ResponseTooLargeError } from './http-fetch.js';
import { toChainError } from './node-error.js';

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse, nth: number) => void;

/** A real HTTP server on a free port; counts requests and the sockets they came on. */
async function serve(handler: Handler) {
  let nth = 0;
  const sockets = new Set<unknown>();
  const server = http.createServer((req, res) => {
    sockets.add(req.socket);
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => handler(req, body, res, ++nth));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests: () => nth,
    sockets: () => sockets.size,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const rpcAnswer = (body: string, result: unknown) => JSON.stringify({ jsonrpc: '2.0', id: (JSON.parse(body) as { id: number }).id, result });
const client = (url: string, timeout = 2_000, fetchOptions: Parameters<typeof createRpcFetch>[0] = {}) =>
  createPublicClient({ transport: httpTransport(url, { fetchFn: createRpcFetch(fetchOptions), retryCount: 0, timeout }) });

describe('JSON-RPC over node:http (viem fetchFn)', () => {
  let stop: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });

  it('answers viem calls, and consecutive calls share one kept-alive socket', async () => {
    const server = await serve((_req, body, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(rpcAnswer(body, '0x2a'));
    });
    stop = server.close;
    const c = client(server.url);
    for (let i = 0; i < 5; i++) expect(await c.getBlockNumber({ cacheTime: 0 })).toBe(42n);
    expect(server.requests()).toBe(5);
    expect(server.sockets()).toBe(1);
  });

  it('keeps HTTP status and JSON-RPC errors for viem: an error body is an RpcRequestError, a plain 503 an HttpRequestError', async () => {
    const server = await serve((_req, body, res, nth) => {
      if (nth === 1) {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: (JSON.parse(body) as { id: number }).id, error: { code: -32005, message: 'rate limited' } }));
      } else {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('upstream down');
      }
    });
    stop = server.close;
    const c = client(server.url);
    const first = await c.getBlockNumber({ cacheTime: 0 }).catch((e: unknown) => e);
    const rpc = (first as { walk: (fn: (e: unknown) => boolean) => unknown }).walk((e) => e instanceof RpcRequestError) as RpcRequestError;
    expect(rpc).toBeInstanceOf(RpcRequestError);
    expect(rpc.status).toBe(429);
    expect(rpc.headers?.get('Retry-After')).toBe('1');
    const second = await c.getBlockNumber({ cacheTime: 0 }).catch((e: unknown) => e);
    const httpError = (second as { walk: (fn: (e: unknown) => boolean) => unknown }).walk((e) => e instanceof HttpRequestError) as HttpRequestError;
    expect(httpError).toBeInstanceOf(HttpRequestError);
    expect(httpError.status).toBe(503);
    expect(httpError.details).toContain('upstream down');
  });

  it("ends a hanging exchange at viem's timeout and closes its socket", async () => {
    let closed = 0;
    const server = await serve((req) => req.socket.on('close', () => closed++));
    stop = server.close;
    const started = Date.now();
    const err = await client(server.url, 300).getBlockNumber({ cacheTime: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(2_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(1);
  });

  it('sends a call once more on a new socket when the kept-alive one is reset under it, but not a call on a new socket', async () => {
    const server = await serve((req, body, res, nth) => {
      if (nth === 2) return req.socket.destroy(); // the server dropping a kept-alive socket as the call arrives
      res.setHeader('content-type', 'application/json');
      res.end(rpcAnswer(body, '0x7'));
    });
    stop = server.close;
    const c = client(server.url);
    expect(await c.getBlockNumber({ cacheTime: 0 })).toBe(7n);
    expect(await c.getBlockNumber({ cacheTime: 0 })).toBe(7n); // reset on the reused socket, answered on a new one
    expect(server.requests()).toBe(3);
    expect(server.sockets()).toBe(2);

    const fresh = await serve((req) => req.socket.destroy());
    const err = await client(fresh.url).getBlockNumber({ cacheTime: 0 }).catch((e: unknown) => e);
    await fresh.close();
    expect(fresh.requests()).toBe(1);
    expect(toChainError(err)).toBeInstanceOf(NodeUnavailableError);
  });

  it('cuts off a response larger than the limit instead of buffering it, and the call fails as the endpoint\'s', async () => {
    const server = await serve((_req, body, res) => {
      res.setHeader('content-type', 'application/json');
      res.write(rpcAnswer(body, '0x1').slice(0, -1));
      res.end(`, "padding": "${'x'.repeat(64 * 1024)}"}`);
    });
    stop = server.close;
    const err = await client(server.url, 2_000, { maxResponseBytes: 16 * 1024 }).getBlockNumber({ cacheTime: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpRequestError);
    expect((err as HttpRequestError).walk((e) => e instanceof ResponseTooLargeError)).toBeInstanceOf(ResponseTooLargeError);
    expect(toChainError(err)).toBeInstanceOf(NodeUnavailableError);
    expect(await client(server.url).getBlockNumber({ cacheTime: 0 })).toBe(1n); // under the default limit
  });

  it('an endpoint that refuses connections is NodeUnavailableError for the node-error mapper', async () => {
    const server = await serve(() => {});
    const { url } = server;
    await server.close();
    const err = await client(url).getBlockNumber({ cacheTime: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpRequestError);
    const mapped = toChainError(err);
    expect(mapped).toBeInstanceOf(NodeUnavailableError);
    expect(JSON.stringify((mapped as { cause?: { cause?: { code?: string } } }).cause?.cause?.code)).toContain('ECONNREFUSED');
  });
});
