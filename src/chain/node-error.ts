import { BaseError, HttpRequestError, RpcError, RpcRequestError, TimeoutError } from 'viem';
import {
  AlreadyKnownError,
  ChainError,
  ExecutionRevertedError,
  FeeTooLowError,
  InsufficientFundsError,
  IntrinsicGasTooLowError,
  NodeUnavailableError,
  NonceTooHighError,
  NonceTooLowError,
  ReplacementUnderpricedError,
  UnknownNodeError,
} from './errors.js';

/**
 * The one place that reads node error wording. geth, erigon, nethermind, anvil and hardhat phrase
 * the same condition differently; each pattern lists the variants we have seen. Order matters:
 * "already known" must win over "nonce too low" (viem lumps them together).
 */
const RULES: Array<[RegExp, new (msg: string, o: { cause: unknown; code: string; details?: string }) => ChainError | NodeUnavailableError, string]> = [
  [/already known|already imported|known transaction|transaction already exists|already in (the )?(mem)?pool/i, AlreadyKnownError, 'already_known'],
  [/replacement (transaction )?underpriced|replacement fee too low|could not replace existing tx/i, ReplacementUnderpricedError, 'replacement_underpriced'],
  [/nonce too low|nonce is too low|nonce has already been used|invalid nonce.*expected nonce to be|expected nonce to be \d+ but got/i, NonceTooLowError, 'nonce_too_low'],
  [/nonce too high/i, NonceTooHighError, 'nonce_too_high'],
  [/insufficient funds|exceeds (the )?(transaction )?sender account balance|doesn't have enough funds|outoffunds|insufficient balance for transfer/i, InsufficientFundsError, 'insufficient_funds'],
  [/max fee per gas less than block base fee|fee cap less than block base fee|transaction is outdated|transaction underpriced|maxfeepergas.*(too low|lower than)|lower than the block'?s base ?fee/i, FeeTooLowError, 'fee_too_low'],
  [/intrinsic gas too low|gas limit too low|requires at least \d+ gas/i, IntrinsicGasTooLowError, 'intrinsic_gas_too_low'],
  [/execution reverted|transaction reverted|revert/i, ExecutionRevertedError, 'execution_reverted'],
  [/rate limit|too many requests|limit exceeded|capacity exceeded|header not found|service unavailable|bad gateway|timeout|timed out|ECONNREFUSED|ECONNRESET|socket hang up|fetch failed/i, NodeUnavailableError, 'node_unavailable'],
];

/** JSON-RPC error codes that mean "try again" whatever the text says. */
const RETRYABLE_RPC_CODES = new Set([-32005, -32603, 429]);

function nodeText(err: unknown): string {
  if (err instanceof BaseError) {
    const parts = [err.details, err.shortMessage];
    err.walk((e) => {
      if (e instanceof BaseError && e.details) parts.push(e.details);
      return false;
    });
    return parts.filter(Boolean).join(' | ');
  }
  return err instanceof Error ? err.message : String(err);
}

export function toChainError(err: unknown): ChainError | NodeUnavailableError {
  if (err instanceof ChainError || err instanceof NodeUnavailableError) return err;
  const text = nodeText(err);
  for (const [pattern, Type, code] of RULES) {
    if (pattern.test(text)) return new Type(`Node said: ${code.replace(/_/g, ' ')}.`, { cause: err, code, details: text });
  }
  if (err instanceof HttpRequestError || err instanceof TimeoutError) {
    return new NodeUnavailableError('RPC endpoint unreachable.', { cause: err, code: 'node_unavailable', details: text });
  }
  const rpcCode = err instanceof BaseError ? (err.walk((e) => e instanceof RpcRequestError || e instanceof RpcError) as { code: number } | null)?.code : undefined;
  if (rpcCode !== undefined && RETRYABLE_RPC_CODES.has(rpcCode)) {
    return new NodeUnavailableError('RPC endpoint failed internally.', { cause: err, code: 'node_unavailable', details: text });
  }
  if (!(err instanceof BaseError)) {
    // Not a node answer at all (e.g. a network exception thrown below viem): assume transient.
    return new NodeUnavailableError('RPC call failed.', { cause: err, code: 'node_unavailable', details: text });
  }
  return new UnknownNodeError('Node rejected the request.', { cause: err, code: 'node_rejected', details: text });
}
