import { hexToBytes, recoverTransactionAddress, getAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it, vi } from 'vitest';

// As on a machine where neither optional addon (secp256k1, keccak) installed: every require fails.
vi.mock('node:module', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:module')>();
  return {
    ...original,
    createRequire: () => () => {
      throw new Error('addon not installed');
    },
  };
});

const { keccakBackend } = await import('./keccak.js');
const { recoverTransactionSigner, secp256k1Backend, signTransactionWithKey } = await import('./secp256k1.js');

describe('secp256k1 without the native addons', () => {
  it('signs with viem and recovers from the exact bytes, as the addons do', async () => {
    expect(secp256k1Backend).toBe('js');
    expect(keccakBackend).toBe('js');
    const pk = generatePrivateKey();
    const account = privateKeyToAccount(pk);
    for (let nonce = 0; nonce < 5; nonce++) {
      const tx = { type: 'eip1559', chainId: 31337, to: '0x000000000000000000000000000000000000dEaD', value: 10n ** 15n + BigInt(nonce), nonce, gas: 21_000n, maxFeePerGas: 20_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n } as const;
      const raw = await signTransactionWithKey(tx, hexToBytes(pk));
      expect(raw).toBe(await account.signTransaction(tx));
      expect(await recoverTransactionSigner(raw)).toBe(account.address);
      expect(getAddress(await recoverTransactionAddress({ serializedTransaction: raw as `0x02${string}` }))).toBe(account.address);
    }
  });
});
