import { SluiceError, type SluiceErrorOptions } from '../errors/base.js';

/**
 * What a node said (or failed to say), as types. Produced only by `toChainError` (node-error.ts);
 * the sender and the tracker branch on these classes, never on the node's wording.
 *
 * Whether another try can work is part of the type: each class fixes `retryable`. Among the
 * retryable ones, two groups must be told apart:
 * - needs a fee bump (`needsFeeBump`): ReplacementUnderpricedError, FeeTooLowError. Sending the
 *   same bytes again will keep failing until the signer makes a higher-fee tx at the same nonce.
 * - just try again: NodeUnavailableError (and its subclasses), TxPoolFullError, NonceTooHighError.
 *   The same bytes may well be accepted later, or by another endpoint.
 *
 * NodeUnavailableError (no usable answer from that endpoint) is the only family that should make
 * a caller fail over to another endpoint; every other class is a verdict from a healthy node.
 */
export class ChainError extends SluiceError {
  override name = 'ChainError';
  /** The `code` an instance gets when the constructor is not given one. */
  static readonly defaultCode: string = 'node_rejected';

  constructor(shortMessage: string, options: SluiceErrorOptions = {}) {
    super(shortMessage, { ...options, code: options.code ?? (new.target as typeof ChainError).defaultCode });
  }
}

/** The node already has this exact transaction: a broadcast that succeeded earlier. */
export class AlreadyKnownError extends ChainError {
  override name = 'AlreadyKnownError';
  static override readonly defaultCode: string = 'already_known';
}

/** The account's nonce is past this one: ours was mined, or another tx took the nonce. */
export class NonceTooLowError extends ChainError {
  override name = 'NonceTooLowError';
  static override readonly defaultCode: string = 'nonce_too_low';
}

/** A lower nonce of the account is not known to this node yet: try again once it is. */
export class NonceTooHighError extends ChainError {
  override name = 'NonceTooHighError';
  static override readonly defaultCode: string = 'nonce_too_high';
  override readonly retryable = true;
}

/** Another tx with this nonce is pending and ours does not pay enough more: needs a fee bump. */
export class ReplacementUnderpricedError extends ChainError {
  override name = 'ReplacementUnderpricedError';
  static override readonly defaultCode: string = 'replacement_underpriced';
  override readonly retryable = true;
}

/** maxFeePerGas below the base fee or the pool's floor: needs a fee bump, not a plain retry. */
export class FeeTooLowError extends ChainError {
  override name = 'FeeTooLowError';
  static override readonly defaultCode: string = 'fee_too_low';
  override readonly retryable = true;
}

/** The node's pool (or this sender's share of it) is full: the same tx may fit later. */
export class TxPoolFullError extends ChainError {
  override name = 'TxPoolFullError';
  static override readonly defaultCode: string = 'txpool_full';
  override readonly retryable = true;
}

/**
 * The sending account cannot pay gas * fee + value. Permanent as an error: the caller decides
 * (for a hot wallet it means "top up the wallet and wait", not "reject the withdrawal").
 */
export class InsufficientFundsError extends ChainError {
  override name = 'InsufficientFundsError';
  static override readonly defaultCode: string = 'insufficient_funds';
}

/** The gas limit is below what the tx needs before executing anything. */
export class IntrinsicGasTooLowError extends ChainError {
  override name = 'IntrinsicGasTooLowError';
  static override readonly defaultCode: string = 'intrinsic_gas_too_low';
}

/** The gas limit is above what one block (or the per-tx cap) allows. */
export class GasLimitExceededError extends ChainError {
  override name = 'GasLimitExceededError';
  static override readonly defaultCode: string = 'gas_limit_exceeded';
}

/** Invalid sender or signature, wrong chain id, or a tx type the node does not support. */
export class InvalidTransactionError extends ChainError {
  override name = 'InvalidTransactionError';
  static override readonly defaultCode: string = 'invalid_transaction';
}

export class ExecutionRevertedError extends ChainError {
  override name = 'ExecutionRevertedError';
  static override readonly defaultCode: string = 'execution_reverted';
}

/** The node rejected the tx for a reason we do not classify; treated as permanent. */
export class UnknownNodeError extends ChainError {
  override name = 'UnknownNodeError';
  static override readonly defaultCode: string = 'node_rejected';
}

/** Endpoint down, unreachable, failing internally or answering garbage: another try (or endpoint) may work. */
export class NodeUnavailableError extends ChainError {
  override name = 'NodeUnavailableError';
  static override readonly defaultCode: string = 'node_unavailable';
  override readonly retryable = true;
}

/** HTTP 429, JSON-RPC -32005/-32007/429, or a provider's "rate limit" wording. */
export class RateLimitedError extends NodeUnavailableError {
  override name = 'RateLimitedError';
  static override readonly defaultCode: string = 'rate_limited';
}

/** The request (or the node's own execution of it) ran out of time. */
export class NodeTimeoutError extends NodeUnavailableError {
  override name = 'NodeTimeoutError';
  static override readonly defaultCode: string = 'node_timeout';
}

/** The node is syncing or behind ("header not found", "missing trie node"): ask another, or later. */
export class NodeLaggingError extends NodeUnavailableError {
  override name = 'NodeLaggingError';
  static override readonly defaultCode: string = 'node_lagging';
}

/** True when only a higher-fee replacement at the same nonce can get past this refusal. */
export function needsFeeBump(err: unknown): boolean {
  return err instanceof ReplacementUnderpricedError || err instanceof FeeTooLowError;
}
