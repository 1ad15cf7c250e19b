import type { FastifyReply } from 'fastify';
import type { Cache } from '../cache/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { sendProblem } from './problem.js';

export type RateLimitVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export type RateLimiter = (keyId: string) => Promise<RateLimitVerdict>;

/**
 * Per-API-key request limit over fixed one-second windows, counted in the shared cache so every
 * API replica draws on the same budget. The counter key names its second, so windows never need
 * resetting; it lives two seconds to cover clock skew between replicas.
 *
 * When the counter cannot be read the request goes through (fail open): a cache outage must never
 * turn into refused withdrawals (invariant 11). The limit protects capacity, not money — holds,
 * nonces and idempotency are decided in the database.
 */
export function createRateLimiter(input: {
  cache: Cache;
  limitPerSecond: number;
  metrics?: Pick<Metrics, 'rateLimited' | 'rateLimitFailOpen'>;
  logger?: Logger;
  now?: () => number;
}): RateLimiter {
  const { cache, limitPerSecond, metrics, logger } = input;
  const now = input.now ?? Date.now;
  return async (keyId) => {
    const t = now();
    const second = Math.floor(t / 1_000);
    let count: number;
    try {
      count = await cache.incr(`rl:${keyId}:${second}`, 2_000);
    } catch (err) {
      // The cache logs and alerts on its own outage; here only the count of unchecked requests.
      metrics?.rateLimitFailOpen.inc();
      logger?.debug({ err, apiKeyId: keyId }, 'rate limit not checked: cache unavailable');
      return { allowed: true };
    }
    if (count <= limitPerSecond) return { allowed: true };
    metrics?.rateLimited.inc({ api_key: keyId });
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(((second + 1) * 1_000 - t) / 1_000)) };
  };
}

/**
 * True when the request may proceed; otherwise sends the 429 (the calling async hook must then
 * `return reply` so Fastify stops there).
 */
export async function enforceRateLimit(limiter: RateLimiter, keyId: string, reply: FastifyReply): Promise<boolean> {
  const verdict = await limiter(keyId);
  if (verdict.allowed) return true;
  reply.header('Retry-After', String(verdict.retryAfterSeconds));
  // problem.ts has no title for 429 yet; `extra` is spread last, so it supplies one.
  sendProblem(reply, 429, 'rate_limited', `Too many requests for this API key; retry after ${verdict.retryAfterSeconds} s.`, {
    title: 'Too Many Requests',
  });
  return false;
}
