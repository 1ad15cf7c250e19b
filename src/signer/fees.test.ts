import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChainRpc, FeeSuggestion } from '../chain/rpc.js';
import { createMemoryCache } from '../cache/memory-cache.js';
import { createFeeOracle, raiseBy, replacementFees } from './fees.js';

const gwei = (n: number) => BigInt(n) * 1_000_000_000n;

/** Only `suggestFees` and `chain.maxFeePerGas` are used by the oracle. */
function fakeRpc(cap: bigint, suggest: () => Promise<FeeSuggestion>) {
  const suggestFees = vi.fn(suggest);
  const rpc = { chain: { maxFeePerGas: cap }, suggestFees } as unknown as ChainRpc;
  return { rpc, suggestFees };
}

describe('createFeeOracle', () => {
  describe('fee computation', () => {
    it('sets maxFee = 2 * baseFee + tip and keeps the tip when under the cap', async () => {
      const { rpc } = fakeRpc(gwei(500), async () => ({ baseFee: gwei(10), maxPriorityFeePerGas: gwei(1) }));
      expect(await createFeeOracle(rpc).current()).toEqual({ maxFeePerGas: gwei(21), maxPriorityFeePerGas: gwei(1), capped: false });
    });

    it('clamps maxFee to the cap and flags it', async () => {
      const { rpc } = fakeRpc(gwei(500), async () => ({ baseFee: gwei(300), maxPriorityFeePerGas: gwei(2) }));
      expect(await createFeeOracle(rpc).current()).toEqual({ maxFeePerGas: gwei(500), maxPriorityFeePerGas: gwei(2), capped: true });
    });

    it('clamps the tip to the cap too', async () => {
      const { rpc } = fakeRpc(gwei(50), async () => ({ baseFee: gwei(1), maxPriorityFeePerGas: gwei(80) }));
      expect(await createFeeOracle(rpc).current()).toEqual({ maxFeePerGas: gwei(50), maxPriorityFeePerGas: gwei(50), capped: true });
    });

    it('is exactly the cap, not flagged, when 2 * base + tip equals it', async () => {
      const { rpc } = fakeRpc(100n, async () => ({ baseFee: 45n, maxPriorityFeePerGas: 10n }));
      expect(await createFeeOracle(rpc).current()).toEqual({ maxFeePerGas: 100n, maxPriorityFeePerGas: 10n, capped: false });
    });

    it('flags a fee one wei over the cap', async () => {
      const { rpc } = fakeRpc(100n, async () => ({ baseFee: 45n, maxPriorityFeePerGas: 11n }));
      expect(await createFeeOracle(rpc).current()).toEqual({ maxFeePerGas: 100n, maxPriorityFeePerGas: 11n, capped: true });
    });

    it('never returns a tip above maxFee or a maxFee above the cap', async () => {
      const cases: [bigint, bigint, bigint][] = [
        [0n, 0n, 10n],
        [0n, 5n, 10n],
        [3n, 5n, 10n],
        [100n, 1n, 10n],
        [1n, 100n, 10n],
        [gwei(1000), gwei(1000), gwei(500)],
      ];
      for (const [baseFee, tip, cap] of cases) {
        const { rpc } = fakeRpc(cap, async () => ({ baseFee, maxPriorityFeePerGas: tip }));
        const fees = await createFeeOracle(rpc).current();
        expect(fees.maxFeePerGas <= cap).toBe(true);
        expect(fees.maxPriorityFeePerGas <= fees.maxFeePerGas).toBe(true);
        expect(fees.maxFeePerGas).toBe(2n * baseFee + tip < cap ? 2n * baseFee + tip : cap);
      }
    });
  });

  describe('caching', () => {
    beforeEach(() => {
      vi.useFakeTimers();
      vi.setSystemTime(1_700_000_000_000);
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('asks the node once within the ttl and again after it', async () => {
      let base = 10;
      const { rpc, suggestFees } = fakeRpc(gwei(500), async () => ({ baseFee: gwei(base), maxPriorityFeePerGas: gwei(1) }));
      const oracle = createFeeOracle(rpc, { ttlMs: 100 });

      expect((await oracle.current()).maxFeePerGas).toBe(gwei(21));
      base = 20;
      vi.advanceTimersByTime(50);
      expect((await oracle.current()).maxFeePerGas).toBe(gwei(21));
      vi.advanceTimersByTime(25); // three quarters of the ttl: not yet renewed
      expect((await oracle.current()).maxFeePerGas).toBe(gwei(21));
      expect(suggestFees).toHaveBeenCalledTimes(1);

      vi.advanceTimersByTime(26); // past the ttl, nobody asked in between: this caller waits for new fees
      expect((await oracle.current()).maxFeePerGas).toBe(gwei(41));
      expect(suggestFees).toHaveBeenCalledTimes(2);
    });

    it('past three quarters of the ttl, answers with the cached fees and renews them behind the caller, once', async () => {
      let base = 10;
      const { rpc, suggestFees } = fakeRpc(gwei(500), async () => ({ baseFee: gwei(base), maxPriorityFeePerGas: gwei(1) }));
      const oracle = createFeeOracle(rpc, { ttlMs: 100 });
      expect((await oracle.current()).maxFeePerGas).toBe(gwei(21));
      base = 20;
      vi.advanceTimersByTime(80);
      expect((await oracle.current()).maxFeePerGas).toBe(gwei(21)); // no wait for the node
      expect((await oracle.current()).maxFeePerGas).toBe(gwei(21));
      expect(suggestFees).toHaveBeenCalledTimes(2); // one renewal for both
      await vi.advanceTimersByTimeAsync(30); // past the first answer's ttl: the renewed fees, already there
      expect((await oracle.current()).maxFeePerGas).toBe(gwei(41));
      expect(suggestFees).toHaveBeenCalledTimes(2);
    });

    it('a renewal that fails leaves the cached fees until their ttl, then the next caller asks the node itself', async () => {
      let fail = false;
      const { rpc, suggestFees } = fakeRpc(gwei(500), async () => {
        if (fail) throw new Error('node down');
        return { baseFee: gwei(10), maxPriorityFeePerGas: gwei(1) };
      });
      const oracle = createFeeOracle(rpc, { ttlMs: 100 });
      await oracle.current();
      fail = true;
      vi.advanceTimersByTime(80);
      expect((await oracle.current()).maxFeePerGas).toBe(gwei(21));
      await vi.advanceTimersByTimeAsync(21);
      await expect(oracle.current()).rejects.toThrow('node down');
      expect(suggestFees).toHaveBeenCalledTimes(3);
    });

    it('defaults to a 1 s ttl', async () => {
      const { rpc, suggestFees } = fakeRpc(gwei(500), async () => ({ baseFee: gwei(1), maxPriorityFeePerGas: gwei(1) }));
      const oracle = createFeeOracle(rpc);
      await oracle.current();
      vi.advanceTimersByTime(750);
      await oracle.current();
      expect(suggestFees).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(251);
      await oracle.current();
      expect(suggestFees).toHaveBeenCalledTimes(2);
    });

    it('shares one request between concurrent callers', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const { rpc, suggestFees } = fakeRpc(gwei(500), async () => {
        await gate;
        return { baseFee: gwei(5), maxPriorityFeePerGas: gwei(1) };
      });
      const oracle = createFeeOracle(rpc, { ttlMs: 100 });
      const a = oracle.current();
      const b = oracle.current();
      release();
      const [fa, fb] = await Promise.all([a, b]);
      expect(fa).toEqual(fb);
      expect(fa.maxFeePerGas).toBe(gwei(11));
      expect(suggestFees).toHaveBeenCalledTimes(1);
    });

    it('does not cache a failed fetch: the next call asks again', async () => {
      let fail = true;
      const { rpc, suggestFees } = fakeRpc(gwei(500), async () => {
        if (fail) throw new Error('node down');
        return { baseFee: gwei(2), maxPriorityFeePerGas: gwei(1) };
      });
      const oracle = createFeeOracle(rpc, { ttlMs: 60_000 });
      await expect(oracle.current()).rejects.toThrow('node down');
      fail = false;
      // Well within the ttl, yet the failure must not be served again.
      expect(await oracle.current()).toEqual({ maxFeePerGas: gwei(5), maxPriorityFeePerGas: gwei(1), capped: false });
      expect(suggestFees).toHaveBeenCalledTimes(2);
      // And the success is cached.
      await oracle.current();
      expect(suggestFees).toHaveBeenCalledTimes(2);
    });

    it('a late failure of a stale request does not evict a newer cached value', async () => {
      let rejectFirst!: (e: Error) => void;
      let calls = 0;
      const { rpc, suggestFees } = fakeRpc(gwei(500), () => {
        calls += 1;
        if (calls === 1) return new Promise<FeeSuggestion>((_, reject) => (rejectFirst = reject));
        return Promise.resolve({ baseFee: gwei(3), maxPriorityFeePerGas: gwei(1) });
      });
      const oracle = createFeeOracle(rpc, { ttlMs: 100 });
      const first = oracle.current();
      vi.advanceTimersByTime(101);
      expect((await oracle.current()).maxFeePerGas).toBe(gwei(7));
      rejectFirst(new Error('slow node gave up'));
      await expect(first).rejects.toThrow('slow node gave up');
      expect((await oracle.current()).maxFeePerGas).toBe(gwei(7));
      expect(suggestFees).toHaveBeenCalledTimes(2);
    });
  });
});

describe('createFeeOracle with a shared cache', () => {
  it('lets a second oracle (another replica) reuse the first one\'s node answer', async () => {
    const cache = createMemoryCache();
    let calls = 0;
    const rpc = {
      chain: { chainId: 7, maxFeePerGas: 10n ** 12n },
      suggestFees: async () => {
        calls++;
        return { baseFee: 10n, maxPriorityFeePerGas: 1n };
      },
    } as unknown as Parameters<typeof createFeeOracle>[0];
    const a = await createFeeOracle(rpc, { cache }).current();
    const b = await createFeeOracle(rpc, { cache }).current();
    expect(calls).toBe(1);
    expect(b).toEqual(a);
    expect(b).toEqual({ maxFeePerGas: 21n, maxPriorityFeePerGas: 1n, capped: false });
  });
});

describe('replacementFees', () => {
  const gwei = 1_000_000_000n;
  const prev = { maxFeePerGas: 100n * gwei, maxPriorityFeePerGas: 2n * gwei };

  it('raises both fields by at least the percentage, rounding up', () => {
    const next = replacementFees(prev, { maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }, 1000n * gwei, 12.5)!;
    expect(next.maxFeePerGas).toBe(112_500_000_000n);
    expect(next.maxPriorityFeePerGas).toBe(2_250_000_000n);
    expect(raiseBy(7n, 10)).toBe(8n); // 7.7 rounds up
    expect(raiseBy(0n, 12.5)).toBe(1n); // strictly greater, even from zero
  });

  it('follows the network when it asks for more than the minimum raise', () => {
    const next = replacementFees(prev, { maxFeePerGas: 300n * gwei, maxPriorityFeePerGas: 5n * gwei }, 1000n * gwei, 12.5)!;
    expect(next).toEqual({ maxFeePerGas: 300n * gwei, maxPriorityFeePerGas: 5n * gwei });
  });

  it('clamps to the cap, and gives up when the cap leaves no valid replacement', () => {
    const clamped = replacementFees(prev, { maxFeePerGas: 300n * gwei, maxPriorityFeePerGas: 3n * gwei }, 150n * gwei, 12.5)!;
    expect(clamped.maxFeePerGas).toBe(150n * gwei);
    expect(replacementFees(prev, prev, 110n * gwei, 12.5)).toBeNull();
    expect(replacementFees({ maxFeePerGas: 150n * gwei, maxPriorityFeePerGas: 2n * gwei }, prev, 150n * gwei, 12.5)).toBeNull();
  });

  it('never sets a tip above the fee cap of the tx', () => {
    const next = replacementFees({ maxFeePerGas: 10n, maxPriorityFeePerGas: 10n }, { maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }, 1000n, 10)!;
    expect(next.maxPriorityFeePerGas <= next.maxFeePerGas).toBe(true);
  });
});
