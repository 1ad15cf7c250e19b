import { describe, expect, it } from 'vitest';
import { createMemoryCache } from './memory-cache.js';

describe('memory cache', () => {
  it('returns values until they expire', async () => {
    let t = 1_000;
    const cache = createMemoryCache({ now: () => t });
    await cache.set('a', 'x', 100);
    expect(await cache.get('a')).toBe('x');
    t += 99;
    expect(await cache.get('a')).toBe('x');
    t += 1;
    expect(await cache.get('a')).toBeUndefined();
  });

  it('deletes keys', async () => {
    const cache = createMemoryCache();
    await cache.set('a', 'x', 10_000);
    await cache.del('a');
    expect(await cache.get('a')).toBeUndefined();
  });

  it('counts in fixed windows with incr', async () => {
    let t = 0;
    const cache = createMemoryCache({ now: () => t });
    expect(await cache.incr('rl', 1_000)).toBe(1);
    expect(await cache.incr('rl', 1_000)).toBe(2);
    t = 999;
    expect(await cache.incr('rl', 1_000)).toBe(3); // the window does not slide
    t = 1_000;
    expect(await cache.incr('rl', 1_000)).toBe(1);
  });

  it('stays within maxEntries, dropping expired keys first', async () => {
    let t = 0;
    const cache = createMemoryCache({ maxEntries: 3, now: () => t });
    await cache.set('old', '1', 10);
    await cache.set('b', '2', 1_000);
    await cache.set('c', '3', 1_000);
    t = 20;
    await cache.set('d', '4', 1_000);
    expect(await cache.get('old')).toBeUndefined();
    expect(await cache.get('b')).toBe('2');
    await cache.set('e', '5', 1_000);
    expect([await cache.get('b'), await cache.get('c'), await cache.get('d'), await cache.get('e')].filter(Boolean)).toHaveLength(3);
  });
});
