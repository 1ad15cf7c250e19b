import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseTransaction, recoverTransactionAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import { createFileKeyStore, decryptKey, encryptKey, KeystoreError } from './keystore-file.js';

const cheap = { n: 1024, r: 8, p: 1 };

describe('file keystore', () => {
  it('round-trips a key and rejects a wrong password', async () => {
    const pk = generatePrivateKey();
    const file = await encryptKey(pk, 'correct horse', cheap);
    expect(await decryptKey(file, 'correct horse')).toBe(pk);
    expect(file.address).toBe(privateKeyToAccount(pk).address.slice(2).toLowerCase());
    expect(JSON.stringify(file)).not.toContain(pk.slice(2));
    await expect(decryptKey(file, 'wrong')).rejects.toThrow(KeystoreError);
  });

  it('creates keys on disk and signs transactions that recover to the wallet address', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ks-'));
    const store = createFileKeyStore({ dir, password: 'pw', cost: cheap });
    const { keyRef, address } = await store.createKey('hot');
    expect(keyRef).toMatch(/^keystore:hot--0x[0-9a-fA-F]{40}\.json$/);
    expect(fs.statSync(path.join(dir, keyRef.slice('keystore:'.length))).mode & 0o777).toBe(0o600);
    const reopened = createFileKeyStore({ dir, password: 'pw', cost: cheap });
    const signer = await reopened.signer(keyRef);
    expect(signer.address).toBe(address);
    const raw = await signer.signTransaction({
      type: 'eip1559',
      chainId: 31337,
      nonce: 7,
      to: '0x000000000000000000000000000000000000dEaD',
      value: 5n,
      gas: 21000n,
      maxFeePerGas: 2n,
      maxPriorityFeePerGas: 1n,
    });
    expect(parseTransaction(raw).nonce).toBe(7);
    expect(await recoverTransactionAddress({ serializedTransaction: raw as `0x02${string}` })).toBe(address);
    await expect(createFileKeyStore({ dir, password: 'nope', cost: cheap }).signer(keyRef)).rejects.toThrow(/Wrong keystore password/);
  });
});
