import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
  type Address,
  getAddress,
  type Hex,
  hexToBytes,
  recoverAddress,
  serializeTransaction,
  type TransactionSerializableEIP1559,
} from 'viem';
import { sign } from 'viem/accounts';
import { joinSignedEip1559, splitSignedEip1559 } from './eip1559-envelope.js';
import { keccak256Bytes } from './keccak.js';

/**
 * secp256k1 for the signer's hot path, the fastest that loads: Sluice's own binding to the system
 * libsecp256k1 (`native/libsecp256k1`, built by `npm ci` where libsecp256k1-dev is installed:
 * ≈39k signatures and ≈25k recoveries per second on one core here), else the optional `secp256k1`
 * addon (its bundled 2019 libsecp256k1: ≈27k and ≈19k), else viem's pure-JS code (≈2.4k
 * signatures, ≈500 recoveries per second). All produce the same low-s signatures (RFC 6979
 * nonces), so which one ran never shows in the bytes.
 */
type NativeSecp256k1 = {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
};

function loadAddon<T>(id: string): T | null {
  try {
    return createRequire(import.meta.url)(id) as T;
  } catch {
    return null;
  }
}

/** Where scripts/build-native.mjs puts the binding: the same path from src/keys and dist/keys. */
export const SYSTEM_BINDING_PATH = fileURLToPath(new URL('../../native/libsecp256k1/build/Release/sluice_secp256k1.node', import.meta.url));

const system = loadAddon<NativeSecp256k1>(SYSTEM_BINDING_PATH);
// `secp256k1/bindings` is the addon alone; the package's main would fall back to elliptic.
const native = system ?? loadAddon<NativeSecp256k1>('secp256k1/bindings');

/** Which implementation signs in this process (reported by the benchmark and the signer's start log). */
export const secp256k1Backend: 'libsecp256k1' | 'secp256k1-addon' | 'js' = system ? 'libsecp256k1' : native ? 'secp256k1-addon' : 'js';

export type Signature = { r: Hex; s: Hex; yParity: 0 | 1 };

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Addresses of public keys seen recovering signatures: the hot wallets, a handful. Deriving one
 * costs a keccak and an EIP-55 checksum (another keccak) per signature otherwise. Bounded, so a
 * stream of foreign signatures cannot grow it.
 */
const addressOfPublicKey = new Map<string, Address>();
const ADDRESS_CACHE_LIMIT = 1024;

function addressOf(publicKey: Uint8Array): Address {
  const key = toBuffer(publicKey).toString('hex');
  let address = addressOfPublicKey.get(key);
  if (address === undefined) {
    address = getAddress(`0x${toBuffer(keccak256Bytes(publicKey.subarray(1))).subarray(12).toString('hex')}`);
    if (addressOfPublicKey.size >= ADDRESS_CACHE_LIMIT) addressOfPublicKey.clear();
    addressOfPublicKey.set(key, address);
  }
  return address;
}

function bytesToHex32(bytes: Uint8Array): Hex {
  return `0x${toBuffer(bytes).toString('hex')}`;
}

/** Hex to bytes by Node's decoder rather than a JS loop; it stops at a bad digit, which is refused here. */
function hexToBuffer(hex: Hex): Buffer {
  const bytes = Buffer.from(hex.slice(2), 'hex');
  if (!hex.startsWith('0x') || bytes.length * 2 !== hex.length - 2) throw new TypeError(`not an even-length 0x-prefixed hex string: ${hex.slice(0, 12)}…`);
  return bytes;
}

function recoverNative(addon: NativeSecp256k1, hash: Uint8Array, r: Uint8Array, s: Uint8Array, yParity: 0 | 1): Address {
  const compact = new Uint8Array(64);
  compact.set(r, 0);
  compact.set(s, 32);
  return addressOf(addon.ecdsaRecover(compact, yParity, hash, false));
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
    return recoverNative(native, hash, hexToBytes(signature.r, { size: 32 }), hexToBytes(signature.s, { size: 32 }), signature.yParity);
  }
  return getAddress(await recoverAddress({ hash: bytesToHex32(hash), signature: { r: signature.r, s: signature.s, yParity: signature.yParity } }));
}

/**
 * Signs an EIP-1559 transaction with a raw key; returns the serialized signed bytes: the signature
 * appended to the very bytes that were hashed (joinSignedEip1559), so `unsigned`, when the caller
 * has serialized and verified the transaction already, is what gets signed, not a new encoding.
 */
export async function signTransactionWithKey(tx: TransactionSerializableEIP1559, privateKey: Uint8Array, unsigned?: Hex): Promise<Hex> {
  const bytes = hexToBuffer(unsigned ?? serializeTransaction(tx));
  const hash = keccak256Bytes(bytes);
  let signature: { yParity: 0 | 1; r: Uint8Array; s: Uint8Array };
  if (native) {
    const { signature: rs, recid } = native.ecdsaSign(hash, privateKey);
    signature = { yParity: recid as 0 | 1, r: rs.subarray(0, 32), s: rs.subarray(32, 64) };
  } else {
    const { r, s, yParity } = await signHash(hash, privateKey);
    signature = { yParity, r: hexToBytes(r, { size: 32 }), s: hexToBytes(s, { size: 32 }) };
  }
  return bytesToHex32(joinSignedEip1559(bytes, signature));
}

/** The address that signed a serialized EIP-1559 transaction, recovered from exactly these bytes. */
export async function recoverTransactionSigner(raw: Hex): Promise<Address> {
  const { unsigned, yParity, r, s } = splitSignedEip1559(hexToBuffer(raw));
  const hash = keccak256Bytes(unsigned);
  return native ? recoverNative(native, hash, r, s, yParity) : recoverHashSigner(hash, { r: bytesToHex32(r), s: bytesToHex32(s), yParity });
}
