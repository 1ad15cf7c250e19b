import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { encodeRandom, newId } from './ids.js';

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

  it('encodes 80 bits as 16 Crockford base-32 digits, exactly as one 80-bit number would', () => {
    const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    const reference = (bytes: Uint8Array) => {
      let value = 0n;
      for (const b of bytes) value = (value << 8n) | BigInt(b);
      let out = '';
      for (let i = 0; i < 16; i++, value >>= 5n) out = alphabet[Number(value & 31n)]! + out;
      return out;
    };
    const cases = [new Uint8Array(10), new Uint8Array(10).fill(255), Uint8Array.from([0, 0, 0, 0, 1, 128, 0, 0, 0, 0]), Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])];
    for (let n = 0; n < 500; n++) cases.push(randomBytes(10));
    for (const bytes of cases) expect(encodeRandom(bytes)).toBe(reference(bytes));
  });

  it('draws fresh random bits for each new millisecond (the pool refills past 512 ids)', () => {
    const randoms = Array.from({ length: 1500 }, (_, n) => newId('x', 2_000_000_000_000 + n).slice(12));
    expect(new Set(randoms).size).toBe(randoms.length);
  });
});
