import { createRequire } from 'node:module';
import {
  type Address,
  getAddress,
  type Hex,
  hexToBytes,
  keccak256,
  numberToHex,
  parseTransaction,
  recoverAddress,
  serializeTransaction,
  type TransactionSerializableEIP1559,
} from 'viem';
import { publicKeyToAddress, sign } from 'viem/accounts';

/**
 * secp256k1 for the signer's hot path: libsecp256k1 through the optional `secp256k1` addon when
 * it loads (≈19k signatures and ≈15k recoveries per second on one core here), else viem's pure-JS
 * code (≈2.4k signatures, ≈500 recoveries per second). Both produce the same low-s signatures
 * (RFC 6979 nonces), so which one ran never shows in the bytes.
 */
type NativeSecp256k1 = {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
};

function loadNative(): NativeSecp256k1 | null {
  try {
    // `secp256k1/bindings` is the addon alone; the package's main would fall back to elliptic.
    return createRequire(import.meta.url)('secp256k1/bindings') as NativeSecp256k1;
  } catch {
    return null;
  }
}

const native = loadNative();

export type Signature = { r: Hex; s: Hex; yParity: 0 | 1 };

/** Which implementation signs in this process (reported by the benchmark and the signer's start log). */
export const secp256k1Backend: 'native' | 'js' = native ? 'native' : 'js';

function bytesToHex32(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}` as Hex;
}

export async function signHash(hash: Uint8Array, privateKey: Uint8Array): Promise<Signature> {
  if (native) {
    const { signature, recid } = native.ecdsaSign(hash, privateKey);
    return { r: bytesToHex32(signature.subarray(0, 32)), s: bytesToHex32(signature.subarray(32, 64)), yParity: recid as 0 | 1 };
  }
  const sig = await sign({ hash: bytesToHex32(hash), privateKey: bytesToHex32(privateKey) });
  return { r: sig.r, s: sig.s, yParity: (sig.yParity ?? 0) as 0 | 1 };
}

export async function recoverHashSigner(hash: Uint8Array, signature: Signature): Promise<Address> {
  if (native) {
    const compact = new Uint8Array(64);
    compact.set(hexToBytes(signature.r, { size: 32 }), 0);
    compact.set(hexToBytes(signature.s, { size: 32 }), 32);
    const publicKey = native.ecdsaRecover(compact, signature.yParity, hash, false);
    return publicKeyToAddress(bytesToHex32(publicKey));
  }
  return getAddress(await recoverAddress({ hash: bytesToHex32(hash), signature: { r: signature.r, s: signature.s, yParity: signature.yParity } }));
}

/** Signs an EIP-1559 transaction with a raw key; returns the serialized signed bytes. */
export async function signTransactionWithKey(tx: TransactionSerializableEIP1559, privateKey: Uint8Array): Promise<Hex> {
  const hash = keccak256(serializeTransaction(tx), 'bytes');
  return serializeTransaction(tx, await signHash(hash, privateKey));
}

/** The address that signed a serialized EIP-1559 transaction. */
export async function recoverTransactionSigner(raw: Hex): Promise<Address> {
  const parsed = parseTransaction(raw as `0x02${string}`);
  const { r, s, yParity, v: _v, ...unsigned } = parsed as TransactionSerializableEIP1559 & { r?: Hex; s?: Hex; yParity?: number; v?: bigint };
  if (!r || !s || (yParity !== 0 && yParity !== 1)) throw new Error('transaction is not signed');
  const hash = keccak256(serializeTransaction({ ...unsigned, type: 'eip1559' }), 'bytes');
  // Leading zero bytes are stripped in RLP; pad back to the 32-byte scalars.
  return recoverHashSigner(hash, { r: numberToHex(BigInt(r), { size: 32 }), s: numberToHex(BigInt(s), { size: 32 }), yParity });
}
