import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecimalFormatError, formatUnits, parseUnits, rescale } from './decimal.js';

describe('parseUnits', () => {
  it.each([
    ['1.5', 6, 1_500_000n],
    ['0.000001', 6, 1n],
    ['10', 0, 10n],
    ['1.500', 1, 15n],
    ['123456789012345678901234567890.123456789012345678', 18, 123456789012345678901234567890123456789012345678n],
  ])('%s with %d decimals', (input, decimals, expected) => {
    expect(parseUnits(input, decimals)).toBe(expected);
  });

  it.each(['', '-1', '+1', '1e5', '01', '.5', '1.', ' 1', '0x10', 'NaN'])('rejects %j', (input) => {
    expect(() => parseUnits(input, 18)).toThrow(DecimalFormatError);
  });

  it('rejects more decimals than allowed', () => {
    expect(() => parseUnits('0.0000001', 6)).toThrowError(/more than 6 decimals/);
  });

  it('round-trips with formatUnits', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 40n }), fc.integer({ min: 0, max: 30 }), (value, decimals) => {
        expect(parseUnits(formatUnits(value, decimals), decimals)).toBe(value);
      }),
    );
  });
});

describe('rescale', () => {
  it('scales up and down exactly', () => {
    expect(rescale(15n, 1, 6)).toBe(1_500_000n);
    expect(rescale(1_500_000n, 6, 1)).toBe(15n);
    expect(() => rescale(1_500_001n, 6, 1)).toThrow(RangeError);
  });
});
