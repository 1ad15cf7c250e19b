import { HttpRequestError, InternalRpcError, RpcRequestError } from 'viem';
import { describe, expect, it } from 'vitest';
import {
  AlreadyKnownError,
  FeeTooLowError,
  InsufficientFundsError,
  NodeUnavailableError,
  NonceTooLowError,
  ReplacementUnderpricedError,
  UnknownNodeError,
} from './errors.js';
import { toChainError } from './node-error.js';

const rpcError = (message: string, code = -32000) =>
  new RpcRequestError({ body: { method: 'eth_sendRawTransaction' }, error: { code, message }, url: 'http://node' });

describe('toChainError', () => {
  it.each([
    ['already known', AlreadyKnownError], // geth
    ['Known transaction: 0xabc', AlreadyKnownError], // parity/nethermind
    ['transaction already imported', AlreadyKnownError],
    ['nonce too low', NonceTooLowError], // geth, anvil
    ['Nonce too low. Expected nonce to be 5 but got 3.', NonceTooLowError], // hardhat
    ['replacement transaction underpriced', ReplacementUnderpricedError],
    ['Replacement transaction underpriced. A gasPrice/maxFeePerGas of at least 2 is necessary', ReplacementUnderpricedError],
    ['insufficient funds for gas * price + value', InsufficientFundsError],
    ["Sender doesn't have enough funds to send tx. The max upfront cost is: 1", InsufficientFundsError], // hardhat
    ['max fee per gas less than block base fee', FeeTooLowError],
    ['Transaction maxFeePerGas (1) is too low for the next block, which has a baseFeePerGas of 7', FeeTooLowError],
    ['something entirely new', UnknownNodeError],
  ])('%s', (message, Type) => {
    const mapped = toChainError(rpcError(message));
    expect(mapped).toBeInstanceOf(Type);
    expect(mapped.details).toContain(message);
  });

  it('treats unreachable endpoints and rate limits as retryable', () => {
    const http = toChainError(new HttpRequestError({ url: 'http://node', status: 502, details: 'Bad Gateway' }));
    expect(http).toBeInstanceOf(NodeUnavailableError);
    expect(http.retryable).toBe(true);
    expect(toChainError(rpcError('whatever', -32005))).toBeInstanceOf(NodeUnavailableError);
    expect(toChainError(new InternalRpcError(new Error('boom')))).toBeInstanceOf(NodeUnavailableError);
    expect(toChainError(new TypeError('fetch failed'))).toBeInstanceOf(NodeUnavailableError);
  });

  it('keeps permanent node rejections non-retryable', () => {
    expect(toChainError(rpcError('insufficient funds')).retryable).toBe(false);
  });
});
