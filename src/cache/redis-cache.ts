import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { type Cache, CacheUnavailableError } from './types.js';

export type RedisCacheOptions = {
  url: string;
  logger: Logger;
  metrics: Metrics;
  /** Deadline of one command; a slower Redis is treated as down for that call. */
  commandTimeoutMs?: number;
  /** Prepended to every key (tests use a random one). */
  keyPrefix?: string;
};

/**
 * Atomic fixed-window counter: the TTL is set by the call that creates the key, so every caller
 * in a window shares one expiry. The PTTL check heals a key that somehow lost its TTL (it would
 * otherwise count forever).
 */
const INCR_WINDOW = `
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

type RedisWithWindow = Redis & { incrWindow(key: string, ttlMs: number): Promise<number> };

/**
 * The production cache. Redis is an accelerator, never a dependency Sluice waits on (invariant
 * 11): every command has a short deadline and nothing is queued while disconnected, so an outage
 * costs each caller at most `commandTimeoutMs` (usually nothing: a closed socket fails at once).
 * Reconnection runs in the background with backoff. While Redis is down `get` misses, `set`/`del`
 * do nothing and `incr` throws `CacheUnavailableError`; `sluice_cache_up` says 0 and one error
 * line with `alert: "cache_unavailable"` is logged per outage.
 */
export function createRedisCache(options: RedisCacheOptions): Cache {
  const { logger, metrics } = options;
  const commandTimeoutMs = options.commandTimeoutMs ?? 200;
  const redis = new Redis(options.url, {
    keyPrefix: options.keyPrefix ?? 'sluice:',
    commandTimeout: commandTimeoutMs,
    // Fail at once instead of queueing while disconnected: a queue would grow without bound under
    // load and replay stale writes (old counters, old fees) when Redis comes back.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // A connection that stops answering (half-open TCP, wedged server) is dropped and redialled
    // instead of timing out command after command.
    socketTimeout: Math.max(1_000, commandTimeoutMs * 5),
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), 1_000),
    lazyConnect: false,
  }) as RedisWithWindow;
  redis.defineCommand('incrWindow', { numberOfKeys: 1, lua: INCR_WINDOW });

  /** `connecting`: never reached yet (startup); ops fail quietly until the first verdict. */
  let state: 'connecting' | 'up' | 'down' = 'connecting';
  let closing = false;
  metrics.cacheUp.set(0);

  function markUp(): void {
    metrics.cacheUp.set(1);
    if (state === 'down') logger.info({ component: 'cache' }, 'Redis reachable again; shared cache restored');
    state = 'up';
  }

  function markDown(err: unknown): void {
    if (closing) return;
    metrics.cacheUp.set(0);
    if (state === 'down') return;
    state = 'down';
    logger.error(
      { component: 'cache', alert: 'cache_unavailable', err: (err as Error)?.message },
      'Redis unavailable: running without the shared cache (slower; rate limits fail open) until it is back',
    );
  }

  redis.on('ready', markUp);
  // Connection errors are also reported through the failing commands; the listener is required
  // anyway, or ioredis prints every reconnect failure as an unhandled error event.
  redis.on('error', (err: Error) => markDown(err));
  redis.on('close', () => {
    if (state === 'up') markDown(new Error('connection closed'));
  });

  async function run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (redis.status !== 'ready') {
      metrics.cacheErrors.inc({ op });
      throw new CacheUnavailableError(op, new Error(`Redis connection is ${redis.status}`));
    }
    try {
      const result = await fn();
      if (state === 'down') markUp(); // a timeout marked it down while the socket stayed open
      return result;
    } catch (err) {
      metrics.cacheErrors.inc({ op });
      if (state === 'up') markDown(err);
      throw new CacheUnavailableError(op, err);
    }
  }

  /** For ops whose failure is harmless to the caller: a miss or a no-op. */
  async function quietly<T>(op: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await run(op, fn);
    } catch {
      return undefined;
    }
  }

  return {
    async get(key) {
      return (await quietly('get', () => redis.get(key))) ?? undefined;
    },
    async set(key, value, ttlMs) {
      await quietly('set', () => redis.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs))));
    },
    async del(key) {
      await quietly('del', () => redis.del(key));
    },
    incr(key, ttlMs) {
      return run('incr', () => redis.incrWindow(key, Math.max(1, Math.ceil(ttlMs))));
    },
    async ping() {
      const answer = await quietly('ping', () => redis.ping());
      if (answer === 'PONG') markUp();
      return answer === 'PONG';
    },
    async close() {
      closing = true;
      try {
        if (redis.status === 'ready') await redis.quit();
      } catch {
        // Down or slow: drop the socket below.
      } finally {
        redis.disconnect();
      }
    },
  };
}
