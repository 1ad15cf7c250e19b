import { describe, expect, it } from 'vitest';
import { createMicroBatcher } from './micro-batch.js';

describe('createMicroBatcher', () => {
  it('runs a lone call at once and gathers a burst into one batch, each caller getting its own result', async () => {
    const batches: number[][] = [];
    const b = createMicroBatcher<number, number>({ maxSize: 100, run: async (items) => (batches.push(items), items.map((i) => i * 2)) });
    expect(await b.submit(1)).toBe(2);
    const results = await Promise.all([2, 3, 4, 5].map((i) => b.submit(i)));
    expect(results).toEqual([4, 6, 8, 10]);
    expect(batches).toEqual([[1], [2, 3, 4, 5]]);
  });

  it('puts what arrives while a batch runs into the next one, never more than maxSize', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const b = createMicroBatcher<number, number>({
      maxSize: 3,
      run: async (items) => {
        batches.push(items);
        if (items[0] === 0) await gate;
        return items;
      },
    });
    const first = b.submit(0);
    await new Promise((r) => setImmediate(r));
    const later = [1, 2, 3, 4, 5].map((i) => b.submit(i));
    release();
    await Promise.all([first, ...later]);
    expect(batches).toEqual([[0], [1, 2, 3], [4, 5]]);
  });

  it('runs a failed batch again one by one, so only the bad item fails its caller', async () => {
    const b = createMicroBatcher<number, string>({
      maxSize: 10,
      run: async (items) => {
        if (items.includes(13)) throw new Error('unlucky');
        return items.map(String);
      },
    });
    const results = await Promise.allSettled([11, 12, 13, 14].map((i) => b.submit(i)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ message: 'unlucky' });
    expect((results[3] as PromiseFulfilledResult<string>).value).toBe('14');
  });

  it('runs up to `concurrency` batches at once', async () => {
    let running = 0;
    let peak = 0;
    const b = createMicroBatcher<number, number>({
      maxSize: 1,
      concurrency: 3,
      run: async (items) => {
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return items;
      },
    });
    await Promise.all(Array.from({ length: 9 }, (_, i) => b.submit(i)));
    expect(peak).toBe(3);
  });

  it('runs more batches at once, up to `concurrencyWhenFull`, only while full ones wait', async () => {
    const sizes: number[] = [];
    let running = 0;
    let peak = 0;
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const b = createMicroBatcher<number, number>({
      maxSize: 4,
      concurrency: 2,
      concurrencyWhenFull: 4,
      run: async (items) => {
        sizes.push(items.length);
        peak = Math.max(peak, ++running);
        await gate;
        running--;
        return items;
      },
    });
    // A steady trickle: two batches at once, however many small ones wait.
    const trickle = [0, 1, 2].map((i) => b.submit(i));
    await new Promise((r) => setImmediate(r));
    expect(running).toBe(1);
    const more = [3, 4].map((i) => b.submit(i));
    await new Promise((r) => setImmediate(r));
    expect(running).toBe(2);
    // A backlog: full batches take the extra slots, the partial rest waits for a free one.
    const backlog = Array.from({ length: 10 }, (_, i) => b.submit(10 + i));
    await new Promise((r) => setImmediate(r));
    expect(running).toBe(4);
    expect(sizes).toEqual([3, 2, 4, 4]);
    release();
    gate = Promise.resolve();
    await Promise.all([...trickle, ...more, ...backlog]);
    expect(peak).toBe(4);
    expect(sizes.reduce((a, n) => a + n, 0)).toBe(15);
  });

  it('fails every caller when a batch returns the wrong number of results', async () => {
    const b = createMicroBatcher<number, number>({ maxSize: 10, run: async () => [] });
    await expect(b.submit(1)).rejects.toThrow(/0 results for 1 items/);
  });
});
