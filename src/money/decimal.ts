/**
 * Decimal strings <-> integer base units. Amounts never pass through JS `number`.
 */
const DECIMAL = /^(0|[1-9]\d*)(?:\.(\d+))?$/;

export class DecimalFormatError extends Error {
  override name = 'DecimalFormatError';
  constructor(
    readonly reason: 'format' | 'too_many_decimals',
    message: string,
  ) {
    super(message);
  }
}

/** "1.5" with 6 decimals -> 1500000n. Trailing zeros beyond `decimals` are tolerated ("1.500" ok). */
export function parseUnits(value: string, decimals: number): bigint {
  const match = DECIMAL.exec(value);
  if (!match) throw new DecimalFormatError('format', `"${value}" is not a plain decimal number`);
  const whole = match[1]!;
  const fraction = (match[2] ?? '').replace(/0+$/, '');
  if (fraction.length > decimals) {
    throw new DecimalFormatError('too_many_decimals', `"${value}" has more than ${decimals} decimals`);
  }
  return BigInt(whole + fraction.padEnd(decimals, '0'));
}

/** 1500000n with 6 decimals -> "1.5". */
export function formatUnits(value: bigint, decimals: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = decimals > 0 ? digits.slice(digits.length - decimals).replace(/0+$/, '') : '';
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** Re-expresses base units of one precision in another; throws if precision would be lost. */
export function rescale(value: bigint, fromDecimals: number, toDecimals: number): bigint {
  if (toDecimals >= fromDecimals) return value * 10n ** BigInt(toDecimals - fromDecimals);
  const factor = 10n ** BigInt(fromDecimals - toDecimals);
  if (value % factor !== 0n) throw new RangeError(`${value} cannot be expressed with ${toDecimals} decimals`);
  return value / factor;
}
