import { RetryableError } from '../errors/base.js';

/**
 * A shared, lossy key-value cache: in-process in dev, Redis in production (so every pod sees the
 * same fee suggestions, RPC health and rate-limit counters). Never the only copy of anything that
 * matters: every value can be recomputed, and money is never read from here.
 *
 * An unavailable cache must slow Sluice down, never break it (invariant 11): `get` answers a miss,
 * `set` and `del` do nothing, and only `incr` — whose caller must choose what "unknown count"
 * means — throws `CacheUnavailableError`.
 */
export interface Cache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  del(key: string): Promise<void>;
  /** Adds 1 and returns the new count; the key expires `ttlMs` after it was created (fixed window). */
  incr(key: string, ttlMs: number): Promise<number>;
  /** Whether the backing store answers right now (for /readyz; never throws). */
  ping(): Promise<boolean>;
  /** Releases connections; the cache is unusable afterwards. */
  close(): Promise<void>;
}

/** The cache could not answer in time (down, unreachable, too slow); a later try may succeed. */
export class CacheUnavailableError extends RetryableError {
  override name = 'CacheUnavailableError';
  constructor(op: string, cause?: unknown) {
    super(`Cache unavailable for ${op}.`, { code: 'cache_unavailable', cause });
  }
}
