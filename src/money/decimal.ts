/**
 * Decimal strings <-> integer base units. Amounts never pass through JS `number`.
 */
const DECIMAL = /^(0|[1-9]\d*)(?:\.(\d+))?$/;

/**
 * What an amount column holds: DECIMAL(65,0) on MySQL/MariaDB, the widest MySQL allows (SQLite
 * stores text and has no limit, but both databases must accept and refuse the same things). No
 * stored balance may pass this.
 */
export const MAX_STORED_UNITS = 10n ** 65n - 1n;

/**
 * The largest amount one request (a ledger credit or debit, a withdrawal) may carry, in the asset's
 * ledger base units: 10^60 - 1. Why 10^60: the largest real token supplies are around 10^33 to
 * 10^36 base units (10^15 to 10^18 tokens with 18 decimals), so no genuine amount comes near it;
 * and it stays 10^5 below MAX_STORED_UNITS, so an amount plus a fee, or a hold next to a balance,
 * can never overflow a column by itself. Anything larger is refused with 400 `amount_too_large`
 * before it reaches the database.
 */
export const MAX_LEDGER_UNITS = 10n ** 60n - 1n;

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
