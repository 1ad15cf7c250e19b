import { getAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import type { AssetNetwork } from '../assets/registry.js';
import { MAX_LEDGER_UNITS } from '../money/decimal.js';
import { checkAddress, checkAmount, isProblem, isReservedAddress } from './validate.js';

const lower = '0x8ba1f109551bd432803012645ac136ddd64dba72';
const checksummed = getAddress(lower); // 0x8ba1f109551bD432803012645Ac136ddd64DBA72

function network(overrides: Partial<AssetNetwork> = {}): AssetNetwork {
  return {
    asset: 'USDC',
    ledgerDecimals: 6,
    chainId: 31337,
    chainName: 'devnet',
    kind: 'erc20',
    contract: '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48',
    decimals: 6,
    withdrawalFee: 250_000n,
    minAmount: 1_000_000n, // 1
    maxAmount: 5_000_000_000n, // 5000
    gasLimit: 65_000,
    enabled: true,
    ...overrides,
  };
}

describe('checkAddress', () => {
  it('accepts a valid checksummed address', () => {
    expect(checksummed).not.toBe(lower);
    expect(checkAddress(checksummed)).toBeNull();
  });

  it('accepts an all-lowercase address (no checksum to check)', () => {
    expect(checkAddress(lower)).toBeNull();
  });

  it('rejects mixed case with a bad EIP-55 checksum', () => {
    // flip the case of one letter of the checksummed form
    const i = checksummed.search(/[a-f]/);
    const bad = checksummed.slice(0, i) + checksummed[i]!.toUpperCase() + checksummed.slice(i + 1);
    expect(bad.toLowerCase()).toBe(lower);
    expect(bad).not.toBe(checksummed);
    expect(checkAddress(bad)?.code).toBe('invalid_address_checksum');
  });

  it.each([
    ['too short', '0x8ba1f109551bd432803012645ac136ddd64dba7'],
    ['too long', `${lower}0`],
    ['not hex', '0x8ba1f109551bd432803012645ac136ddd64dbazz'],
    ['missing 0x', lower.slice(2)],
    ['uppercase 0X prefix', `0X${lower.slice(2)}`],
    ['surrounding whitespace', ` ${lower}`],
    ['empty', ''],
    ['ENS name', 'vitalik.eth'],
  ])('rejects %s as invalid_address', (_label, address) => {
    const problem = checkAddress(address);
    expect(problem?.code).toBe('invalid_address');
    expect(problem?.message).toMatch(/toAddress/);
  });

  it('rejects the zero address', () => {
    expect(checkAddress('0x0000000000000000000000000000000000000000')?.code).toBe('zero_address');
  });

  it.each([
    ['0x0000000000000000000000000000000000000001', 'ecrecover'],
    ['0x0000000000000000000000000000000000000002', 'sha256'],
    ['0x000000000000000000000000000000000000000a', 'point evaluation'],
    ['0x0000000000000000000000000000000000000011', 'BLS12 map fp2 to g2'],
    ['0x00000000000000000000000000000000000000ff', 'the top of the range'],
  ])('rejects the reserved address %s (%s)', (address) => {
    const problem = checkAddress(address);
    expect(problem?.code).toBe('reserved_address');
    expect(problem?.message).toMatch(/toAddress/);
  });

  it('rejects 0x…ff and accepts 0x…0100, the first address past the reserved range', () => {
    expect(checkAddress('0x00000000000000000000000000000000000000ff')?.code).toBe('reserved_address');
    expect(checkAddress(getAddress('0x00000000000000000000000000000000000000ff'))?.code).toBe('reserved_address');
    expect(checkAddress('0x0000000000000000000000000000000000000100')).toBeNull();
    expect(checkAddress('0x1000000000000000000000000000000000000001')).toBeNull();
    expect(checkAddress('0x000000000000000000000000000000000000dEaD')).toBeNull();
  });

  it('isReservedAddress covers exactly 0x…01 to 0x…ff', () => {
    const at = (n: number) => `0x${n.toString(16).padStart(40, '0')}`;
    expect(isReservedAddress(at(0))).toBe(false);
    for (let n = 1; n <= 0xff; n++) expect(isReservedAddress(at(n)), at(n)).toBe(true);
    expect(isReservedAddress(at(0x100))).toBe(false);
    expect(isReservedAddress(at(0x101))).toBe(false);
  });

  it('returns problems that isProblem recognises', () => {
    expect(isProblem(checkAddress('nope'))).toBe(true);
    expect(isProblem(checkAddress(lower))).toBe(false);
  });
});

describe('checkAmount', () => {
  it('returns the amount in ledger base units and passes the network fee through', () => {
    expect(checkAmount('1.5', network())).toEqual({ amount: 1_500_000n, fee: 250_000n });
    expect(checkAmount('12', network())).toEqual({ amount: 12_000_000n, fee: 250_000n });
  });

  it('tolerates trailing zeros beyond the allowed decimals', () => {
    expect(checkAmount('1.5000000000', network())).toEqual({ amount: 1_500_000n, fee: 250_000n });
  });

  it('allows at most min(network decimals, ledger decimals): token with 18 decimals, ledger with 6', () => {
    const n = network({ asset: 'WETH', decimals: 18, ledgerDecimals: 6, minAmount: 1n, maxAmount: 10n ** 12n });
    expect(checkAmount('1.000001', n)).toEqual({ amount: 1_000_001n, fee: 250_000n });
    const problem = checkAmount('1.0000001', n);
    expect(isProblem(problem) && problem.code).toBe('too_many_decimals');
    expect(isProblem(problem) && problem.message).toContain('at most 6 decimals');
  });

  it('allows at most min(network decimals, ledger decimals): token with 6 decimals, ledger with 18', () => {
    const n = network({ asset: 'ETHX', decimals: 6, ledgerDecimals: 18, minAmount: 1n, maxAmount: 10n ** 30n });
    // Result is still in ledger units (18 decimals).
    expect(checkAmount('1.000001', n)).toEqual({ amount: 1_000_001_000_000_000_000n, fee: 250_000n });
    const problem = checkAmount('1.0000001', n);
    expect(isProblem(problem) && problem.code).toBe('too_many_decimals');
    expect(isProblem(problem) && problem.message).toContain('at most 6 decimals');
  });

  it('with 0 allowed decimals accepts whole numbers only', () => {
    const n = network({ decimals: 0, ledgerDecimals: 0, minAmount: 1n, maxAmount: 100n });
    expect(checkAmount('7', n)).toEqual({ amount: 7n, fee: 250_000n });
    expect(checkAmount('7.0', n)).toEqual({ amount: 7n, fee: 250_000n });
    const problem = checkAmount('7.5', n);
    expect(isProblem(problem) && problem.code).toBe('too_many_decimals');
  });

  it.each(['', 'abc', '-1', '+1', '1e6', '01', '1.', '.5', ' 1', '1 ', '1,5', '0x10', 'NaN', 'Infinity', '1.2.3'])(
    'rejects the malformed amount %j as invalid_amount',
    (amount) => {
      const problem = checkAmount(amount, network());
      expect(isProblem(problem)).toBe(true);
      expect(isProblem(problem) && problem.code).toBe('invalid_amount');
    },
  );

  it.each(['0', '0.0', '0.000000'])('rejects zero (%s)', (amount) => {
    const problem = checkAmount(amount, network({ minAmount: 0n }));
    expect(isProblem(problem) && problem.code).toBe('invalid_amount');
    expect(isProblem(problem) && problem.message).toMatch(/greater than zero/);
  });

  it('rejects an amount below the minimum and names the minimum in asset units', () => {
    const problem = checkAmount('0.999999', network());
    expect(isProblem(problem) && problem.code).toBe('amount_below_minimum');
    expect(isProblem(problem) && problem.message).toContain('1 USDC');
  });

  it('rejects an amount above the maximum and names the maximum in asset units', () => {
    const problem = checkAmount('5000.000001', network());
    expect(isProblem(problem) && problem.code).toBe('amount_above_maximum');
    expect(isProblem(problem) && problem.message).toContain('5000 USDC');
  });

  it('accepts exactly the minimum and exactly the maximum', () => {
    expect(checkAmount('1', network())).toEqual({ amount: 1_000_000n, fee: 250_000n });
    expect(checkAmount('5000', network())).toEqual({ amount: 5_000_000_000n, fee: 250_000n });
  });

  it('formats fractional limits in messages', () => {
    const problem = checkAmount('0.1', network({ minAmount: 1_500_000n }));
    expect(isProblem(problem) && problem.message).toContain('1.5 USDC');
  });

  it('rejects an amount past MAX_LEDGER_UNITS as amount_too_large, before the network maximum', () => {
    const n = network({ decimals: 18, ledgerDecimals: 18, minAmount: 1n, maxAmount: 10n ** 64n });
    const tooLarge = checkAmount(`1${'0'.repeat(70)}`, n);
    expect(isProblem(tooLarge) && tooLarge.code).toBe('amount_too_large');
    expect(isProblem(tooLarge) && tooLarge.message).toContain('USDC');
    const justOver = checkAmount('1000000000000000000000000000000000000000000', n); // 10^42 tokens = 10^60 base units
    expect(isProblem(justOver) && justOver.code).toBe('amount_too_large');
    expect(checkAmount('999999999999999999999999999999999999999999.999999999999999999', n)).toEqual({ amount: MAX_LEDGER_UNITS, fee: 250_000n });
    // With the usual limits, a huge amount is still amount_too_large (400), not amount_above_maximum (422).
    const usual = checkAmount(`1${'0'.repeat(70)}`, network());
    expect(isProblem(usual) && usual.code).toBe('amount_too_large');
  });

  it('handles amounts far beyond Number precision exactly', () => {
    const n = network({ decimals: 18, ledgerDecimals: 18, minAmount: 1n, maxAmount: 10n ** 40n });
    expect(checkAmount('123456789012345678.123456789012345678', n)).toEqual({
      amount: 123456789012345678123456789012345678n,
      fee: 250_000n,
    });
  });
});
