import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { OutgoingRequest } from './open-loop.js';

/**
 * wrk (Debian's `wrk`, C and LuaJIT) drives the closed-loop max-rate runs when it is installed. The
 * load generator shares the two cores with the server it measures, so what it costs per request is
 * taken from the figure: autocannon spent ~65 µs of CPU per create request here, wrk ~25 µs. Each
 * request is still made per send (a unique Idempotency-Key, a body drawn from a pool the workload
 * generator made), by a Lua `request()`.
 */
export function findWrk(): string | null {
  if (process.env.BENCH_LOADGEN === 'autocannon') return null;
  try {
    return execFileSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export function wrkVersion(wrk: string): string {
  // `wrk -v` prints its banner and usage on stdout and exits 1.
  const out = (() => {
    try {
      return execFileSync(wrk, ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      return String((err as { stdout?: string }).stdout ?? '');
    }
  })();
  return /^wrk (\S+)/m.exec(out)?.[1] ?? 'unknown version';
}

/** What wrk's `done()` reports; latencies in µs, of every response (wrk does not split them by status). */
export type WrkSummary = {
  /** Responses read, any status. */
  requests: number;
  seconds: number;
  /** Responses with a status above 399. */
  statusErrors: number;
  socketErrors: number;
  timeouts: number;
  latencyUs: { p50: number; p95: number; p99: number; max: number; mean: number };
};

function luaString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r/g, '\\r').replace(/\n/g, '\\n')}"`;
}

/**
 * A Lua script making each request as `sample` does: its method, path and headers. Bodies (and
 * paths, for GETs over many ids) come from `pool`, one per line, drawn at random per request; the
 * Idempotency-Key, when the sample has one, is made unique per request from `keyPrefix`.
 */
function luaScript(input: { sample: OutgoingRequest; pool: { file: string; field: 'body' | 'path' } | null; keyPrefix: string | null }): string {
  const { sample, pool, keyPrefix } = input;
  const headers = Object.entries(sample.headers).filter(([k]) => k.toLowerCase() !== 'idempotency-key');
  const lines = [
    `wrk.method = ${luaString(sample.method)}`,
    `wrk.path = ${luaString(sample.path)}`,
    ...headers.map(([k, v]) => `wrk.headers[${luaString(k)}] = ${luaString(v)}`),
    'local pool = {}',
  ];
  if (pool) lines.push(`for line in io.lines(${luaString(pool.file)}) do pool[#pool + 1] = line end`);
  lines.push('local n = 0', 'function request()', '  n = n + 1');
  if (keyPrefix) lines.push(`  wrk.headers["idempotency-key"] = ${luaString(keyPrefix)} .. n`);
  const pick = pool ? 'pool[math.random(#pool)]' : 'nil';
  lines.push(pool?.field === 'path' ? `  return wrk.format(nil, ${pick}, nil, nil)` : `  return wrk.format(nil, nil, nil, ${pick})`, 'end');
  // One JSON line on stdout after the run; wrk's own report goes before it.
  lines.push(
    'function done(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'WRK_RESULT {"requests":%d,"micros":%d,"status":%d,"socket":%d,"timeouts":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d,"mean":%f}\\n\',',
    '    summary.requests, summary.duration, e.status, e.connect + e.read + e.write, e.timeout,',
    '    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))',
    'end',
  );
  return `${lines.join('\n')}\n`;
}

export type WrkRequests = {
  /** One request of the kind to send: method, path and fixed headers are taken from it. */
  sample: OutgoingRequest;
  /** Makes a request's varying part; `pool` of them are made up front and drawn at random. */
  vary: { field: 'body' | 'path'; make: () => string; pool: number } | null;
  /** Each request gets `${keyPrefix}${n}` as its Idempotency-Key. */
  keyPrefix: string | null;
};

/** Writes the script (and its pool) once; every run of it (warm-up, measured) can share it. */
export function writeWrkScript(dir: string, label: string, requests: WrkRequests): (runTag: string) => string {
  fs.mkdirSync(dir, { recursive: true });
  let poolFile: string | null = null;
  if (requests.vary) {
    poolFile = path.join(dir, `wrk-${label}-pool.txt`);
    const lines: string[] = [];
    for (let i = 0; i < requests.vary.pool; i++) lines.push(requests.vary.make());
    fs.writeFileSync(poolFile, `${lines.join('\n')}\n`);
  }
  return (runTag) => {
    const file = path.join(dir, `wrk-${label}-${runTag}.lua`);
    const keyPrefix = requests.keyPrefix === null ? null : `${requests.keyPrefix}${runTag}-`;
    fs.writeFileSync(file, luaScript({ sample: requests.sample, pool: poolFile && requests.vary ? { file: poolFile, field: requests.vary.field } : null, keyPrefix }));
    return file;
  };
}

/** One closed-loop run: `connections` on one wrk thread, for `seconds`. */
export async function runWrk(input: { wrk: string; url: string; script: string; connections: number; seconds: number; timeoutSeconds: number }): Promise<WrkSummary> {
  const args = ['-t1', `-c${input.connections}`, `-d${input.seconds}s`, `--timeout`, `${input.timeoutSeconds}s`, '-s', input.script, input.url];
  const child = spawn(input.wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const line = /^WRK_RESULT (\{.*\})$/m.exec(out)?.[1];
  if (code !== 0 || !line) throw new Error(`wrk ${args.join(' ')} exited ${code}: ${(err || out).trim().slice(0, 2000)}`);
  const r = JSON.parse(line) as { requests: number; micros: number; status: number; socket: number; timeouts: number; p50: number; p95: number; p99: number; max: number; mean: number };
  return {
    requests: r.requests,
    seconds: r.micros / 1e6,
    statusErrors: r.status,
    socketErrors: r.socket,
    timeouts: r.timeouts,
    latencyUs: { p50: r.p50, p95: r.p95, p99: r.p99, max: r.max, mean: r.mean },
  };
}
