import { describe, expect, it } from 'vitest';
import { createConcurrencyLimit } from './concurrency-limit.js';

describe('createConcurrencyLimit', () => {
  it('runs at most max at once, in the order asked, and frees a slot when a call fails', async () => {
    const limit = createConcurrencyLimit(2);
    let now = 0;
    let most = 0;
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const calls = Array.from({ length: 5 }, (_, i) =>
      limit(async () => {
        started.push(i);
        now += 1;
        most = Math.max(most, now);
        await new Promise<void>((resolve) => releases.push(resolve));
        now -= 1;
        if (i === 1) throw new Error('boom');
        return i;
      }),
    );
    const settled = Promise.allSettled(calls);
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    while (releases.length > 0) {
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    const results = await settled;
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'failed'))).toEqual([0, 'failed', 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
    // Nothing left holding a slot: two more start at once.
    const again = [limit(async () => 'a'), limit(async () => 'b')];
    expect(await Promise.all(again)).toEqual(['a', 'b']);
  });

  it('refuses a limit that is not a whole number of at least 1', () => {
    expect(() => createConcurrencyLimit(0)).toThrow(RangeError);
    expect(() => createConcurrencyLimit(1.5)).toThrow(RangeError);
  });
});
