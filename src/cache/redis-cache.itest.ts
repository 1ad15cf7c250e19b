import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { getFreePort } from '../chain/anvil.js';
import { EndpointHealth, sharedHealthKey } from '../chain/endpoint-health.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { createRedisCache } from './redis-cache.js';
import { type Cache, CacheUnavailableError } from './types.js';

// Never skipped: a machine without redis-server cannot prove the outage behaviour.
const REDIS_SERVER = (() => {
  try {
    return execFileSync('which', ['redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('redis-server is not installed (apt-get install -y redis-server); the Redis cache tests need it');
  }
})();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const caches: Cache[] = [];
const children: ChildProcess[] = [];

function harness(url: string, keyPrefix: string) {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const metrics = createMetrics();
  const cache = createRedisCache({ url, logger: createLogger({ level: 'debug', destination }), metrics, keyPrefix });
  caches.push(cache);
  return {
    cache,
    lines,
    up: async () => (await metrics.cacheUp.get()).values[0]?.value,
    errors: async () => (await metrics.cacheErrors.get()).values.reduce((s, v) => s + v.value, 0),
  };
}

async function until(what: string, fn: () => Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now();
  while (!(await fn())) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
  return Date.now() - start;
}

/** Runs `fn`, failing unless it settles within `ms`: an outage must never make callers wait. */
async function fast<T>(fn: () => Promise<T>, ms = 1_000): Promise<T> {
  const start = Date.now();
  const result = await fn();
  expect(Date.now() - start).toBeLessThan(ms);
  return result;
}

function startRedis(port: number): ChildProcess {
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  child.once('error', (err) => {
    throw err;
  });
  children.push(child);
  return child;
}

/** Whether something accepts TCP connections on the port (redis-server has started listening). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  return gone;
}

afterAll(async () => {
  await Promise.allSettled(caches.map((c) => c.close()));
  await Promise.allSettled(children.map(stop));
});

describe('redis cache against the shared Redis (127.0.0.1:6379)', () => {
  const prefix = `sluice-itest:${randomBytes(6).toString('hex')}:`;

  it('gets, sets with TTL, deletes and counts fixed windows under its key prefix', async () => {
    const raw = new Redis('redis://127.0.0.1:6379');
    try {
      const { cache, up } = harness('redis://127.0.0.1:6379', prefix);
      await until('the first connection', () => cache.ping(), 5_000);
      expect(await up()).toBe(1);

      expect(await cache.get('missing')).toBeUndefined();
      await cache.set('a', 'x', 300);
      expect(await cache.get('a')).toBe('x');
      expect(await raw.get(`${prefix}a`)).toBe('x'); // the prefix is really applied
      const pttl = await raw.pttl(`${prefix}a`);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(300);
      await sleep(350);
      expect(await cache.get('a')).toBeUndefined();

      await cache.set('b', 'y', 10_000);
      await cache.del('b');
      expect(await cache.get('b')).toBeUndefined();

      expect(await cache.incr('rl', 300)).toBe(1);
      expect(await cache.incr('rl', 300)).toBe(2);
      expect(await cache.incr('rl', 300)).toBe(3);
      const windowTtl = await raw.pttl(`${prefix}rl`); // set by the first incr, kept by the rest
      expect(windowTtl).toBeGreaterThan(0);
      expect(windowTtl).toBeLessThanOrEqual(300);
      await sleep(350);
      expect(await cache.incr('rl', 300)).toBe(1); // a new window

      // A counter that lost its TTL (set by hand) gets one again instead of counting forever.
      await raw.set(`${prefix}stuck`, '7');
      expect(await cache.incr('stuck', 5_000)).toBe(8);
      expect(await raw.pttl(`${prefix}stuck`)).toBeGreaterThan(0);
    } finally {
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length) await raw.del(...keys);
      raw.disconnect();
    }
  });
});

describe('RPC endpoint health shared through Redis', () => {
  it("one process's open circuit makes the endpoint suspect in another, until it would half-open", async () => {
    const prefix = `sluice-itest:${randomBytes(6).toString('hex')}:`;
    const podA = harness('redis://127.0.0.1:6379', prefix).cache;
    const podB = harness('redis://127.0.0.1:6379', prefix).cache;
    await until('both connections', async () => (await podA.ping()) && (await podB.ping()), 5_000);
    const key = sharedHealthKey(31337, 'http://127.0.0.1:8545/secret');
    const a = new EndpointHealth({ openBaseMs: 400 }, Date.now, { cache: podA, key });
    const b = new EndpointHealth({ openBaseMs: 400 }, Date.now, { cache: podB, key });
    a.fail(a.acquire()!, 'timeout');
    await until('the open circuit to reach the other pod', async () => (await b.syncShared(), b.suspect), 2_000);
    expect(b.circuit).toBe('closed');
    await sleep(450);
    await b.syncShared();
    expect(b.suspect).toBe(false); // expired with a's open period (the key's TTL)
  });
});

describe('redis cache during an outage (its own redis-server)', () => {
  it('answers fast while Redis is killed or frozen, alerts once, and recovers by itself', async () => {
    const port = await getFreePort();
    let server = startRedis(port);
    // Started only once Redis listens: a cache that finds Redis unreachable at boot alerts too.
    await until('redis-server to listen', () => listening(port), 10_000);
    const { cache, lines, up, errors } = harness(`redis://127.0.0.1:${port}`, 'sluice:');
    await until('redis-server to accept connections', () => cache.ping(), 10_000);
    await cache.set('k', 'v', 60_000);
    expect(await cache.get('k')).toBe('v');
    expect(await up()).toBe(1);

    // --- killed: connection refused ------------------------------------------------------------
    await stop(server);
    await until('the cache to notice', async () => (await up()) === 0, 5_000);
    for (let i = 0; i < 3; i++) {
      expect(await fast(() => cache.get('k'))).toBeUndefined(); // a miss, not an error
      await fast(() => cache.set('k', 'w', 60_000)); // a no-op
      await fast(() => cache.del('k'));
      await expect(fast(() => cache.incr('rl', 1_000).catch((e: unknown) => Promise.resolve(e)))).resolves.toBeInstanceOf(CacheUnavailableError);
      expect(await fast(() => cache.ping())).toBe(false);
    }
    expect(await up()).toBe(0);
    expect(await errors()).toBeGreaterThanOrEqual(15);
    const alerts = () => lines.filter((l) => l.alert === 'cache_unavailable');
    expect(alerts()).toHaveLength(1); // one alert per outage, however many calls fail
    expect(alerts()[0]!.level).toBe(50); // pino's error level

    // --- back on the same port: reconnects in the background -------------------------------------
    server = startRedis(port);
    const tookMs = await until('the cache to reconnect by itself', async () => (await up()) === 1, 10_000);
    expect(tookMs).toBeLessThan(5_000);
    expect(lines.filter((l) => l.msg === 'Redis reachable again; shared cache restored')).toHaveLength(1);
    await cache.set('k', 'again', 60_000);
    expect(await cache.get('k')).toBe('again');
    expect(await cache.incr('rl', 1_000)).toBe(1);

    // --- frozen: the socket stays open but nothing answers (commandTimeout is the bound) ----------
    server.kill('SIGSTOP');
    try {
      const start = Date.now();
      expect(await cache.get('k')).toBeUndefined();
      expect(Date.now() - start).toBeLessThan(1_000);
      await expect(fast(() => cache.incr('rl', 1_000).catch((e: unknown) => Promise.resolve(e)))).resolves.toBeInstanceOf(CacheUnavailableError);
      await fast(() => cache.set('k', 'frozen', 60_000));
      expect(await up()).toBe(0);
      expect(alerts()).toHaveLength(2); // a new outage, a new alert
    } finally {
      server.kill('SIGCONT');
    }
    await until('the cache to recover from the freeze', async () => (await cache.ping()) && (await up()) === 1, 10_000);
    // The SET sent during the freeze may still land once Redis resumes (a timed-out write is not a
    // failed write); either value is fine for a cache.
    expect(['again', 'frozen']).toContain(await cache.get('k'));
    await stop(server);
  });
});
