import { SluiceError } from '../errors/base.js';

/**
 * Splits a signed EIP-1559 transaction (0x02 || rlp([chainId, nonce, maxPriorityFeePerGas,
 * maxFeePerGas, gas, to, value, data, accessList, yParity, r, s])) into the bytes its signature
 * covers (0x02 || rlp([first nine fields])) and the signature, by walking the RLP items' lengths
 * only. The signer checks every signature it makes against exactly the bytes it will broadcast;
 * decoding every field into a transaction object and encoding it again (viem's parse and
 * serialize) cost more than the recovery itself, and told nothing more: the fields are not
 * interpreted here, so the covered bytes are the broadcast bytes, not a re-encoding of them.
 */
export class MalformedSignedTxError extends SluiceError {
  override name = 'MalformedSignedTxError';
  constructor(shortMessage: string) {
    super(`Malformed signed transaction: ${shortMessage}.`, { code: 'malformed_signed_tx' });
  }
}

export type SignedEnvelope = { unsigned: Uint8Array; yParity: 0 | 1; r: Uint8Array; s: Uint8Array };

const EIP1559_TYPE = 0x02;
const FIELDS = 12;
const SIGNED_FIELDS = 9;

type Item = { start: number; dataStart: number; end: number; list: boolean };

function readLength(bytes: Uint8Array, at: number, size: number): number {
  if (size > 4 || at + size > bytes.length) throw new MalformedSignedTxError('RLP length out of range');
  let n = 0;
  for (let i = 0; i < size; i++) n = n * 256 + bytes[at + i]!;
  return n;
}

function item(bytes: Uint8Array, at: number): Item {
  const b = bytes[at];
  if (b === undefined) throw new MalformedSignedTxError('RLP ends inside an item');
  let dataStart: number;
  let length: number;
  if (b < 0x80) return { start: at, dataStart: at, end: at + 1, list: false };
  if (b <= 0xb7) [dataStart, length] = [at + 1, b - 0x80];
  else if (b <= 0xbf) [dataStart, length] = [at + 1 + (b - 0xb7), readLength(bytes, at + 1, b - 0xb7)];
  else if (b <= 0xf7) [dataStart, length] = [at + 1, b - 0xc0];
  else [dataStart, length] = [at + 1 + (b - 0xf7), readLength(bytes, at + 1, b - 0xf7)];
  const end = dataStart + length;
  if (end > bytes.length) throw new MalformedSignedTxError('RLP item longer than the transaction');
  return { start: at, dataStart, end, list: b >= 0xc0 };
}

function listHeader(length: number): Uint8Array {
  if (length <= 55) return Uint8Array.of(0xc0 + length);
  const size: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) size.unshift(n % 256);
  return Uint8Array.of(0xf7 + size.length, ...size);
}

function scalar(bytes: Uint8Array, it: Item): Uint8Array {
  if (it.list || it.end - it.dataStart > 32) throw new MalformedSignedTxError('signature scalar is not a 32-byte string');
  const out = new Uint8Array(32);
  // A one-byte value below 0x80 is its own encoding (no header): then dataStart === start.
  out.set(bytes.subarray(it.dataStart, it.end), 32 - (it.end - it.dataStart));
  return out;
}

export function splitSignedEip1559(raw: Uint8Array): SignedEnvelope {
  if (raw[0] !== EIP1559_TYPE) throw new MalformedSignedTxError('not an EIP-1559 transaction');
  const list = item(raw, 1);
  if (!list.list || list.end !== raw.length) throw new MalformedSignedTxError('not one RLP list after the type byte');
  const items: Item[] = [];
  for (let at = list.dataStart; at < list.end; ) {
    const it = item(raw, at);
    items.push(it);
    at = it.end;
  }
  if (items.length !== FIELDS || items[FIELDS - 1]!.end !== list.end) throw new MalformedSignedTxError(`expected ${FIELDS} fields, found ${items.length}`);
  const parity = items[SIGNED_FIELDS]!;
  const parityValue = parity.end - parity.start === 1 ? raw[parity.start] : undefined;
  if (parityValue !== 0x80 && parityValue !== 0x01) throw new MalformedSignedTxError('yParity is neither 0 nor 1');
  const covered = raw.subarray(list.dataStart, items[SIGNED_FIELDS]!.start);
  const header = listHeader(covered.length);
  const unsigned = new Uint8Array(1 + header.length + covered.length);
  unsigned[0] = EIP1559_TYPE;
  unsigned.set(header, 1);
  unsigned.set(covered, 1 + header.length);
  return { unsigned, yParity: parityValue === 0x01 ? 1 : 0, r: scalar(raw, items[10]!), s: scalar(raw, items[11]!) };
}

/** A 32-byte scalar as RLP: big-endian without leading zeros (viem's and every node's encoding). */
function encodeScalar(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length && bytes[start] === 0) start++;
  const value = bytes.subarray(start);
  if (value.length === 1 && value[0]! < 0x80) return value;
  const out = new Uint8Array(1 + value.length);
  out[0] = 0x80 + value.length;
  out.set(value, 1);
  return out;
}

/**
 * The signed transaction from the unsigned bytes that were hashed and signed, and the signature:
 * splitSignedEip1559 the other way round. Appends yParity, r and s to the unsigned RLP list
 * instead of encoding every field again, so the signed bytes hold exactly the bytes signed.
 */
export function joinSignedEip1559(unsigned: Uint8Array, signature: { yParity: 0 | 1; r: Uint8Array; s: Uint8Array }): Uint8Array {
  if (unsigned[0] !== EIP1559_TYPE) throw new MalformedSignedTxError('not an EIP-1559 transaction');
  const list = item(unsigned, 1);
  if (!list.list || list.end !== unsigned.length) throw new MalformedSignedTxError('not one RLP list after the type byte');
  if (signature.r.length !== 32 || signature.s.length !== 32) throw new MalformedSignedTxError('signature scalar is not a 32-byte string');
  const parity = Uint8Array.of(signature.yParity === 1 ? 0x01 : 0x80);
  const r = encodeScalar(signature.r);
  const s = encodeScalar(signature.s);
  const bodyLength = list.end - list.dataStart + parity.length + r.length + s.length;
  const header = listHeader(bodyLength);
  const out = new Uint8Array(1 + header.length + bodyLength);
  out[0] = EIP1559_TYPE;
  out.set(header, 1);
  let at = 1 + header.length;
  for (const part of [unsigned.subarray(list.dataStart, list.end), parity, r, s]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The fields of an unsigned EIP-1559 transaction that Sluice signs: it never sets an access list. */
export type UnsignedEip1559 = {
  chainId: number;
  nonce: number;
  maxPriorityFeePerGas: bigint;
  maxFeePerGas: bigint;
  gas: bigint;
  to: `0x${string}`;
  value: bigint;
  data?: `0x${string}`;
};

/** A field that no EIP-1559 transaction can carry: a fault of whoever built it, refused before any signature. */
export class UnencodableTxError extends SluiceError {
  override name = 'UnencodableTxError';
  constructor(shortMessage: string) {
    super(`Cannot encode the transaction: ${shortMessage}.`, { code: 'tx_unencodable' });
  }
}

/** A non-negative integer as the hex of its RLP string: big-endian without leading zeros, zero as empty. */
function uintHex(value: bigint | number, bits: number): string {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new UnencodableTxError(`${value} is not an integer`);
  const n = BigInt(value);
  if (n < 0n || n >= 1n << BigInt(bits)) throw new UnencodableTxError(`an integer field is outside 0 to 2^${bits} - 1`);
  if (n === 0n) return '';
  const hex = n.toString(16);
  return hex.length % 2 === 0 ? hex : `0${hex}`;
}

function bytesHex(hex: `0x${string}`, exactLength?: number): string {
  const digits = hex.slice(2);
  if (!hex.startsWith('0x') || digits.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(digits) || (exactLength !== undefined && digits.length !== exactLength * 2)) {
    throw new UnencodableTxError(`not ${exactLength ?? 'an even number of'} bytes of hex: ${hex.slice(0, 12)}…`);
  }
  return digits;
}

/** The RLP header of a string of `length` bytes whose first byte is `first` (none for one byte below 0x80). */
function stringHeaderLength(length: number, first: number): number {
  if (length === 1 && first < 0x80) return 0;
  return length <= 55 ? 1 : 1 + byteLength(length);
}

function byteLength(n: number): number {
  let size = 0;
  for (; n > 0; n = Math.floor(n / 256)) size++;
  return size;
}

function writeHeader(out: Buffer, at: number, short: number, long: number, length: number): number {
  if (length <= 55) {
    out[at] = short + length;
    return at + 1;
  }
  const size = byteLength(length);
  out[at] = long + size;
  for (let i = size; i > 0; i--, length = Math.floor(length / 256)) out[at + i] = length % 256;
  return at + 1 + size;
}

const EMPTY_ACCESS_LIST = Uint8Array.of(0xc0);

/**
 * 0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to, value, data, []]):
 * the bytes an EIP-1559 transaction's signature covers, encoded straight into one buffer. The
 * same bytes as viem's `serializeTransaction` (eip1559-envelope.test.ts compares them over random
 * transactions) at a fraction of its cost and garbage; and the signer checks them afterwards with
 * viem's own decoder (build-tx.ts), so a fault here is refused, never signed.
 */
export function encodeUnsignedEip1559(tx: UnsignedEip1559): `0x${string}` {
  if (!Number.isSafeInteger(tx.chainId) || tx.chainId < 1) throw new UnencodableTxError(`chain id ${tx.chainId}`);
  if (tx.maxPriorityFeePerGas > tx.maxFeePerGas) throw new UnencodableTxError('the priority fee is above the fee cap');
  const strings = [
    uintHex(tx.chainId, 64),
    uintHex(tx.nonce, 64),
    uintHex(tx.maxPriorityFeePerGas, 256),
    uintHex(tx.maxFeePerGas, 256),
    uintHex(tx.gas, 64),
    bytesHex(tx.to, 20),
    uintHex(tx.value, 256),
    bytesHex(tx.data ?? '0x'),
  ];
  let bodyLength = EMPTY_ACCESS_LIST.length;
  for (const hex of strings) bodyLength += stringHeaderLength(hex.length / 2, hex.length === 2 ? parseInt(hex, 16) : 0xff) + hex.length / 2;
  const out = Buffer.allocUnsafe(1 + 1 + (bodyLength <= 55 ? 0 : byteLength(bodyLength)) + bodyLength);
  out[0] = EIP1559_TYPE;
  let at = writeHeader(out, 1, 0xc0, 0xf7, bodyLength);
  for (const hex of strings) {
    const length = hex.length / 2;
    if (stringHeaderLength(length, length === 1 ? parseInt(hex, 16) : 0xff) > 0) at = writeHeader(out, at, 0x80, 0xb7, length);
    at += out.write(hex, at, 'hex');
  }
  out.set(EMPTY_ACCESS_LIST, at);
  return `0x${out.toString('hex')}`;
}
