import { getAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import { sameAddress } from './address.js';

const CHECKSUMMED = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';

describe('sameAddress', () => {
  it('ignores casing, as comparing checksummed forms does', () => {
    expect(sameAddress(CHECKSUMMED, CHECKSUMMED.toLowerCase())).toBe(true);
    expect(sameAddress(CHECKSUMMED.toLowerCase(), `0x${CHECKSUMMED.slice(2).toUpperCase()}`)).toBe(true);
    expect(sameAddress(CHECKSUMMED, getAddress(CHECKSUMMED.toLowerCase()))).toBe(true);
  });

  it('tells different accounts apart, down to the last digit', () => {
    expect(sameAddress(CHECKSUMMED, `${CHECKSUMMED.slice(0, 41)}e`)).toBe(false);
    expect(sameAddress(CHECKSUMMED, '0x000000000000000000000000000000000000dEaD')).toBe(false);
  });

  it('never matches what is not an address, even to itself', () => {
    for (const bad of ['', '0x', '0xdead', `${CHECKSUMMED}00`, `0x${'g'.repeat(40)}`, `00${CHECKSUMMED.slice(2)}`]) {
      expect(sameAddress(bad, bad)).toBe(false);
    }
  });
});
