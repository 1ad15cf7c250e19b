/** For the secp256k1 fallback tests (src/keys/secp256k1-*-fallback.test.ts), each with its own module mock. */
import { getAddress, type Hex, hexToBytes, recoverTransactionAddress, type TransactionSerializableEIP1559 } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { expect } from 'vitest';

/** Whichever backend loaded signs the bytes viem signs, and recovers the signer from exactly those bytes. */
export async function expectSignsLikeViem(secp256k1: {
  signTransactionWithKey(tx: TransactionSerializableEIP1559, privateKey: Uint8Array): Promise<Hex>;
  recoverTransactionSigner(raw: Hex): Promise<string>;
}): Promise<void> {
  const pk = generatePrivateKey();
  const account = privateKeyToAccount(pk);
  for (let nonce = 0; nonce < 5; nonce++) {
    const tx = { type: 'eip1559', chainId: 31337, to: '0x000000000000000000000000000000000000dEaD', value: 10n ** 15n + BigInt(nonce), nonce, gas: 21_000n, maxFeePerGas: 20_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n } as const;
    const raw = await secp256k1.signTransactionWithKey(tx, hexToBytes(pk));
    expect(raw).toBe(await account.signTransaction(tx));
    expect(await secp256k1.recoverTransactionSigner(raw)).toBe(account.address);
    expect(getAddress(await recoverTransactionAddress({ serializedTransaction: raw as `0x02${string}` }))).toBe(account.address);
  }
}
