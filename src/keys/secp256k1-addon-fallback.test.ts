import { hexToBytes } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it, vi } from 'vitest';

// As on a machine without libsecp256k1-dev, where npm ci could not build native/libsecp256k1: that
// require fails, the `secp256k1` addon still loads.
vi.mock('node:module', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:module')>();
  return {
    ...original,
    createRequire: (from: string | URL) => {
      const require = original.createRequire(from);
      return (id: string) => {
        if (id.endsWith('sluice_secp256k1.node')) throw new Error('binding not built');
        return require(id);
      };
    },
  };
});

const { recoverTransactionSigner, secp256k1Backend, signTransactionWithKey } = await import('./secp256k1.js');

describe('secp256k1 without the libsecp256k1 binding', () => {
  it('signs and recovers with the secp256k1 addon, the same bytes as viem', async () => {
    expect(secp256k1Backend).toBe('secp256k1-addon');
    const pk = generatePrivateKey();
    const account = privateKeyToAccount(pk);
    for (let nonce = 0; nonce < 5; nonce++) {
      const tx = { type: 'eip1559', chainId: 31337, to: '0x000000000000000000000000000000000000dEaD', value: 10n ** 15n + BigInt(nonce), nonce, gas: 21_000n, maxFeePerGas: 20_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n } as const;
      const raw = await signTransactionWithKey(tx, hexToBytes(pk));
      expect(raw).toBe(await account.signTransaction(tx));
      expect(await recoverTransactionSigner(raw)).toBe(account.address);
    }
  });
});
