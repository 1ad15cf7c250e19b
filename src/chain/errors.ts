import { RetryableError, SluiceError } from '../errors/base.js';

/**
 * What a node said, as types. Produced only by `toChainError` (node-error.ts); the sender and the
 * tracker branch on these classes, never on the node's wording.
 */
export class ChainError extends SluiceError {
  override name = 'ChainError';
}

/** The node already has this exact transaction: a broadcast that succeeded earlier. */
export class AlreadyKnownError extends ChainError {
  override name = 'AlreadyKnownError';
}
/** The account's nonce is past this one: ours was mined, or another tx took the nonce. */
export class NonceTooLowError extends ChainError {
  override name = 'NonceTooLowError';
}
export class NonceTooHighError extends ChainError {
  override name = 'NonceTooHighError';
}
export class ReplacementUnderpricedError extends ChainError {
  override name = 'ReplacementUnderpricedError';
}
export class InsufficientFundsError extends ChainError {
  override name = 'InsufficientFundsError';
}
/** maxFeePerGas below the base fee or the pool's floor: needs a fee bump, not a retry. */
export class FeeTooLowError extends ChainError {
  override name = 'FeeTooLowError';
}
export class IntrinsicGasTooLowError extends ChainError {
  override name = 'IntrinsicGasTooLowError';
}
export class ExecutionRevertedError extends ChainError {
  override name = 'ExecutionRevertedError';
}
/** The node rejected the tx for a reason we do not classify; treated as permanent. */
export class UnknownNodeError extends ChainError {
  override name = 'UnknownNodeError';
}

/** Endpoint down, timed out, rate-limited or failing internally: another try may work. */
export class NodeUnavailableError extends RetryableError {
  override name = 'NodeUnavailableError';
}
