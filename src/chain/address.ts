/**
 * Whether two hex addresses name the same account, whatever their EIP-55 casing: what
 * `getAddress(a) === getAddress(b)` answers, without the two checksums (a keccak and a cache
 * lookup each) that the signer's checks of every payout spent only to compare. A string that is
 * not an address is the same as nothing.
 */
export function sameAddress(a: string, b: string): boolean {
  return a.length === 42 && a.toLowerCase() === b.toLowerCase() && HEX_ADDRESS.test(a);
}

const HEX_ADDRESS = /^0x[0-9a-fA-F]{40}$/;
