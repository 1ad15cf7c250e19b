import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as hdr from 'hdr-histogram-js';
import { afterEach, describe, expect, it } from 'vitest';
import { type ResponseCounts, runOpenLoop } from '../../../bench/load/open-loop.js';

describe('bench open-loop load generator', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function serve(handler: http.RequestListener): Promise<string> {
    server = http.createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const fresh = () => ({
    counts: { requests: 0, ok2xx: 0, non2xx: 0, statusCodes: {}, errors: 0, timeouts: 0 } as ResponseCounts,
    latenciesUs: hdr.build({ autoResize: true, lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 }),
  });

  it('sends each request when it is due, not in a burst, and counts answers by status (length-delimited and chunked)', async () => {
    let answered = 0;
    const bodies: string[] = [];
    const url = await serve((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        bodies.push(body);
        const n = ++answered;
        if (n % 3 === 0) {
          res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad"}');
        } else if (n % 3 === 1) {
          res.writeHead(202, { 'content-type': 'application/json' }).end('{"ok":true}');
        } else {
          res.writeHead(202); // no length: chunked
          res.write('{"ok":');
          res.end('true}');
        }
      });
    });
    const { counts, latenciesUs } = fresh();
    const madeAt: number[] = [];
    const before = performance.now();
    await runOpenLoop({
      url,
      rate: 200,
      connections: 4,
      requests: 21,
      timeoutSeconds: 5,
      latenciesUs,
      counts,
      next: () => {
        madeAt.push(performance.now());
        return { method: 'POST', path: '/x', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: madeAt.length }) };
      },
    });

    expect(counts).toMatchObject({ requests: 21, ok2xx: 14, non2xx: 7, errors: 0, timeouts: 0, statusCodes: { 202: 14, 400: 7 } });
    expect(latenciesUs.totalCount).toBe(14);
    expect(new Set(bodies).size).toBe(21);
    // Request k is due 5k ms after the start and never goes out before (late is allowed: a busy
    // machine may delay the tick). A burst would have made all 21 at once.
    madeAt.forEach((t, k) => expect(t - before).toBeGreaterThanOrEqual(k * 5 - 0.01));
  });

  it('times each request from when it was due, so waiting for a busy connection counts', async () => {
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => setTimeout(() => res.writeHead(200, { 'content-length': '0' }).end(), 30));
    });
    const { counts, latenciesUs } = fresh();
    // One connection, 30 ms per answer, one due every 10 ms: the 6th is due at 50 ms and answered at ~180 ms.
    await runOpenLoop({ url, rate: 100, connections: 1, requests: 6, timeoutSeconds: 5, latenciesUs, counts, next: () => ({ method: 'GET', path: '/', headers: {} }) });

    expect(counts.ok2xx).toBe(6);
    expect(latenciesUs.minNonZeroValue).toBeGreaterThanOrEqual(29_000);
    expect(latenciesUs.maxValue).toBeGreaterThanOrEqual(120_000);
  });

  it('counts a request whose connection drops as an error and goes on over a new connection', async () => {
    let seen = 0;
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => (++seen === 2 ? req.socket.destroy() : res.writeHead(202, { 'content-length': '0' }).end()));
    });
    const { counts, latenciesUs } = fresh();
    await runOpenLoop({ url, rate: 100, connections: 1, requests: 5, timeoutSeconds: 5, latenciesUs, counts, next: () => ({ method: 'GET', path: '/', headers: {} }) });

    expect(counts).toMatchObject({ requests: 5, ok2xx: 4, errors: 1 });
  });
});
