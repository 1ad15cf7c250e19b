import fc from 'fast-check';
import { bytesToHex, hexToBytes, serializeTransaction, type TransactionSerializableEIP1559 } from 'viem';
import { describe, expect, it } from 'vitest';
import { encodeUnsignedEip1559, joinSignedEip1559, MalformedSignedTxError, splitSignedEip1559, UnencodableTxError } from './eip1559-envelope.js';

const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => bytesToHex(b));
const scalar = fc.bigInt({ min: 1n, max: (1n << 256n) - 1n });
const tx = fc.record({
  chainId: fc.integer({ min: 1, max: 2 ** 31 }),
  nonce: fc.integer({ min: 0, max: 2 ** 40 }),
  to: address,
  value: fc.bigInt({ min: 0n, max: (1n << 200n) - 1n }),
  gas: fc.bigInt({ min: 0n, max: 30_000_000n }),
  maxPriorityFeePerGas: fc.bigInt({ min: 0n, max: 10n ** 12n }),
  feeAboveTip: fc.bigInt({ min: 0n, max: 10n ** 15n }),
  // Long data pushes the list past 55 bytes and the data past its own short form.
  data: fc.uint8Array({ maxLength: 300 }).map((b) => bytesToHex(b)),
  accessList: fc.array(fc.record({ address, storageKeys: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => bytesToHex(b)), { maxLength: 2 }) }), { maxLength: 2 }),
});

describe('splitSignedEip1559', () => {
  it('returns the exact bytes viem serializes unsigned, and the signature, for any transaction', () => {
    fc.assert(
      fc.property(tx, scalar, scalar, fc.constantFrom(0, 1), (t, r, s, yParity) => {
        const { feeAboveTip, ...fields } = t;
        const unsignedTx = { type: 'eip1559', ...fields, maxFeePerGas: fields.maxPriorityFeePerGas + feeAboveTip } as TransactionSerializableEIP1559;
        const raw = serializeTransaction(unsignedTx, { r: `0x${r.toString(16)}`, s: `0x${s.toString(16)}`, yParity });
        const split = splitSignedEip1559(hexToBytes(raw));
        expect(bytesToHex(split.unsigned)).toBe(serializeTransaction(unsignedTx));
        expect(split.yParity).toBe(yParity);
        // Scalars with leading zero bytes (stripped by RLP) come back padded to 32 bytes.
        expect(split.r.length).toBe(32);
        expect(BigInt(bytesToHex(split.r))).toBe(r);
        expect(BigInt(bytesToHex(split.s))).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses what is not one signed EIP-1559 transaction', () => {
    const raw = hexToBytes(
      serializeTransaction(
        { type: 'eip1559', chainId: 1, nonce: 0, to: '0x000000000000000000000000000000000000dEaD', value: 1n, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n },
        { r: '0x01', s: '0x02', yParity: 1 },
      ),
    );
    const bad = [
      Uint8Array.of(0x01, ...raw.subarray(1)), // another tx type
      raw.subarray(0, raw.length - 1), // truncated
      Uint8Array.of(...raw, 0x00), // trailing byte
      hexToBytes(serializeTransaction({ type: 'eip1559', chainId: 1, nonce: 0, to: '0x000000000000000000000000000000000000dEaD', value: 1n, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n })), // unsigned
    ];
    for (const bytes of bad) expect(() => splitSignedEip1559(bytes)).toThrow(MalformedSignedTxError);
    const parity2 = Uint8Array.from(raw);
    parity2[raw.length - 3] = 0x02; // yParity (0x01) sits before r (0x01) and s (0x02)
    expect(() => splitSignedEip1559(parity2)).toThrow(/yParity/);
  });

  it('joins unsigned bytes and a signature into exactly what viem serializes signed, for any transaction', () => {
    const padded = (n: bigint) => hexToBytes(`0x${n.toString(16).padStart(64, '0')}`);
    fc.assert(
      fc.property(tx, scalar, scalar, fc.constantFrom(0 as const, 1 as const), (t, r, s, yParity) => {
        const { feeAboveTip, ...fields } = t;
        const unsignedTx = { type: 'eip1559', ...fields, maxFeePerGas: fields.maxPriorityFeePerGas + feeAboveTip } as TransactionSerializableEIP1559;
        const joined = joinSignedEip1559(hexToBytes(serializeTransaction(unsignedTx)), { yParity, r: padded(r), s: padded(s) });
        expect(bytesToHex(joined)).toBe(serializeTransaction(unsignedTx, { r: `0x${r.toString(16)}`, s: `0x${s.toString(16)}`, yParity }));
      }),
      { numRuns: 300 },
    );
    // r or s with leading zero bytes, or small enough to be a single byte
    const unsigned = hexToBytes(serializeTransaction({ type: 'eip1559', chainId: 1, nonce: 0, to: '0x000000000000000000000000000000000000dEaD', value: 1n, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }));
    for (const [r, s] of [[1n, 0x7fn], [0x80n, 1n << 200n]] as const) {
      const joined = joinSignedEip1559(unsigned, { yParity: 0, r: padded(r), s: padded(s) });
      expect(splitSignedEip1559(joined)).toEqual({ unsigned, yParity: 0, r: padded(r), s: padded(s) });
    }
  });

  it('refuses to join what is not an unsigned EIP-1559 transaction or a 32-byte scalar', () => {
    const unsigned = hexToBytes(serializeTransaction({ type: 'eip1559', chainId: 1, nonce: 0, to: '0x000000000000000000000000000000000000dEaD', value: 1n, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n }));
    const sig = { yParity: 1 as const, r: new Uint8Array(32).fill(1), s: new Uint8Array(32).fill(2) };
    expect(() => joinSignedEip1559(Uint8Array.of(0x01, ...unsigned.subarray(1)), sig)).toThrow(MalformedSignedTxError);
    expect(() => joinSignedEip1559(unsigned.subarray(0, unsigned.length - 1), sig)).toThrow(MalformedSignedTxError);
    expect(() => joinSignedEip1559(unsigned, { ...sig, r: new Uint8Array(31) })).toThrow(/32-byte/);
  });
});

describe('encodeUnsignedEip1559', () => {
  const uint = (bits: number) => fc.oneof(fc.constantFrom(0n, 1n, 0x7fn, 0x80n, 0xffn, 0x100n, (1n << BigInt(bits)) - 1n), fc.bigInt({ min: 0n, max: (1n << BigInt(bits)) - 1n }));
  const fields = fc.record({
    chainId: fc.oneof(fc.constantFrom(1, 0x7f, 0x80, 31337), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
    nonce: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
    to: address,
    value: uint(256),
    gas: uint(64),
    maxPriorityFeePerGas: uint(128),
    feeAboveTip: uint(128),
    data: fc.option(fc.uint8Array({ maxLength: 300 }).map((b) => bytesToHex(b)), { nil: undefined }),
  });

  it('encodes exactly what viem serializes unsigned, for any transaction without an access list', () => {
    fc.assert(
      fc.property(fields, ({ feeAboveTip, ...t }) => {
        const unsignedTx = { ...t, maxFeePerGas: t.maxPriorityFeePerGas + feeAboveTip };
        expect(encodeUnsignedEip1559(unsignedTx)).toBe(serializeTransaction({ type: 'eip1559', ...unsignedTx }));
      }),
      { numRuns: 500 },
    );
    // calldata long enough that the list's length takes three bytes
    const big = { chainId: 1, nonce: 0, to: '0x000000000000000000000000000000000000dEaD', value: 0n, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n, data: bytesToHex(new Uint8Array(70_000).fill(7)) } as const;
    expect(encodeUnsignedEip1559(big)).toBe(serializeTransaction({ type: 'eip1559', ...big }));
  });

  it('refuses fields no EIP-1559 transaction can carry', () => {
    const ok = { chainId: 1, nonce: 0, to: '0x000000000000000000000000000000000000dEaD', value: 0n, gas: 21_000n, maxFeePerGas: 2n, maxPriorityFeePerGas: 1n } as const;
    const bad = [
      { ...ok, chainId: 0 },
      { ...ok, nonce: -1 },
      { ...ok, nonce: 1.5 },
      { ...ok, value: -1n },
      { ...ok, value: 1n << 256n },
      { ...ok, gas: 1n << 64n },
      { ...ok, maxPriorityFeePerGas: 3n },
      { ...ok, to: '0x00' as const },
      { ...ok, data: '0x123' as const },
    ];
    for (const tx of bad) expect(() => encodeUnsignedEip1559(tx), JSON.stringify(tx, (_, v) => (typeof v === 'bigint' ? String(v) : v))).toThrow(UnencodableTxError);
  });
});
