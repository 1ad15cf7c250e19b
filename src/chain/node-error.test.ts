import {
  HttpRequestError,
  InternalRpcError,
  InvalidInputRpcError,
  LimitExceededRpcError,
  RpcRequestError,
  TimeoutError,
  TransactionRejectedRpcError,
} from 'viem';
import { describe, expect, it } from 'vitest';
import {
  AlreadyKnownError,
  ChainError,
  ExecutionRevertedError,
  FeeTooLowError,
  GasLimitExceededError,
  InsufficientFundsError,
  IntrinsicGasTooLowError,
  InvalidTransactionError,
  NodeLaggingError,
  NodeTimeoutError,
  NodeUnavailableError,
  NonceTooHighError,
  NonceTooLowError,
  RateLimitedError,
  ReplacementUnderpricedError,
  TxPoolFullError,
  UnknownNodeError,
} from './errors.js';
import { NODE_ERROR_WORDINGS, needsFeeBump, toChainError } from './node-error.js';

const rpcError = (message: string, code = -32000, status?: number) =>
  new RpcRequestError({ body: { method: 'eth_sendRawTransaction' }, error: { code, message }, url: 'http://node', ...(status ? { status } : {}) });

/** What each class must say about retrying; the sender and tracker rely on exactly this split. */
const RETRYABLE = new Map<Function, boolean>([
  [AlreadyKnownError, false],
  [NonceTooLowError, false],
  [NonceTooHighError, true],
  [ReplacementUnderpricedError, true],
  [FeeTooLowError, true],
  [TxPoolFullError, true],
  [InsufficientFundsError, false],
  [IntrinsicGasTooLowError, false],
  [GasLimitExceededError, false],
  [InvalidTransactionError, false],
  [ExecutionRevertedError, false],
  [UnknownNodeError, false],
  [NodeUnavailableError, true],
  [RateLimitedError, true],
  [NodeTimeoutError, true],
  [NodeLaggingError, true],
]);

describe('NODE_ERROR_WORDINGS', () => {
  it.each(NODE_ERROR_WORDINGS.map((row) => [row.client, row.text, row] as const))('%s: "%s"', (_client, text, row) => {
    const mapped = toChainError(rpcError(text, row.rpcCode ?? -32000));
    expect(mapped.constructor).toBe(row.type);
    expect(mapped.retryable).toBe(RETRYABLE.get(row.type));
    expect(mapped.code).toBe(row.type.defaultCode);
    expect(mapped.details).toContain(text);
  });

  it('covers every client named in the brief and every class', () => {
    const clients = new Set(NODE_ERROR_WORDINGS.map((r) => r.client));
    for (const c of ['geth', 'erigon', 'nethermind', 'besu', 'reth', 'anvil', 'hardhat']) expect(clients).toContain(c);
    const types = new Set(NODE_ERROR_WORDINGS.map((r) => r.type));
    for (const t of RETRYABLE.keys()) if (t !== UnknownNodeError) expect(types).toContain(t);
  });
});

describe('toChainError', () => {
  it.each([
    ['unknown transaction type', UnknownNodeError], // not "known transaction"
    ['transaction type not supported', InvalidTransactionError], // not "known transaction" either
    ['Changes reverted', UnknownNodeError], // besu allowlist wording: not a revert
    ['the block was reverted by a reorg', UnknownNodeError],
    ['revert', UnknownNodeError],
    ['this transaction is unknown', UnknownNodeError],
    ['FeeTooLowish', UnknownNodeError], // nethermind enum names must stand alone
    ['something entirely new', UnknownNodeError],
  ])('does not over-match %j', (message, Type) => {
    expect(toChainError(rpcError(message)).constructor).toBe(Type);
  });

  it('takes "already known" over "nonce too low" when a node says both', () => {
    expect(toChainError(rpcError('nonce too low: already known'))).toBeInstanceOf(AlreadyKnownError);
  });

  it('never reads a revert reason as a node verdict', () => {
    for (const reason of ['nonce too low', 'insufficient funds', 'already known', 'rate limited', 'header not found']) {
      const mapped = toChainError(rpcError(`execution reverted: ${reason}`, 3));
      expect(mapped, reason).toBeInstanceOf(ExecutionRevertedError);
      expect(mapped.retryable).toBe(false);
    }
    expect(toChainError(rpcError("VM Exception while processing transaction: reverted with reason string 'txpool is full'"))).toBeInstanceOf(ExecutionRevertedError);
  });

  it('reads the node text through viem wrappers, not viem wording or the request body', () => {
    expect(toChainError(new InvalidInputRpcError(rpcError('nonce too low')))).toBeInstanceOf(NonceTooLowError);
    expect(toChainError(new TransactionRejectedRpcError(rpcError('already known', -32003)))).toBeInstanceOf(AlreadyKnownError);
    // The URL and body (only in `message`) say "timeout" and "rate-limit"; the node said something we do not know.
    const err = new RpcRequestError({ body: { method: 'eth_call', params: ['timeout'] }, error: { code: -32000, message: 'weird' }, url: 'http://rate-limit.example/timeout' });
    expect(toChainError(err)).toBeInstanceOf(UnknownNodeError);
  });

  it('maps an HTTP 429 to a rate limit whatever the body says', () => {
    const http = toChainError(new HttpRequestError({ url: 'http://node', status: 429, details: '{"error":{"message":"nonce too low"}}' }));
    expect(http).toBeInstanceOf(RateLimitedError);
    expect(http.retryable).toBe(true);
    expect(toChainError(rpcError('nonce too low', -32000, 429))).toBeInstanceOf(RateLimitedError);
  });

  it('maps rate-limit JSON-RPC codes when the text says nothing known', () => {
    expect(toChainError(rpcError('whatever', -32005))).toBeInstanceOf(RateLimitedError);
    expect(toChainError(new LimitExceededRpcError(rpcError('whatever', -32005)))).toBeInstanceOf(RateLimitedError);
    expect(toChainError(rpcError('slow down', -32007))).toBeInstanceOf(RateLimitedError);
    expect(toChainError(rpcError('slow down', 429))).toBeInstanceOf(RateLimitedError);
  });

  it('lets a known verdict win over a rate-limit code (besu sends the gas-limit error as -32005)', () => {
    expect(toChainError(rpcError('Transaction gas limit exceeds block gas limit', -32005))).toBeInstanceOf(GasLimitExceededError);
  });

  it('maps transport failures to retryable NodeUnavailableError subclasses', () => {
    const bad = toChainError(new HttpRequestError({ url: 'http://node', status: 502, details: 'upstream error' }));
    expect(bad.constructor).toBe(NodeUnavailableError);
    expect(bad.retryable).toBe(true);
    expect(toChainError(new HttpRequestError({ url: 'http://node', status: 504, details: 'x' }))).toBeInstanceOf(NodeTimeoutError);
    expect(toChainError(new TimeoutError({ body: { method: 'eth_blockNumber' }, url: 'http://node' }))).toBeInstanceOf(NodeTimeoutError);
    expect(toChainError(new InternalRpcError(new Error('boom'))).constructor).toBe(NodeUnavailableError);
    expect(toChainError(new TypeError('fetch failed')).constructor).toBe(NodeUnavailableError);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8545'), { code: 'ECONNREFUSED' });
    expect(toChainError(new TypeError('fetch failed', { cause: refused })).constructor).toBe(NodeUnavailableError);
    const timedOut = Object.assign(new Error('connect timed'), { code: 'UND_ERR_CONNECT_TIMEOUT' });
    expect(toChainError(new HttpRequestError({ url: 'http://node', cause: timedOut }))).toBeInstanceOf(NodeTimeoutError);
  });

  it('keeps permanent node rejections non-retryable and is idempotent', () => {
    const funds = toChainError(rpcError('insufficient funds for gas * price + value'));
    expect(funds.retryable).toBe(false);
    expect(toChainError(funds)).toBe(funds);
    expect(funds).toBeInstanceOf(ChainError);
    expect(funds.cause).toBeInstanceOf(RpcRequestError);
  });
});

describe('error classes', () => {
  it('keep their codes and retryability without being told', () => {
    expect(new AlreadyKnownError('x').code).toBe('already_known');
    expect(new NodeUnavailableError('x').code).toBe('node_unavailable');
    expect(new UnknownNodeError('x').code).toBe('node_rejected');
    expect(new RateLimitedError('x').code).toBe('rate_limited');
    expect(new FeeTooLowError('x', { code: 'custom' }).code).toBe('custom');
    for (const [Type, retryable] of RETRYABLE) expect(new (Type as typeof ChainError)('x').retryable, (Type as typeof ChainError).name).toBe(retryable);
  });

  it('needsFeeBump is true only for replacement-underpriced and fee-too-low', () => {
    for (const Type of RETRYABLE.keys()) {
      const expected = Type === ReplacementUnderpricedError || Type === FeeTooLowError;
      expect(needsFeeBump(new (Type as typeof ChainError)('x')), (Type as typeof ChainError).name).toBe(expected);
    }
    expect(needsFeeBump(new Error('replacement transaction underpriced'))).toBe(false);
  });
});
