import { describe, expect, it } from 'vitest';
import { newId } from './ids.js';

describe('newId', () => {
  it('sorts in creation order, also within one millisecond', () => {
    const ids = Array.from({ length: 1000 }, () => newId('wd', 1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('orders by time across milliseconds', () => {
    const a = newId('wd', 1_800_000_000_000);
    const b = newId('wd', 1_800_000_000_001);
    expect(a < b).toBe(true);
    expect(a).toMatch(/^wd_[0-9A-HJKMNP-TV-Z]{26}$/);
  });
});
