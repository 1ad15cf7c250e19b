import { type Address, bytesToHex, getAddress, type Hex, hexToBytes, numberToHex } from 'viem';
import { publicKeyToAddress } from 'viem/accounts';
import { SluiceError } from '../errors/base.js';
import { recoverHashSigner } from './secp256k1.js';

/**
 * Turning what KMS hands back into what Ethereum wants. KMS speaks X.509/ASN.1: the public key is a
 * DER SubjectPublicKeyInfo, a signature is a DER ECDSA-Sig-Value with no recovery id and possibly a
 * high s. Ethereum wants the 64-byte point, (r, s) with s ≤ n/2 (EIP-2) and the y parity. The
 * parsers are strict: a malformed structure is refused, never "read at a fixed offset" into a key
 * or signature that looks plausible and is wrong.
 */
export class KmsSignatureError extends SluiceError {
  override name = 'KmsSignatureError';
}

/** Order of the secp256k1 group. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const SECP256K1_P = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn;
const HALF_N = SECP256K1_N >> 1n;

// Content bytes of the OIDs: id-ecPublicKey (1.2.840.10045.2.1) and secp256k1 (1.3.132.0.10).
const OID_EC_PUBLIC_KEY = Uint8Array.of(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01);
const OID_SECP256K1 = Uint8Array.of(0x2b, 0x81, 0x04, 0x00, 0x0a);

const TAG = { integer: 0x02, bitString: 0x03, oid: 0x06, sequence: 0x30 } as const;

type Tlv = { tag: number; value: Uint8Array; end: number };

function fail(what: string): never {
  throw new KmsSignatureError(`Malformed DER: ${what}.`, { code: 'kms_malformed_der' });
}

/** One DER element at `offset`: tag, definite minimal length, value. */
function readTlv(bytes: Uint8Array, offset: number): Tlv {
  if (offset + 2 > bytes.length) fail('truncated element');
  const tag = bytes[offset]!;
  let length = bytes[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    // 0x80 is BER's indefinite length; more than 2 length octets is never needed for keys/signatures.
    if (octets === 0 || octets > 2) fail('unsupported length encoding');
    if (start + octets > bytes.length) fail('truncated length');
    length = 0;
    for (let i = 0; i < octets; i++) length = (length << 8) | bytes[start + i]!;
    start += octets;
    // DER wants the shortest form: long form only from 128 up, and no leading zero octet.
    if (length < 0x80 || (octets === 2 && length < 0x100)) fail('non-minimal length');
  }
  const end = start + length;
  if (end > bytes.length) fail('length runs past the end');
  return { tag, value: bytes.subarray(start, end), end };
}

function expectTlv(bytes: Uint8Array, offset: number, tag: number, what: string): Tlv {
  const tlv = readTlv(bytes, offset);
  if (tlv.tag !== tag) fail(`expected ${what}`);
  return tlv;
}

/** The elements of a constructed value, which must be used up exactly. */
function children(value: Uint8Array, count: number, what: string): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < value.length) {
    const tlv = readTlv(value, offset);
    out.push(tlv);
    offset = tlv.end;
  }
  if (out.length !== count) fail(`${what} must hold ${count} elements, has ${out.length}`);
  return out;
}

function topLevel(der: Uint8Array, what: string): Uint8Array {
  const outer = expectTlv(der, 0, TAG.sequence, `${what} SEQUENCE`);
  if (outer.end !== der.length) fail(`trailing bytes after ${what}`);
  return outer.value;
}

/** A positive DER INTEGER of at most 32 value bytes (33 with the sign-padding 0x00). */
function positiveInteger(tlv: Tlv, what: string): bigint {
  const v = tlv.value;
  if (tlv.tag !== TAG.integer) fail(`${what} is not an INTEGER`);
  if (v.length === 0) fail(`${what} is empty`);
  if (v[0]! & 0x80) fail(`${what} is negative`);
  // A leading 0x00 is only allowed (and then required) when the next byte has its top bit set.
  if (v[0] === 0 && (v.length === 1 || !(v[1]! & 0x80))) fail(`${what} has a non-minimal encoding`);
  if (v.length > 33 || (v.length === 33 && v[0] !== 0)) fail(`${what} is longer than 32 bytes`);
  return BigInt(bytesToHex(v));
}

/** r and s from a DER ECDSA-Sig-Value, each checked to lie in [1, n−1]. */
export function parseDerSignature(der: Uint8Array): { r: bigint; s: bigint } {
  const [rTlv, sTlv] = children(topLevel(der, 'ECDSA-Sig-Value'), 2, 'ECDSA-Sig-Value');
  const r = positiveInteger(rTlv!, 'r');
  const s = positiveInteger(sTlv!, 's');
  if (r === 0n || r >= SECP256K1_N || s === 0n || s >= SECP256K1_N) fail('r or s outside [1, n-1]');
  return { r, s };
}

/**
 * EIP-2: Ethereum only accepts s ≤ n/2. (r, n−s) is the same signature's twin, valid for the other
 * y parity, so flipping s loses nothing; parity is found afterwards by recovery.
 */
export function normalizeLowS(s: bigint): bigint {
  return s > HALF_N ? SECP256K1_N - s : s;
}

/**
 * The uncompressed point (0x04 ‖ X ‖ Y) from a DER SubjectPublicKeyInfo, after checking that it
 * is an EC key on secp256k1 and that the point is on the curve: a key of any other curve would
 * yield an address nobody can sign for.
 */
export function publicKeyFromSpki(der: Uint8Array): Hex {
  const [algorithm, bits] = children(topLevel(der, 'SubjectPublicKeyInfo'), 2, 'SubjectPublicKeyInfo');
  if (algorithm!.tag !== TAG.sequence) fail('expected AlgorithmIdentifier SEQUENCE');
  const [alg, curve] = children(algorithm!.value, 2, 'AlgorithmIdentifier');
  if (alg!.tag !== TAG.oid || !equal(alg!.value, OID_EC_PUBLIC_KEY)) {
    throw new KmsSignatureError('KMS public key is not an elliptic-curve key.', { code: 'kms_wrong_key_spec' });
  }
  if (curve!.tag !== TAG.oid || !equal(curve!.value, OID_SECP256K1)) {
    throw new KmsSignatureError('KMS key is not on secp256k1 (want KeySpec ECC_SECG_P256K1).', { code: 'kms_wrong_key_spec' });
  }
  if (bits!.tag !== TAG.bitString) fail('expected subjectPublicKey BIT STRING');
  const point = bits!.value;
  // First byte of a BIT STRING counts unused bits (0 here); then 0x04 marks an uncompressed point.
  if (point.length !== 66 || point[0] !== 0 || point[1] !== 0x04) fail('expected an uncompressed 65-byte point');
  const key = point.subarray(1);
  const x = BigInt(bytesToHex(key.subarray(1, 33)));
  const y = BigInt(bytesToHex(key.subarray(33)));
  if (x >= SECP256K1_P || y >= SECP256K1_P || mod(y * y - (x * x * x + 7n)) !== 0n) {
    throw new KmsSignatureError('KMS public key is not a point on secp256k1.', { code: 'kms_wrong_key_spec' });
  }
  return bytesToHex(key);
}

export function addressFromSpki(der: Uint8Array): Address {
  return getAddress(publicKeyToAddress(publicKeyFromSpki(der)));
}

export type RecoverableSignature = { r: Hex; s: Hex; yParity: 0 | 1 };

/**
 * Makes a KMS DER signature over `hash` usable on chain: low s, and the y parity for which the
 * signature recovers to `address`. If neither parity does, the signature is not the wallet's
 * (another key behind the alias, a signer that hashed the digest again): it is refused, never
 * returned, because a tx nobody can attribute to the wallet must not be stored or sent.
 */
export async function toRecoverableSignature(input: { hash: Hex; der: Uint8Array; address: Address }): Promise<RecoverableSignature> {
  const { r, s } = parseDerSignature(input.der);
  const signature = { r: numberToHex(r, { size: 32 }), s: numberToHex(normalizeLowS(s), { size: 32 }) };
  const want = getAddress(input.address);
  for (const yParity of [0, 1] as const) {
    let recovered: Address;
    try {
      recovered = await recoverHashSigner(hexToBytes(input.hash), { ...signature, yParity });
    } catch {
      continue; // no point with that parity: try the other one
    }
    if (getAddress(recovered) === want) return { ...signature, yParity };
  }
  throw new KmsSignatureError(`KMS signature does not recover to the wallet ${want} for either y parity.`, {
    code: 'kms_signature_unrecoverable',
  });
}

function mod(a: bigint): bigint {
  const m = a % SECP256K1_P;
  return m < 0n ? m + SECP256K1_P : m;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
