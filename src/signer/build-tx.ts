import { type Address, type Hex, parseTransaction, type TransactionSerializableEIP1559 } from 'viem';
import type { AssetNetwork } from '../assets/registry.js';
import { sameAddress } from '../chain/address.js';
import { SluiceError } from '../errors/base.js';
import { encodeUnsignedEip1559, UnencodableTxError } from '../keys/eip1559-envelope.js';
import { recoverTransactionSigner } from '../keys/secp256k1.js';

export type TransferIntent = {
  chainId: number;
  network: AssetNetwork;
  to: Address;
  /** On-chain base units (network decimals). */
  chainAmount: bigint;
  nonce: number;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  /** Overrides the network's gas limit (a native payout to a contract recipient, estimated). */
  gasLimit?: bigint;
};

/** A 0-value self-transfer that uses up `nonce` so the wallet's later nonces can be mined. */
export type CancelIntent = {
  chainId: number;
  wallet: Address;
  nonce: number;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
};

export const CANCEL_GAS = 21_000n;

export class TxVerificationError extends SluiceError {
  override name = 'TxVerificationError';
}

/** The selector of ERC-20 `transfer(address,uint256)`: the first 4 bytes of its signature's keccak. */
export const TRANSFER_SELECTOR = '0xa9059cbb';
const UINT256_LIMIT = 1n << 256n;

/**
 * ERC-20 `transfer(to, amount)` calldata: the selector and two 32-byte words. Written out rather
 * than through viem's ABI coder, which looked the function up in the ABI and hashed its signature
 * on every call (build-tx.test.ts checks the bytes are the coder's).
 */
export function transferCalldata(to: Address, amount: bigint): Hex {
  if (amount < 0n || amount >= UINT256_LIMIT) throw new UnencodableTxError('the token amount is outside uint256');
  return `${TRANSFER_SELECTOR}${to.slice(2).toLowerCase().padStart(64, '0')}${amount.toString(16).padStart(64, '0')}`;
}

/** A native transfer or an ERC-20 `transfer(to, amount)` at a fixed nonce. */
export function buildTransfer(intent: TransferIntent): TransactionSerializableEIP1559 {
  const base = {
    type: 'eip1559' as const,
    chainId: intent.chainId,
    nonce: intent.nonce,
    gas: gasLimitOf(intent),
    maxFeePerGas: intent.maxFeePerGas,
    maxPriorityFeePerGas: intent.maxPriorityFeePerGas,
  };
  if (intent.network.kind === 'native') return { ...base, to: intent.to, value: intent.chainAmount };
  return {
    ...base,
    to: intent.network.contract!,
    value: 0n,
    data: transferCalldata(intent.to, intent.chainAmount),
  };
}

/**
 * Invariant 9: decode the bytes we are about to sign and check them against what was asked,
 * independently of how they were built. Any difference stops the signature.
 */
export function verifyTransfer(unsigned: Hex, intent: TransferIntent): void {
  const tx = parseTransaction(unsigned);
  const fail = (what: string) => {
    throw new TxVerificationError(`Built transaction does not match the withdrawal: ${what}.`, { code: 'tx_mismatch' });
  };
  if (tx.type !== 'eip1559') fail('type');
  if (tx.chainId !== intent.chainId) fail('chain id');
  if (tx.nonce !== intent.nonce) fail('nonce');
  if ((tx.maxFeePerGas ?? 0n) > intent.maxFeePerGas) fail('fee above cap');
  if ((tx.maxPriorityFeePerGas ?? 0n) > intent.maxPriorityFeePerGas) fail('tip above the chosen tip');
  if (tx.gas !== gasLimitOf(intent)) fail('gas limit');
  if (intent.network.kind === 'native') {
    if (!tx.to || !sameAddress(tx.to, intent.to)) fail('recipient');
    if (tx.value !== intent.chainAmount) fail('amount');
    if (tx.data && tx.data !== '0x') fail('unexpected calldata');
    return;
  }
  if (!tx.to || !intent.network.contract || !sameAddress(tx.to, intent.network.contract)) fail('token contract');
  if ((tx.value ?? 0n) !== 0n) fail('native value on a token transfer');
  // transfer(address,uint256) is exactly the selector and two words: no trailing bytes, and an
  // address word whose 12 high bytes are zero (a token might not ignore them).
  const data = tx.data ?? '0x';
  if (data.length !== 2 + 8 + 64 * 2) fail('token calldata length');
  if (data.slice(0, 10).toLowerCase() !== TRANSFER_SELECTOR) fail('token function');
  const toWord = data.slice(10, 74);
  if (!toWord.startsWith(ADDRESS_WORD_PADDING) || !sameAddress(`0x${toWord.slice(24)}`, intent.to)) fail('recipient');
  if (BigInt(`0x${data.slice(74)}`) !== intent.chainAmount) fail('amount');
}

const ADDRESS_WORD_PADDING = '0'.repeat(24);

function gasLimitOf(intent: TransferIntent): bigint {
  return intent.gasLimit ?? BigInt(intent.network.gasLimit);
}

export function buildCancel(intent: CancelIntent): TransactionSerializableEIP1559 {
  return {
    type: 'eip1559',
    chainId: intent.chainId,
    nonce: intent.nonce,
    gas: CANCEL_GAS,
    maxFeePerGas: intent.maxFeePerGas,
    maxPriorityFeePerGas: intent.maxPriorityFeePerGas,
    to: intent.wallet,
    value: 0n,
  };
}

/** A cancel pays nothing to anyone: to the wallet itself, no value, no calldata. */
export function verifyCancel(unsigned: Hex, intent: CancelIntent): void {
  const tx = parseTransaction(unsigned);
  const fail = (what: string) => {
    throw new TxVerificationError(`Built cancel does not match: ${what}.`, { code: 'tx_mismatch' });
  };
  if (tx.type !== 'eip1559') fail('type');
  if (tx.chainId !== intent.chainId) fail('chain id');
  if (tx.nonce !== intent.nonce) fail('nonce');
  if (!tx.to || !sameAddress(tx.to, intent.wallet)) fail('not a self-transfer');
  if ((tx.value ?? 0n) !== 0n) fail('value');
  if (tx.data && tx.data !== '0x') fail('calldata');
  if (tx.gas !== CANCEL_GAS) fail('gas limit');
  if ((tx.maxFeePerGas ?? 0n) > intent.maxFeePerGas) fail('fee above the chosen fee');
}

/** Invariant 9: the signed bytes must come from the wallet the nonce belongs to. */
export async function verifySigner(raw: Hex, wallet: string): Promise<void> {
  const from = await recoverTransactionSigner(raw);
  if (!sameAddress(from, wallet)) {
    throw new TxVerificationError(`Signed by ${from}, not by the hot wallet ${wallet}.`, { code: 'wrong_signing_key' });
  }
}

/** A transaction with its unsigned serialization, checked against what was asked: the signer signs exactly `unsigned`. */
export type VerifiedTx = { tx: TransactionSerializableEIP1559; unsigned: Hex };

function encodeUnsigned(tx: TransactionSerializableEIP1559): Hex {
  const { chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to, value, data, accessList } = tx;
  if (to == null || nonce === undefined || gas === undefined || maxFeePerGas === undefined || maxPriorityFeePerGas === undefined || (accessList && accessList.length > 0)) {
    throw new UnencodableTxError('a payout needs a recipient, nonce, gas limit and both fees, and no access list');
  }
  return encodeUnsignedEip1559({ chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to, value: value ?? 0n, ...(data ? { data } : {}) });
}

/** Builds the payout of `intent` and checks its bytes against the intent (invariant 9). */
export function verifiedTransfer(intent: TransferIntent, build: (intent: TransferIntent) => TransactionSerializableEIP1559 = buildTransfer): VerifiedTx {
  const tx = build(intent);
  const unsigned = encodeUnsigned(tx);
  verifyTransfer(unsigned, intent);
  return { tx, unsigned };
}

/** Builds the cancel (or fill) of `intent` and checks its bytes against the intent. */
export function verifiedCancel(intent: CancelIntent): VerifiedTx {
  const tx = buildCancel(intent);
  const unsigned = encodeUnsigned(tx);
  verifyCancel(unsigned, intent);
  return { tx, unsigned };
}
