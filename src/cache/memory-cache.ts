import type { Cache } from './types.js';

/** Dev-mode cache: a Map with expiry times, swept lazily and when it grows large. */
export function createMemoryCache(options: { maxEntries?: number; now?: () => number } = {}): Cache {
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { value: string; expiresAt: number }>();

  function live(key: string) {
    const e = entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return e;
  }

  function sweep() {
    if (entries.size < maxEntries) return;
    const t = now();
    for (const [k, e] of entries) if (e.expiresAt <= t) entries.delete(k);
    // Still full of live keys: drop the oldest inserted, as a cache may.
    for (const k of entries.keys()) {
      if (entries.size < maxEntries) break;
      entries.delete(k);
    }
  }

  return {
    async get(key) {
      return live(key)?.value;
    },
    async set(key, value, ttlMs) {
      sweep();
      entries.set(key, { value, expiresAt: now() + ttlMs });
    },
    async del(key) {
      entries.delete(key);
    },
    async incr(key, ttlMs) {
      const e = live(key);
      if (!e) {
        sweep();
        entries.set(key, { value: '1', expiresAt: now() + ttlMs });
        return 1;
      }
      const next = Number(e.value) + 1;
      e.value = String(next);
      return next;
    },
    async ping() {
      return true;
    },
    async close() {
      entries.clear();
    },
  };
}
