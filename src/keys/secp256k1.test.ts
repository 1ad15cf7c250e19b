import { bytesToHex, getAddress, hexToBytes, keccak256, parseTransaction, recoverTransactionAddress, serializeTransaction, type TransactionSerializableEIP1559 } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keccak256Bytes, keccak256Hex, keccakBackend } from './keccak.js';
import { recoverHashSigner, recoverTransactionSigner, SYSTEM_BINDING_PATH, secp256k1Backend, signHash, signTransactionWithKey } from './secp256k1.js';

type Addon = {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
};
const load = (id: string) => createRequire(import.meta.url)(id) as Addon;

const HALF_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n >> 1n;

function transfer(nonce: number, value: bigint): TransactionSerializableEIP1559 {
  return {
    type: 'eip1559',
    chainId: 31337,
    to: '0x000000000000000000000000000000000000dEaD',
    value,
    nonce,
    gas: 21_000n,
    maxFeePerGas: 20_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
  };
}

describe('secp256k1 signing', () => {
  it('uses Sluice\'s libsecp256k1 binding on this machine (npm run build:native, with libsecp256k1-dev) and the native keccak', () => {
    expect(secp256k1Backend).toBe('libsecp256k1');
    expect(keccakBackend).toBe('native');
  });

  it('the libsecp256k1 binding signs and recovers byte for byte as the secp256k1 addon does', () => {
    const binding = load(SYSTEM_BINDING_PATH);
    const addon = load('secp256k1/bindings');
    for (let i = 0; i < 300; i++) {
      const key = randomBytes(32);
      const msg = randomBytes(32);
      const ours = binding.ecdsaSign(msg, key);
      const theirs = addon.ecdsaSign(msg, key);
      expect(Buffer.from(ours.signature).toString('hex')).toBe(Buffer.from(theirs.signature).toString('hex'));
      expect(ours.recid).toBe(theirs.recid);
      for (const compressed of [false, true]) {
        expect(Buffer.from(binding.ecdsaRecover(ours.signature, ours.recid, msg, compressed)).toString('hex')).toBe(
          Buffer.from(addon.ecdsaRecover(theirs.signature, theirs.recid, msg, compressed)).toString('hex'),
        );
      }
    }
  });

  it('the libsecp256k1 binding refuses bad input with an error, never a signature', () => {
    const binding = load(SYSTEM_BINDING_PATH);
    const msg = randomBytes(32);
    const order = Buffer.from('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141', 'hex');
    expect(() => binding.ecdsaSign(msg, Buffer.alloc(32))).toThrow(/private key is not valid/);
    expect(() => binding.ecdsaSign(msg, order)).toThrow(/private key is not valid/);
    expect(() => binding.ecdsaSign(msg, randomBytes(31))).toThrow(TypeError);
    expect(() => binding.ecdsaSign(randomBytes(33), randomBytes(32))).toThrow(TypeError);
    expect(() => binding.ecdsaSign('00'.repeat(32) as unknown as Uint8Array, randomBytes(32))).toThrow(TypeError);
    const { signature, recid } = binding.ecdsaSign(msg, randomBytes(32));
    expect(() => binding.ecdsaRecover(signature, 4, msg, false)).toThrow(RangeError);
    expect(() => binding.ecdsaRecover(signature.subarray(0, 63), recid, msg, false)).toThrow(TypeError);
    expect(() => binding.ecdsaRecover(new Uint8Array(64), recid, msg, false)).toThrow(/No public key recovers/);
  });

  it('hashes as viem does', () => {
    for (const hex of ['0x', '0x00', `0x${'ab'.repeat(135)}`, `0x${'cd'.repeat(136)}`, `0x${'ef'.repeat(1000)}`] as const) {
      expect(keccak256Hex(hex)).toBe(keccak256(hex));
      expect(bytesToHex(keccak256Bytes(hexToBytes(hex)))).toBe(keccak256(hex));
    }
  });

  it('signs byte-for-byte what viem signs, and recovers to the same address viem recovers', async () => {
    for (let i = 0; i < 25; i++) {
      const pk = generatePrivateKey();
      const account = privateKeyToAccount(pk);
      const tx = transfer(i, BigInt(i) * 10n ** 15n + 1n);
      const ours = await signTransactionWithKey(tx, hexToBytes(pk));
      expect(ours).toBe(await account.signTransaction(tx));
      expect(await recoverTransactionSigner(ours)).toBe(account.address);
      expect(getAddress(await recoverTransactionAddress({ serializedTransaction: ours as `0x02${string}` }))).toBe(account.address);
      const { s } = parseTransaction(ours as `0x02${string}`);
      expect(BigInt(s!) <= HALF_N).toBe(true); // EIP-2 low s
    }
  });

  it('signs the unsigned bytes it is handed as they are, not a serialization of its own', async () => {
    const pk = generatePrivateKey();
    const account = privateKeyToAccount(pk);
    const asked = transfer(7, 5n);
    expect(await signTransactionWithKey(asked, hexToBytes(pk), serializeTransaction(asked))).toBe(await account.signTransaction(asked));
    // Handed other bytes than `tx` encodes, it signs those bytes: what the caller verified is what is signed.
    const other = transfer(8, 6n);
    expect(await signTransactionWithKey(asked, hexToBytes(pk), serializeTransaction(other))).toBe(await account.signTransaction(other));
  });

  it('recovers another address from a tampered transaction', async () => {
    const pk = generatePrivateKey();
    const signed = await signTransactionWithKey(transfer(1, 5n), hexToBytes(pk));
    const parsed = parseTransaction(signed as `0x02${string}`);
    const tampered = serializeTransaction({ ...transfer(1, 6n) }, { r: parsed.r!, s: parsed.s!, yParity: parsed.yParity! });
    expect(await recoverTransactionSigner(tampered)).not.toBe(privateKeyToAccount(pk).address);
  });

  it('refuses signed bytes that are not well-formed hex rather than reading a prefix of them', async () => {
    const signed = await signTransactionWithKey(transfer(1, 5n), hexToBytes(generatePrivateKey()));
    for (const bad of [`${signed}0`, `${signed.slice(0, 40)}zz${signed.slice(42)}`, signed.slice(2)]) {
      await expect(recoverTransactionSigner(bad as `0x${string}`)).rejects.toThrow(/hex/);
    }
  });

  it('recovers transactions whose r or s has leading zero bytes (stripped by RLP)', async () => {
    const pk = generatePrivateKey();
    const address = privateKeyToAccount(pk).address;
    let found = 0;
    for (let nonce = 0; nonce < 3000 && found < 2; nonce++) {
      const raw = await signTransactionWithKey(transfer(nonce, 1n), hexToBytes(pk));
      const { r, s } = parseTransaction(raw as `0x02${string}`);
      if (BigInt(r!) >= 1n << 248n && BigInt(s!) >= 1n << 248n) continue;
      found++;
      expect(await recoverTransactionSigner(raw)).toBe(address);
      const hash = keccak256(serializeTransaction(transfer(nonce, 1n)), 'bytes');
      expect(await recoverHashSigner(hash, await signHash(hash, hexToBytes(pk)))).toBe(address);
    }
    expect(found).toBe(2); // ~1 in 64 signatures has such a scalar
  });
});
