import { generateKeyPairSync } from 'node:crypto';
import {
  bytesToHex,
  type Hex,
  hexToBigInt,
  hexToBytes,
  keccak256,
  numberToHex,
  recoverTransactionAddress,
  serializeTransaction,
  toHex,
  type TransactionSerializableEIP1559,
} from 'viem';
import { privateKeyToAccount, sign } from 'viem/accounts';
import { describe, expect, it } from 'vitest';
import {
  addressFromSpki,
  KmsSignatureError,
  normalizeLowS,
  parseDerSignature,
  publicKeyFromSpki,
  SECP256K1_N,
  toRecoverableSignature,
} from './kms-signature.js';

// A fixed key so failures reproduce; the signatures are real ones made with viem (noble).
const PRIVATE_KEY: Hex = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318';
const account = privateKeyToAccount(PRIVATE_KEY);
const HALF_N = SECP256K1_N / 2n;

/** DER as KMS writes it: minimal big-endian INTEGERs, a 0x00 in front when the top bit is set. */
function derInteger(value: bigint): number[] {
  let bytes = [...hexToBytes(numberToHex(value))];
  while (bytes.length > 1 && bytes[0] === 0 && !(bytes[1]! & 0x80)) bytes = bytes.slice(1);
  if (bytes[0]! & 0x80) bytes = [0, ...bytes];
  return [0x02, bytes.length, ...bytes];
}

function derSignature(r: bigint, s: bigint): Uint8Array {
  const body = [...derInteger(r), ...derInteger(s)];
  return Uint8Array.from([0x30, body.length, ...body]);
}

const tx = (nonce: number): TransactionSerializableEIP1559 => ({
  type: 'eip1559',
  chainId: 31337,
  nonce,
  to: '0x000000000000000000000000000000000000dEaD',
  value: 10n ** 15n + BigInt(nonce),
  gas: 21000n,
  maxFeePerGas: 2_000_000_000n,
  maxPriorityFeePerGas: 1_000_000_000n,
});

describe('parseDerSignature', () => {
  it('reads 33-byte INTEGERs (leading 0x00) and short ones', () => {
    const r = 0x80n << 248n; // top bit set: encoded as 00 80 00 … (33 bytes)
    const s = 0x1234n; // 2 bytes
    const der = derSignature(r, s);
    expect(der[3]).toBe(33);
    expect(der[4]).toBe(0);
    expect(parseDerSignature(der)).toEqual({ r, s });
  });

  it('round-trips the signatures viem makes', async () => {
    for (let i = 0; i < 32; i++) {
      const sig = await sign({ hash: keccak256(toHex(i)), privateKey: PRIVATE_KEY });
      const r = hexToBigInt(sig.r);
      const s = hexToBigInt(sig.s);
      expect(parseDerSignature(derSignature(r, s))).toEqual({ r, s });
    }
  });

  const good = [...derSignature(0x80n << 248n, 0x1234n)];
  it.each<[string, number[]]>([
    ['empty input', []],
    ['not a SEQUENCE', [0x31, ...good.slice(1)]],
    ['trailing bytes', [...good, 0x00]],
    ['SEQUENCE length too long', [0x30, good[1]! + 1, ...good.slice(2)]],
    ['SEQUENCE length too short', [0x30, good[1]! - 1, ...good.slice(2)]],
    ['indefinite length', [0x30, 0x80, ...good.slice(2), 0x00, 0x00]],
    ['non-minimal long-form length', [0x30, 0x81, good[1]!, ...good.slice(2)]],
    ['three INTEGERs', [0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]],
    ['one INTEGER', [0x30, 0x03, 0x02, 0x01, 0x01]],
    ['OCTET STRING instead of INTEGER', [0x30, 0x06, 0x04, 0x01, 0x01, 0x02, 0x01, 0x01]],
    ['negative INTEGER', [0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01]],
    ['needless leading zero', [0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01]],
    ['empty INTEGER', [0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x01]],
    ['34-byte INTEGER', [0x30, 0x27, 0x02, 0x22, 0x00, 0x80, ...Array(32).fill(1), 0x02, 0x01, 0x01]],
    ['33 bytes without the sign zero', [0x30, 0x26, 0x02, 0x21, 0x01, ...Array(32).fill(1), 0x02, 0x01, 0x01]],
    ['r = 0', [...derSignature(0n, 5n)]],
    ['s = n', [...derSignature(5n, SECP256K1_N)]],
  ])('rejects %s', (_what, bytes) => {
    const err = (() => {
      try {
        parseDerSignature(Uint8Array.from(bytes));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(KmsSignatureError);
    expect((err as KmsSignatureError).code).toBe('kms_malformed_der');
    expect((err as KmsSignatureError).retryable).toBe(false);
  });
});

describe('normalizeLowS', () => {
  it('keeps s ≤ n/2 and flips s > n/2 to n − s', () => {
    expect(normalizeLowS(1n)).toBe(1n);
    expect(normalizeLowS(HALF_N)).toBe(HALF_N);
    expect(normalizeLowS(HALF_N + 1n)).toBe(SECP256K1_N - HALF_N - 1n);
    expect(normalizeLowS(SECP256K1_N - 1n)).toBe(1n);
  });
});

describe('toRecoverableSignature', () => {
  it('finds the y parity for low- and high-s DER signatures and the tx recovers to the wallet', async () => {
    const parities = new Set<number>();
    for (let nonce = 0; nonce < 24; nonce++) {
      const hash = keccak256(serializeTransaction(tx(nonce)));
      const sig = await sign({ hash, privateKey: PRIVATE_KEY });
      const r = hexToBigInt(sig.r);
      const s = hexToBigInt(sig.s);
      expect(s <= HALF_N).toBe(true);
      parities.add(sig.yParity!);
      // KMS may return either twin; both must come out as viem's own (low-s) signature.
      for (const der of [derSignature(r, s), derSignature(r, SECP256K1_N - s)]) {
        const out = await toRecoverableSignature({ hash, der, address: account.address });
        expect(out).toEqual({ r: sig.r, s: sig.s, yParity: sig.yParity });
        const raw = serializeTransaction(tx(nonce), out);
        expect(await recoverTransactionAddress({ serializedTransaction: raw as `0x02${string}` })).toBe(account.address);
        expect(raw).toBe(await account.signTransaction(tx(nonce)));
      }
    }
    expect([...parities].sort()).toEqual([0, 1]); // both branches of the parity search were taken
  });

  it('refuses a signature that recovers to neither parity', async () => {
    const hash = keccak256(toHex('withdrawal'));
    const sig = await sign({ hash, privateKey: PRIVATE_KEY });
    const der = derSignature(hexToBigInt(sig.r), hexToBigInt(sig.s));
    const other = privateKeyToAccount(`0x${'11'.repeat(32)}`).address;
    await expect(toRecoverableSignature({ hash, der, address: other })).rejects.toMatchObject({
      name: 'KmsSignatureError',
      code: 'kms_signature_unrecoverable',
      retryable: false,
    });
    // A signer that hashed the digest once more (plain moto's bug) signs another message: refused too.
    const rehashed = await sign({ hash: keccak256(hash), privateKey: PRIVATE_KEY });
    await expect(
      toRecoverableSignature({ hash, der: derSignature(hexToBigInt(rehashed.r), hexToBigInt(rehashed.s)), address: account.address }),
    ).rejects.toMatchObject({ code: 'kms_signature_unrecoverable' });
  });
});

describe('publicKeyFromSpki', () => {
  it('reads the point from a DER SubjectPublicKeyInfo made by OpenSSL and derives the address', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
    const d = privateKey.export({ format: 'jwk' }).d!;
    const expected = privateKeyToAccount(bytesToHex(Buffer.from(d, 'base64url'), { size: 32 }));
    expect(publicKeyFromSpki(spki)).toBe(expected.publicKey);
    expect(addressFromSpki(spki)).toBe(expected.address);
  });

  it('refuses other curves, points off the curve and malformed DER', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
    expect(() => publicKeyFromSpki(new Uint8Array(p256))).toThrow(/not on secp256k1/);
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    expect(() => publicKeyFromSpki(new Uint8Array(ed))).toThrow(KmsSignatureError);

    const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'der', type: 'spki' }));
    const offCurve = spki.slice();
    offCurve[offCurve.length - 1]! ^= 1;
    expect(() => publicKeyFromSpki(offCurve)).toThrow(/not a point on secp256k1/);
    expect(() => publicKeyFromSpki(spki.subarray(0, spki.length - 1))).toThrow(/Malformed DER/);
    expect(() => publicKeyFromSpki(Uint8Array.from([...spki, 0]))).toThrow(/trailing bytes/);
    const compressed = new Uint8Array(
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'der', type: 'spki' }),
    );
    compressed[23] = 0x05; // not 0x04: not an uncompressed point
    expect(() => publicKeyFromSpki(compressed)).toThrow(/uncompressed/);
  });
});
