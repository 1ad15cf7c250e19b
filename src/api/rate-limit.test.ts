import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createMemoryCache } from '../cache/memory-cache.js';
import { type Cache, CacheUnavailableError } from '../cache/types.js';
import { createMetrics } from '../observability/metrics.js';
import { createRateLimiter, enforceRateLimit, type RateLimiter } from './rate-limit.js';

function setup(limitPerSecond: number, start = 1_000_000) {
  let t = start;
  const now = () => t;
  const metrics = createMetrics();
  const limiter = createRateLimiter({ cache: createMemoryCache({ now }), limitPerSecond, metrics, now });
  return { limiter, metrics, at: (ms: number) => void (t = ms) };
}

async function counter(metrics: ReturnType<typeof createMetrics>, name: string) {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((sum, v) => sum + v.value, 0);
}

describe('rate limiter', () => {
  it('allows `limit` requests per key per second, then refuses until the next second', async () => {
    const { limiter, metrics, at } = setup(3);
    at(5_000);
    for (let i = 0; i < 3; i++) expect(await limiter('key_a')).toEqual({ allowed: true });
    at(5_250);
    expect(await limiter('key_a')).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(await limiter('key_b')).toEqual({ allowed: true }); // each key has its own budget
    at(5_999);
    expect((await limiter('key_a')).allowed).toBe(false);
    at(6_000); // a fixed window: the next second starts afresh
    expect(await limiter('key_a')).toEqual({ allowed: true });
    expect(await counter(metrics, 'sluice_api_rate_limited_total')).toBe(2);
  });

  it('says at least 1 second in Retry-After, even at the very end of a window', async () => {
    const { limiter, at } = setup(1);
    at(7_999);
    await limiter('k');
    expect(await limiter('k')).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it('fails open when the counter is unavailable, and counts it', async () => {
    const metrics = createMetrics();
    const down: Cache = {
      ...createMemoryCache(),
      incr: async () => {
        throw new CacheUnavailableError('incr');
      },
    };
    const limiter = createRateLimiter({ cache: down, limitPerSecond: 1, metrics });
    for (let i = 0; i < 5; i++) expect(await limiter('k')).toEqual({ allowed: true });
    expect(await counter(metrics, 'sluice_api_rate_limit_fail_open_total')).toBe(5);
    expect(await counter(metrics, 'sluice_api_rate_limited_total')).toBe(0);
  });
});

describe('enforceRateLimit in a Fastify hook', () => {
  async function app(limiter: RateLimiter) {
    const app = Fastify();
    app.addHook('onRequest', async (_request, reply) => {
      if (!(await enforceRateLimit(limiter, 'key_a', reply))) return reply;
    });
    app.get('/v1/thing', async () => ({ ok: true }));
    return app;
  }

  it('answers 429 problem+json with Retry-After, and lets the handler run otherwise', async () => {
    const { limiter, at } = setup(1);
    at(10_400);
    const server = await app(limiter);
    const first = await server.inject({ method: 'GET', url: '/v1/thing' });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ ok: true });
    const second = await server.inject({ method: 'GET', url: '/v1/thing' });
    expect(second.statusCode).toBe(429);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(second.json()).toMatchObject({ status: 429, code: 'rate_limited', title: 'Too Many Requests', type: 'https://sluice.dev/problems/rate_limited' });
    await server.close();
  });
});
