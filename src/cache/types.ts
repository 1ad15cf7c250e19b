/**
 * A shared, lossy key-value cache: in-process in dev, Redis in production (so every pod sees the
 * same fee suggestions, RPC health and rate-limit counters). Never the only copy of anything that
 * matters: every value can be recomputed, and money is never read from here.
 */
export interface Cache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  del(key: string): Promise<void>;
  /** Adds 1 and returns the new count; the key expires `ttlMs` after it was created (fixed window). */
  incr(key: string, ttlMs: number): Promise<number>;
}
