import { describe, expect, it } from 'vitest';
import { ratePerSecondBetween } from '../../../bench/lib/stats.js';

describe('ratePerSecondBetween (e2e sustained payouts/s)', () => {
  /** `count` events `1000 / perSecond` ms apart, the first at `startMs`. */
  const even = (count: number, perSecond: number, startMs: number) => Array.from({ length: count }, (_, i) => startMs + (i * 1000) / perSecond);

  it('a stage that keeps up scores the offered rate whatever its latency', () => {
    // 20,000 at 400/s, completing 2 s or 4 s after their requests: both kept up.
    expect(ratePerSecondBetween(even(20_000, 400, 2_000))).toBeCloseTo(400, 6);
    expect(ratePerSecondBetween(even(20_000, 400, 4_000))).toBeCloseTo(400, 6);
  });

  it('a stage that falls behind scores what it managed', () => {
    expect(ratePerSecondBetween(even(20_000, 250, 2_000))).toBeCloseTo(250, 6);
    // Kept up for half, then stalled 30 s before the rest.
    const stalled = [...even(10_000, 400, 2_000), ...even(10_000, 400, 2_000 + 25_000 + 30_000)];
    expect(ratePerSecondBetween(stalled)).toBeLessThan(300);
  });

  it('order does not matter; fewer than two events, or all at one instant, give 0', () => {
    expect(ratePerSecondBetween([3_000, 1_000, 2_000])).toBeCloseTo(1, 6);
    expect(ratePerSecondBetween([])).toBe(0);
    expect(ratePerSecondBetween([5_000])).toBe(0);
    expect(ratePerSecondBetween([5_000, 5_000])).toBe(0);
  });
});
