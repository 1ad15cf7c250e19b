import net from 'node:net';
import type * as hdr from 'hdr-histogram-js';

/** One request to send: what the load generator's target makes for each. */
export type OutgoingRequest = { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string };

export type ResponseCounts = { requests: number; ok2xx: number; non2xx: number; statusCodes: Record<string, number>; errors: number; timeouts: number };

const HEADER_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('0\r\n\r\n');

/**
 * Fixed-rate load as a client population would offer it: request i is due at start + i / rate,
 * whether or not earlier ones were answered (open loop, as wrk2 does). Each latency runs from when
 * the request was due, not from when a free connection took it, so a server that falls behind is
 * charged for the queue it causes (no coordinated omission). At most `connections` requests are
 * in flight (HTTP/1.1 keep-alive, no pipelining); the rest wait for a connection, on the clock.
 *
 * autocannon's own rate limit is not this: each connection sends its share of a second back to back
 * and then idles until the next second, so "1,000/s" arrived as a burst at the top of every second;
 * and its correction assumed a 1 ms interval, adding a sample per millisecond of every response
 * (a 40 ms answer counted 40 times). Its closed loop stays in use for the max-rate runs.
 *
 * Raw sockets and a minimal response reader, as autocannon does: at 5,000/s node:http cost ~95 µs
 * of CPU per request here and these ~50 µs, CPU taken from the server it measures on two cores.
 * At 1,000/s both spend ~200 µs a request, mostly waking up (the 1 ms tick alone is ~4% of a core).
 */
export async function runOpenLoop(input: {
  url: string;
  rate: number;
  connections: number;
  /** How many to send, `rate` a second. */
  requests: number;
  timeoutSeconds: number;
  next: () => OutgoingRequest;
  /** Latencies of 2xx answers, in microseconds. */
  latenciesUs: hdr.Histogram;
  counts: ResponseCounts;
}): Promise<void> {
  const { counts, requests: total } = input;
  const target = new URL(input.url);
  const host = `${target.hostname}:${target.port}`;
  const intervalMs = 1000 / input.rate;
  const timeoutMs = input.timeoutSeconds * 1000;
  let settled = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));

  type Connection = { socket: net.Socket; dueAt: number | null; sentAt: number; buffered: Buffer | null };
  const connections = new Set<Connection>();
  const idle: Connection[] = [];
  /** Due times of requests that found every connection busy, oldest first. */
  const backlog: number[] = [];
  let backlogHead = 0;

  function settle(): void {
    settled += 1;
    if (settled === total) finish();
  }

  function encode(r: OutgoingRequest): Buffer {
    let head = `${r.method} ${r.path} HTTP/1.1\r\nhost: ${host}\r\nconnection: keep-alive\r\n`;
    for (const [k, v] of Object.entries(r.headers)) head += `${k}: ${v}\r\n`;
    if (r.body === undefined) return Buffer.from(`${head}\r\n`);
    return Buffer.from(`${head}content-length: ${Buffer.byteLength(r.body)}\r\n\r\n${r.body}`);
  }

  function send(c: Connection, dueAt: number): void {
    counts.requests += 1;
    c.dueAt = dueAt;
    c.sentAt = performance.now();
    c.socket.write(encode(input.next()));
  }

  function release(c: Connection): void {
    c.dueAt = null;
    if (backlogHead < backlog.length) send(c, backlog[backlogHead++]!);
    else idle.push(c);
  }

  /** One whole response at the start of `data`: its status and length, or null while incomplete. */
  function parse(data: Buffer): { status: number; length: number } | null {
    const headerEnd = data.indexOf(HEADER_END);
    if (headerEnd < 0) return null;
    const head = data.toString('latin1', 0, headerEnd).toLowerCase();
    const status = Number(head.slice(9, 12));
    const bodyStart = headerEnd + 4;
    const declared = /\r\ncontent-length: *(\d+)/.exec(head);
    if (declared) {
      const length = bodyStart + Number(declared[1]);
      return data.length >= length ? { status, length } : null;
    }
    if (head.includes('transfer-encoding: chunked')) {
      const end = data.indexOf(CHUNKED_END, bodyStart);
      return end < 0 ? null : { status, length: end + CHUNKED_END.length };
    }
    return { status, length: bodyStart };
  }

  function onData(c: Connection, chunk: Buffer): void {
    let data = c.buffered ? Buffer.concat([c.buffered, chunk]) : chunk;
    for (;;) {
      const response = parse(data);
      if (!response) break;
      data = data.subarray(response.length);
      if (c.dueAt === null) continue; // nothing was asked on it: ignore
      counts.statusCodes[response.status] = (counts.statusCodes[response.status] ?? 0) + 1;
      if (response.status >= 200 && response.status < 300) {
        counts.ok2xx += 1;
        input.latenciesUs.recordValue(Math.max(1, Math.round((performance.now() - c.dueAt) * 1000)));
      } else {
        counts.non2xx += 1;
      }
      settle();
      release(c);
    }
    c.buffered = data.length > 0 ? data : null;
  }

  function open(): Connection {
    const c: Connection = { socket: net.connect({ host: target.hostname, port: Number(target.port) }), dueAt: null, sentAt: 0, buffered: null };
    connections.add(c);
    c.socket.setNoDelay(true);
    c.socket.on('data', (chunk: Buffer) => onData(c, chunk));
    c.socket.on('error', () => {});
    c.socket.on('close', () => {
      // A connection lost with a request on it: that request failed; a new connection takes its place.
      if (c.dueAt !== null) {
        counts.errors += 1;
        settle();
      }
      connections.delete(c);
      const at = idle.indexOf(c);
      if (at >= 0) idle.splice(at, 1);
      if (settled < total) release(open());
    });
    return c;
  }

  for (let i = 0; i < input.connections; i++) idle.push(open());
  const start = performance.now();
  let sent = 0;

  // A 1 ms tick sends everything that has come due; timers are never more exact than that.
  const tick = setInterval(() => {
    const now = performance.now();
    const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
    for (; sent < due; sent++) {
      const dueAt = start + sent * intervalMs;
      const c = idle.pop();
      if (c) send(c, dueAt);
      else backlog.push(dueAt);
    }
    if (sent === total) clearInterval(tick);
  }, 1);
  const watchdog = setInterval(() => {
    const now = performance.now();
    for (const c of connections) {
      if (c.dueAt !== null && now - c.sentAt > timeoutMs) {
        counts.timeouts += 1;
        c.socket.destroy(); // counted as an error on close, and replaced
      }
    }
  }, 250);
  if (total === 0) finish();
  await done;
  clearInterval(tick);
  clearInterval(watchdog);
  for (const c of [...connections]) c.socket.destroy();
}
