import http from 'node:http';
import https from 'node:https';

/**
 * How long a kept-alive socket may sit unused before it is closed (undici's default too). Below
 * the idle limits of common nodes and proxies, so a request seldom meets a socket the server is
 * closing at that moment; when it does, it is sent again once on a new socket (see `send`).
 */
const IDLE_SOCKET_MS = 4_000;

/**
 * The largest response body read (viem's own default limit). The body is read here whole, before
 * viem sees it, so a node that sends more is cut off at this size rather than buffered.
 */
const MAX_RESPONSE_BYTES = 10_485_760;

/** A response body past MAX_RESPONSE_BYTES; viem wraps it in an HttpRequestError (the endpoint failed the call). */
export class ResponseTooLargeError extends Error {
  override name = 'ResponseTooLargeError';
  constructor(readonly limitBytes: number) {
    super(`The JSON-RPC response exceeded ${limitBytes} bytes; it was not read further.`);
  }
}

/** The part of a fetch `Response` that viem's HTTP transport reads. */
class RpcResponse {
  /** The body is read whole already: viem then calls `text()` and checks its size itself. */
  readonly body = null;
  readonly ok: boolean;
  readonly headers: ResponseHeaders;

  constructor(
    readonly status: number,
    readonly statusText: string,
    headers: http.IncomingHttpHeaders,
    private readonly bodyText: string,
  ) {
    this.ok = status >= 200 && status < 300;
    this.headers = new ResponseHeaders(headers);
  }

  text(): Promise<string> {
    return Promise.resolve(this.bodyText);
  }

  json(): Promise<unknown> {
    return Promise.resolve(JSON.parse(this.bodyText) as unknown);
  }
}

/** Read-only response headers, looked up case-insensitively as fetch's `Headers` are. */
class ResponseHeaders {
  constructor(private readonly raw: http.IncomingHttpHeaders) {}

  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }

  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }

  forEach(callback: (value: string, key: string) => void): void {
    for (const key of Object.keys(this.raw)) callback(this.get(key)!, key);
  }
}

export type RpcFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * viem's `fetchFn` for JSON-RPC endpoints: node:http(s) with kept-alive sockets instead of the
 * global fetch. fetch builds a Request, web streams and an abort wiring for every exchange; at
 * 400 payouts/s that was ~10% of `sluice dev`'s busy main thread (bench e2e `--cpu-prof`:
 * undici and web streams ~265 µs per withdrawal), for bodies that are small JSON read whole.
 * viem keeps its own parts: the timeout (it aborts `init.signal`, which ends the exchange here),
 * the size limit, JSON-RPC errors; a failure here rejects with Node's socket error (`code`
 * ECONNREFUSED, ECONNRESET…), which viem wraps in an HttpRequestError for the node-error mapper.
 * Idle sockets keep no process alive (Node's agent unrefs them) and close after `idleSocketMs`.
 */
export function createRpcFetch(options: { idleSocketMs?: number; maxResponseBytes?: number } = {}): RpcFetch {
  const idle = options.idleSocketMs ?? IDLE_SOCKET_MS;
  const maxBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  const agents = {
    http: new http.Agent({ keepAlive: true, timeout: idle }),
    https: new https.Agent({ keepAlive: true, timeout: idle }),
  };

  function send(url: URL, init: RequestInit, body: string | undefined, firstTry: boolean): Promise<Response> {
    const signal = init.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const secure = url.protocol === 'https:';
    return new Promise<Response>((resolve, reject) => {
      let answered = false;
      const req = (secure ? https : http).request(url, {
        method: init.method ?? 'GET',
        headers: { ...(init.headers as Record<string, string> | undefined), ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
        agent: secure ? agents.https : agents.http,
      });
      const onAbort = () => req.destroy(abortReason(signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      req.on('response', (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) req.destroy(new ResponseTooLargeError(maxBytes));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          done();
          resolve(new RpcResponse(res.statusCode ?? 0, res.statusMessage ?? '', res.headers, Buffer.concat(chunks).toString('utf8')) as unknown as Response);
        });
        res.on('error', (err) => {
          done();
          reject(err);
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        done();
        // A kept-alive socket the server closed as this request went out: nothing was answered,
        // so it goes once more on a new socket (Node's advice for `reusedSocket`). A JSON-RPC
        // call is safe to repeat: reads are, and a raw tx sent twice is "already known".
        if (firstTry && !answered && req.reusedSocket && err.code === 'ECONNRESET' && !signal?.aborted) resolve(send(url, init, body, false));
        else reject(err);
      });
      req.end(body);
    });
  }

  let lastHref = '';
  let lastUrl: URL | undefined;
  return (input: string | URL | Request, init: RequestInit = {}) => {
    const href = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (href !== lastHref || !lastUrl) {
      lastUrl = new URL(href);
      lastHref = href;
    }
    if (init.body !== undefined && init.body !== null && typeof init.body !== 'string') return Promise.reject(new TypeError('JSON-RPC request bodies are strings'));
    return send(lastUrl, init, init.body ?? undefined, true);
  };
}

function abortReason(signal: AbortSignal): Error {
  if (signal.reason instanceof Error) return signal.reason;
  return new DOMException('This operation was aborted', 'AbortError');
}
