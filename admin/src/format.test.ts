import { describe, expect, it } from 'vitest';
import { fmtAmount, fmtMs, humanize, shortHash, weiToGwei } from './format';
import { classifySearch } from './search';

describe('console formatting', () => {
  it('shows wei as gwei without passing through JS numbers', () => {
    expect(weiToGwei('1032000000')).toBe('1.032');
    expect(weiToGwei('500000000000')).toBe('500');
    expect(weiToGwei('123456789012345678901234567890')).toBe('123456789012345678901.234');
    expect(weiToGwei(null)).toBe('—');
  });

  it('cuts long amounts for display, never rounding up', () => {
    expect(fmtAmount('9998.249880390609999999')).toBe('9,998.24988…');
    expect(fmtAmount('999999975')).toBe('999,999,975');
    expect(fmtAmount('0.0001')).toBe('0.0001');
    expect(fmtAmount('1.000000')).toBe('1');
  });

  it('formats durations, hashes and codes', () => {
    expect(fmtMs(663)).toBe('663 ms');
    expect(fmtMs(1900)).toBe('1.9 s');
    expect(fmtMs(90_000)).toBe('1.5 min');
    expect(fmtMs(null)).toBe('—');
    expect(shortHash(`0x${'ab'.repeat(32)}`, 8, 6)).toBe('0xababab…ababab');
    expect(humanize('fee_cap_reached')).toBe('fee cap reached');
  });
});

describe('withdrawal search box', () => {
  it('knows a tx hash, an address, a withdrawal id, else a user id', () => {
    expect(classifySearch(`0x${'a'.repeat(64)}`)?.key).toBe('txHash');
    expect(classifySearch(' 0x000000000000000000000000000000000000dEaD ')?.key).toBe('toAddress');
    expect(classifySearch('wd_01M8QWDSPCQ9FB1NM5S7GC75QS')?.key).toBe('id');
    expect(classifySearch('alice')?.key).toBe('userId');
    expect(classifySearch(`0x${'a'.repeat(63)}`)?.key).toBe('userId');
    expect(classifySearch('   ')).toBeNull();
  });
});
