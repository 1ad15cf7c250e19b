import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecimalFormatError, formatUnits, MAX_LEDGER_UNITS, MAX_STORED_UNITS, parseUnits, rescale } from './decimal.js';

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

describe('storage bounds', () => {
  it('MAX_STORED_UNITS is the largest DECIMAL(65,0): 65 nines', () => {
    expect(MAX_STORED_UNITS.toString()).toBe('9'.repeat(65));
    expect((MAX_STORED_UNITS + 1n).toString()).toHaveLength(66);
  });

  it('MAX_LEDGER_UNITS is 60 nines, 10^5 below the column limit', () => {
    expect(MAX_LEDGER_UNITS.toString()).toBe('9'.repeat(60));
    expect(MAX_STORED_UNITS / MAX_LEDGER_UNITS).toBe(100_000n);
    // An amount plus a fee of the same size still fits a column.
    expect(MAX_LEDGER_UNITS * 2n <= MAX_STORED_UNITS).toBe(true);
  });
});
