import { BaseError, HttpRequestError, RpcRequestError, SocketClosedError, TimeoutError, WebSocketRequestError } from 'viem';
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

export { needsFeeBump } from './errors.js';

export type ChainErrorClass = (new (shortMessage: string, options?: { cause?: unknown; details?: string; code?: string }) => ChainError) & {
  readonly defaultCode: string;
};

export type NodeClient =
  | 'geth'
  | 'erigon'
  | 'nethermind'
  | 'besu'
  | 'reth'
  | 'anvil'
  | 'hardhat'
  | 'infura'
  | 'alchemy'
  | 'quicknode'
  | 'provider' // wording used by several hosted providers or proxies
  | 'transport'; // Node's fetch/undici/socket layer, not a node at all

export type NodeErrorWording = {
  /** Who says it. */
  client: NodeClient;
  /** The message as that client sends it (numbers and hashes are examples). */
  text: string;
  /** What it means. */
  type: ChainErrorClass;
  /** Recognises `text` (and its variants) in one error message; anchored or word-bounded, never a bare word. */
  match: RegExp;
  /** The JSON-RPC error code the client sends it with, when that matters (for tests and documentation). */
  rpcCode?: number;
};

/** A phrase as whole words (case-insensitive); spaces match any run of whitespace. */
function words(phrase: string): RegExp {
  const body = phrase.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+');
  return new RegExp(`(?<![\\w-])${body}(?![\\w-])`, 'i');
}

/** A phrase that must open the message, optionally after an "XyzError: " prefix some clients add. */
function opens(phrase: string, flags = 'i'): RegExp {
  const body = phrase.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+');
  return new RegExp(`^\\s*(?:\\w*Error:\\s*)?${body}(?![\\w-])`, flags);
}

/**
 * The one table of node wordings. Order is precedence: the first row whose `match` fits any message
 * in the error's cause chain wins. So "already known" wins over "nonce too low" (a node may say
 * both for our own pending tx, and viem lumps them), the replacement rows come before the generic
 * "transaction underpriced", and every specific verdict comes before the rate-limit and timeout
 * wordings (besu sends "exceeds block gas limit" with code -32005, which is also Infura's rate limit).
 *
 * Sources: geth core/txpool/errors.go + core/error.go; erigon txpoolcfg DiscardReason (sent as
 * "<ImportResult>: <reason>"); nethermind AcceptTxResult (older releases send the enum name first,
 * newer ones geth's phrases); besu RpcErrorType; reth rpc-eth-types RpcPoolError /
 * RpcInvalidTransactionError; anvil crates/anvil/src/eth/error.rs; hardhat/EDR mempool and
 * automine errors.
 */
export const NODE_ERROR_WORDINGS: NodeErrorWording[] = [
  // The node already has this very transaction: our earlier broadcast worked.
  { client: 'geth', text: 'already known', type: AlreadyKnownError, match: words('already known') },
  { client: 'erigon', text: 'ALREADY_EXISTS: already known', type: AlreadyKnownError, match: /^\s*ALREADY_EXISTS\b/ },
  { client: 'erigon', text: 'INTERNAL_ERROR: existing tx with same hash', type: AlreadyKnownError, match: /(?<![\w-])existing\s+txn?\s+with\s+same\s+hash(?![\w-])/i },
  { client: 'nethermind', text: 'AlreadyKnown', type: AlreadyKnownError, match: opens('AlreadyKnown', '') },
  { client: 'besu', text: 'Known transaction', type: AlreadyKnownError, match: opens('Known transaction') },
  { client: 'hardhat', text: 'Known transaction: 0x3a1f9c2b0d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8', type: AlreadyKnownError, match: opens('Known transaction') },
  { client: 'anvil', text: 'transaction already imported', type: AlreadyKnownError, match: words('transaction already imported') },

  // Another tx holds this nonce in the pool and ours does not outbid it enough.
  { client: 'geth', text: 'replacement transaction underpriced', type: ReplacementUnderpricedError, match: words('replacement transaction underpriced') },
  { client: 'erigon', text: 'FEE_TOO_LOW: replacement transaction underpriced', type: ReplacementUnderpricedError, match: words('replacement transaction underpriced') },
  { client: 'erigon', text: 'INTERNAL_ERROR: could not replace existing tx', type: ReplacementUnderpricedError, match: words('could not replace existing tx') },
  { client: 'nethermind', text: 'ReplacementNotAllowed', type: ReplacementUnderpricedError, match: opens('ReplacementNotAllowed', '') },
  { client: 'besu', text: 'Replacement transaction underpriced', type: ReplacementUnderpricedError, match: words('replacement transaction underpriced') },
  {
    client: 'hardhat',
    text: 'Replacement transaction underpriced. A gasPrice/maxFeePerGas of at least 2000000000 is necessary to replace the existing transaction with nonce 4.',
    type: ReplacementUnderpricedError,
    match: words('replacement transaction underpriced'),
  },
  { client: 'anvil', text: 'replacement transaction underpriced', type: ReplacementUnderpricedError, match: words('replacement transaction underpriced') },

  // The nonce is used up: mined, ours or someone else's.
  { client: 'geth', text: 'nonce too low: next nonce 7, tx nonce 5', type: NonceTooLowError, match: words('nonce too low') },
  { client: 'erigon', text: 'INTERNAL_ERROR: nonce too low', type: NonceTooLowError, match: words('nonce too low') },
  { client: 'nethermind', text: 'OldNonce, Current nonce: 7, nonce of rejected tx: 5', type: NonceTooLowError, match: opens('OldNonce', '') },
  { client: 'besu', text: 'Nonce too low', type: NonceTooLowError, match: words('nonce too low'), rpcCode: -32001 },
  { client: 'hardhat', text: 'Nonce too low. Expected nonce to be 7 but got 5.', type: NonceTooLowError, match: words('nonce too low') },
  { client: 'hardhat', text: 'Transaction nonce too low. Expected nonce to be at least 7 but got 5.', type: NonceTooLowError, match: words('nonce too low') },
  { client: 'anvil', text: 'nonce too low', type: NonceTooLowError, match: words('nonce too low') },

  // A lower nonce is missing on this node; the same bytes can succeed later.
  { client: 'geth', text: 'nonce too high', type: NonceTooHighError, match: words('nonce too high') },
  { client: 'nethermind', text: 'NonceGap, Future nonce. Expected nonce: 5', type: NonceTooHighError, match: opens('NonceGap', '') },
  { client: 'nethermind', text: 'nonce too far in future', type: NonceTooHighError, match: words('nonce too far in future') },
  { client: 'besu', text: 'Nonce too high', type: NonceTooHighError, match: words('nonce too high'), rpcCode: -32006 },
  { client: 'besu', text: 'Transaction nonce is too distant from current sender nonce', type: NonceTooHighError, match: words('nonce is too distant') },
  { client: 'hardhat', text: "Nonce too high. Expected nonce to be 5 but got 7. Note that transactions can't be queued when automining.", type: NonceTooHighError, match: words('nonce too high') },
  { client: 'anvil', text: 'Nonce too high', type: NonceTooHighError, match: words('nonce too high') },

  // The pool has no room (for this fee, or for this sender); nethermind's "full and you are the cheapest" is a fee problem, below.
  { client: 'geth', text: 'txpool is full', type: TxPoolFullError, match: words('txpool is full') },
  { client: 'geth', text: 'account limit exceeded', type: TxPoolFullError, match: words('account limit exceeded') },
  { client: 'reth', text: 'txpool is full', type: TxPoolFullError, match: words('txpool is full') },
  { client: 'erigon', text: 'INTERNAL_ERROR: pending sub-pool is full', type: TxPoolFullError, match: /(?<![\w-])(?:pending|basefee|queued)\s+sub-pool\s+is\s+full(?![\w-])/i },

  // Fee below the base fee or the pool's floor: needs a bump.
  { client: 'geth', text: 'transaction underpriced: tip needed 1000000000, tip permitted 0', type: FeeTooLowError, match: words('transaction underpriced') },
  { client: 'geth', text: 'max fee per gas less than block base fee: address 0xabc, maxFeePerGas: 1, baseFee: 7', type: FeeTooLowError, match: words('max fee per gas less than block base fee') },
  { client: 'reth', text: 'max fee per gas less than block base fee', type: FeeTooLowError, match: words('max fee per gas less than block base fee') },
  { client: 'anvil', text: 'max fee per gas less than block base fee', type: FeeTooLowError, match: words('max fee per gas less than block base fee') },
  { client: 'erigon', text: 'FEE_TOO_LOW: underpriced', type: FeeTooLowError, match: /^\s*FEE_TOO_LOW\b/ },
  { client: 'erigon', text: 'FEE_TOO_LOW: fee too low', type: FeeTooLowError, match: words('fee too low') },
  { client: 'nethermind', text: 'FeeTooLow, MaxFeePerGas too low. MaxFeePerGas: 1, BaseFee: 7, MaxPriorityFeePerGas: 1, Block number: 1', type: FeeTooLowError, match: opens('FeeTooLow', '') },
  { client: 'nethermind', text: 'FeeTooLowToCompete', type: FeeTooLowError, match: opens('FeeTooLowToCompete', '') },
  { client: 'besu', text: 'Gas price below configured minimum gas price', type: FeeTooLowError, match: words('gas price below configured minimum gas price'), rpcCode: -32009 },
  { client: 'besu', text: 'Gas price below current base fee', type: FeeTooLowError, match: words('gas price below current base fee'), rpcCode: -32009 },
  { client: 'hardhat', text: 'Transaction maxFeePerGas (1) is too low for the next block, which has a baseFeePerGas of 7', type: FeeTooLowError, match: /(?<![\w-])Transaction\s+(?:maxFeePerGas|gasPrice)\s+\(\d+\)\s+is\s+too\s+low\s+for\s+the\s+next\s+block\b/i },
  { client: 'hardhat', text: 'Transaction gasPrice (9) is too low for the next block, which has a baseFeePerGas of 10', type: FeeTooLowError, match: /(?<![\w-])Transaction\s+(?:maxFeePerGas|gasPrice)\s+\(\d+\)\s+is\s+too\s+low\s+for\s+the\s+next\s+block\b/i },

  // The sending account cannot pay.
  { client: 'geth', text: 'insufficient funds for gas * price + value: address 0xabc have 0 want 21000', type: InsufficientFundsError, match: words('insufficient funds') },
  { client: 'erigon', text: 'INTERNAL_ERROR: insufficient funds', type: InsufficientFundsError, match: words('insufficient funds') },
  { client: 'nethermind', text: 'InsufficientFunds, Account balance: 0, cumulative cost: 21000', type: InsufficientFundsError, match: opens('InsufficientFunds', '') },
  { client: 'besu', text: 'Upfront cost exceeds account balance', type: InsufficientFundsError, match: words('upfront cost exceeds account balance'), rpcCode: -32004 },
  { client: 'anvil', text: 'Insufficient funds for gas * price + value', type: InsufficientFundsError, match: words('insufficient funds') },
  { client: 'anvil', text: 'insufficient funds for transfer', type: InsufficientFundsError, match: words('insufficient funds') },
  {
    client: 'hardhat',
    text: "Sender doesn't have enough funds to send tx. The max upfront cost is: 21000000000000 and the sender's balance is: 0.",
    type: InsufficientFundsError,
    match: words("sender doesn't have enough funds"),
  },

  // Gas limit below the intrinsic cost. (anvil words one case of it as "too high": check that first.)
  { client: 'anvil', text: 'intrinsic gas too high -- CallGasCostMoreThanGasLimit', type: IntrinsicGasTooLowError, match: /(?<![\w-])intrinsic\s+gas\s+too\s+high\s+--\s+(?:CallGasCostMoreThanGasLimit|GasFloorMoreThanGasLimit)\b/i },
  { client: 'geth', text: 'intrinsic gas too low: gas 20000, minimum needed 21000', type: IntrinsicGasTooLowError, match: words('intrinsic gas too low') },
  { client: 'erigon', text: 'INTERNAL_ERROR: IntrinsicGas', type: IntrinsicGasTooLowError, match: /^\s*\w+:\s*IntrinsicGas\b/ },
  { client: 'besu', text: 'Intrinsic gas exceeds gas limit', type: IntrinsicGasTooLowError, match: words('intrinsic gas exceeds gas limit'), rpcCode: -32003 },
  { client: 'hardhat', text: 'Transaction requires at least 21000 gas but got 20000', type: IntrinsicGasTooLowError, match: /(?<![\w-])Transaction\s+requires\s+at\s+least\s+\d+\s+gas\b/i },
  { client: 'anvil', text: 'intrinsic gas too low', type: IntrinsicGasTooLowError, match: words('intrinsic gas too low') },

  // Gas limit above the block's (or the per-tx cap).
  { client: 'geth', text: 'exceeds block gas limit', type: GasLimitExceededError, match: words('exceeds block gas limit') },
  { client: 'besu', text: 'Transaction gas limit exceeds block gas limit', type: GasLimitExceededError, match: words('exceeds block gas limit'), rpcCode: -32005 },
  { client: 'nethermind', text: 'GasLimitExceeded, Gas limit: 30000000, gas limit of rejected tx: 40000000', type: GasLimitExceededError, match: opens('GasLimitExceeded', '') },
  { client: 'nethermind', text: 'gas limit reached', type: GasLimitExceededError, match: words('gas limit reached') },
  { client: 'reth', text: 'intrinsic gas too high', type: GasLimitExceededError, match: words('intrinsic gas too high') },
  { client: 'anvil', text: 'intrinsic gas too high -- CallerGasLimitMoreThanBlock', type: GasLimitExceededError, match: words('intrinsic gas too high') },
  { client: 'anvil', text: 'Transaction gas limit is greater than the block gas limit, gas_limit: 40000000, cap: 30000000', type: GasLimitExceededError, match: words('gas limit is greater than the block gas limit') },
  { client: 'hardhat', text: 'Transaction gas limit is 40000000 and exceeds block gas limit of 30000000', type: GasLimitExceededError, match: words('exceeds block gas limit') },

  // Not a valid transaction for this node: sender, signature, chain id, type.
  { client: 'geth', text: 'invalid sender', type: InvalidTransactionError, match: words('invalid sender') },
  { client: 'geth', text: 'transaction type not supported', type: InvalidTransactionError, match: words('transaction type not supported') },
  { client: 'erigon', text: 'INVALID: fork supporting this transaction type is not activated yet', type: InvalidTransactionError, match: words('transaction type is not activated yet') },
  { client: 'nethermind', text: 'unsupported transaction type', type: InvalidTransactionError, match: words('unsupported transaction type') },
  { client: 'nethermind', text: 'NotSupportedTxType', type: InvalidTransactionError, match: opens('NotSupportedTxType', '') },
  { client: 'nethermind', text: 'FailedToResolveSender', type: InvalidTransactionError, match: opens('FailedToResolveSender', '') },
  { client: 'nethermind', text: 'failed to recover sender', type: InvalidTransactionError, match: words('failed to recover sender') },
  { client: 'besu', text: 'Invalid signature', type: InvalidTransactionError, match: words('invalid signature'), rpcCode: -32002 },
  { client: 'besu', text: 'Invalid transaction type', type: InvalidTransactionError, match: words('invalid transaction type') },
  { client: 'besu', text: 'Wrong chainId', type: InvalidTransactionError, match: opens('Wrong chainId') },
  { client: 'reth', text: 'Invalid transaction signature', type: InvalidTransactionError, match: words('invalid transaction signature') },
  { client: 'anvil', text: 'Unknown transaction type not supported', type: InvalidTransactionError, match: words('transaction type not supported') },
  { client: 'anvil', text: 'invalid chain id for signer', type: InvalidTransactionError, match: words('invalid chain id for signer') },
  { client: 'anvil', text: 'Incompatible EIP-155 transaction, signed for another chain', type: InvalidTransactionError, match: words('signed for another chain') },
  { client: 'hardhat', text: 'Trying to send an incompatible EIP-155 transaction, signed for another chain.', type: InvalidTransactionError, match: words('signed for another chain') },
  { client: 'hardhat', text: 'Trying to send a raw transaction with an invalid chainId. The expected chainId is 31337', type: InvalidTransactionError, match: words('raw transaction with an invalid chainId') },

  // The EVM reverted. Only these phrasings: a stray "revert" in other text is not a revert.
  { client: 'geth', text: 'execution reverted: ERC20: transfer amount exceeds balance', type: ExecutionRevertedError, match: words('execution reverted') },
  { client: 'besu', text: 'Execution reverted', type: ExecutionRevertedError, match: words('execution reverted'), rpcCode: -32000 },
  { client: 'anvil', text: 'execution reverted: custom error 0x7939f424', type: ExecutionRevertedError, match: words('execution reverted'), rpcCode: 3 },
  { client: 'hardhat', text: "VM Exception while processing transaction: reverted with reason string 'nope'", type: ExecutionRevertedError, match: /(?<![\w-])VM\s+Exception\s+while\s+processing\s+transaction:\s+(?:reverted|revert)\b/i },
  { client: 'hardhat', text: 'Transaction reverted without a reason string', type: ExecutionRevertedError, match: opens('Transaction reverted') },
  { client: 'hardhat', text: 'Transaction reverted: function call to a non-contract account', type: ExecutionRevertedError, match: opens('Transaction reverted') },

  // Rate limits (HTTP 429 and JSON-RPC 429/-32005/-32007 are recognised by code too).
  { client: 'infura', text: 'daily request count exceeded, request rate limited', type: RateLimitedError, match: words('daily request count exceeded'), rpcCode: -32005 },
  { client: 'infura', text: 'project ID request rate exceeded', type: RateLimitedError, match: words('request rate exceeded'), rpcCode: -32005 },
  { client: 'alchemy', text: 'Your app has exceeded its compute units per second capacity. If you have retries enabled, you can safely ignore this message.', type: RateLimitedError, match: words('compute units per second'), rpcCode: 429 },
  { client: 'quicknode', text: '15/second request limit reached - reduce calls per second or upgrade your account at quicknode.com', type: RateLimitedError, match: words('request limit reached'), rpcCode: -32007 },
  { client: 'provider', text: 'Too Many Requests', type: RateLimitedError, match: words('too many requests') },
  { client: 'provider', text: 'rate limit exceeded', type: RateLimitedError, match: /(?<![\w-])rate[\s-]?limit(?:ed|s|ing)?(?![\w-])/i },

  // Timeouts.
  { client: 'geth', text: 'request timed out', type: NodeTimeoutError, match: words('request timed out') },
  { client: 'geth', text: 'execution aborted (timeout = 5s)', type: NodeTimeoutError, match: /(?<![\w-])execution\s+aborted\s+\(timeout\b/i },
  { client: 'besu', text: 'Timeout expired', type: NodeTimeoutError, match: words('timeout expired'), rpcCode: -32603 },
  { client: 'transport', text: 'The operation was aborted due to timeout', type: NodeTimeoutError, match: words('aborted due to timeout') },
  { client: 'transport', text: 'connect ETIMEDOUT 10.0.0.1:8545', type: NodeTimeoutError, match: /(?<![\w-])(?:ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT)(?![\w-])/ },

  // The node is behind or syncing: another endpoint (or a later try) has the data.
  { client: 'geth', text: 'header not found', type: NodeLaggingError, match: words('header not found') },
  { client: 'geth', text: 'missing trie node 5a2bc0e2b2b0f4c3d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c (path )', type: NodeLaggingError, match: words('missing trie node') },
  { client: 'besu', text: 'Unknown block', type: NodeLaggingError, match: opens('Unknown block'), rpcCode: -39001 },
  { client: 'besu', text: 'Initial sync is still in progress', type: NodeLaggingError, match: words('initial sync is still in progress'), rpcCode: -32008 },
  { client: 'besu', text: 'World state unavailable', type: NodeLaggingError, match: words('world state unavailable') },
  { client: 'besu', text: 'Transaction pool not enabled. (Either txpool explicitly disabled, or node not yet in sync).', type: NodeLaggingError, match: words('transaction pool not enabled') },
  { client: 'nethermind', text: 'node is syncing', type: NodeLaggingError, match: words('node is syncing') },

  // No usable answer at all.
  { client: 'transport', text: 'fetch failed', type: NodeUnavailableError, match: words('fetch failed') },
  { client: 'transport', text: 'socket hang up', type: NodeUnavailableError, match: words('socket hang up') },
  { client: 'transport', text: 'connect ECONNREFUSED 127.0.0.1:8545', type: NodeUnavailableError, match: /(?<![\w-])(?:ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|EPIPE|EHOSTUNREACH|ENETUNREACH|UND_ERR_SOCKET)(?![\w-])/ },
  { client: 'provider', text: '502 Bad Gateway', type: NodeUnavailableError, match: words('bad gateway') },
  { client: 'provider', text: 'Service Unavailable', type: NodeUnavailableError, match: words('service unavailable') },
];

/** HTTP statuses that mean "no usable answer from this endpoint right now". */
const TIMEOUT_STATUSES = new Set([408, 504]);
/** JSON-RPC codes hosted providers use for "slow down": Infura/standard -32005, QuickNode -32007, Alchemy 429. */
const RATE_LIMIT_RPC_CODES = new Set([-32005, -32007, 429]);
/** JSON-RPC internal error: the node failed, not our request. */
const INTERNAL_RPC_CODE = -32603;
/** Socket-level error codes (Node, undici) that mean the endpoint was not reached or hung up. */
const TIMEOUT_SYSTEM_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const NETWORK_SYSTEM_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** Every error in the cause chain (and an AggregateError's members), nearest first. */
function chainOf(err: unknown): unknown[] {
  const out: unknown[] = [];
  const queue: unknown[] = [err];
  while (queue.length > 0 && out.length < 20) {
    const e = queue.shift();
    if (e === undefined || e === null || out.includes(e)) continue;
    out.push(e);
    if (typeof e === 'object') {
      const { cause, errors } = e as { cause?: unknown; errors?: unknown };
      if (cause !== undefined) queue.push(cause);
      if (Array.isArray(errors)) queue.push(...errors);
    }
  }
  return out;
}

/**
 * The texts a node (or the transport) wrote, one per error in the chain. For viem errors that is
 * `details` only: their `message` also carries the URL and the request body, and their
 * `shortMessage` is viem's own generic wording.
 */
function nodeTexts(chain: unknown[]): string[] {
  const texts: string[] = [];
  for (const e of chain) {
    let text: unknown;
    if (e instanceof BaseError) text = e.details;
    else if (e instanceof Error) text = e.message;
    else if (typeof e === 'string') text = e;
    else if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') text = (e as { message: string }).message;
    if (typeof text === 'string' && text.trim() !== '' && !texts.includes(text)) texts.push(text);
  }
  return texts;
}

function httpStatusOf(chain: unknown[]): number | undefined {
  for (const e of chain) {
    if ((e instanceof HttpRequestError || e instanceof RpcRequestError) && typeof e.status === 'number') return e.status;
  }
  return undefined;
}

function rpcCodeOf(chain: unknown[]): number | undefined {
  for (const e of chain) {
    if (e instanceof BaseError && typeof (e as { code?: unknown }).code === 'number') return (e as unknown as { code: number }).code;
  }
  return undefined;
}

function systemCodesOf(chain: unknown[]): string[] {
  return chain
    .map((e) => (e && typeof e === 'object' ? (e as { code?: unknown }).code : undefined))
    .filter((c): c is string => typeof c === 'string');
}

/**
 * Where a revert is reported, what follows is the contract's own reason string: anyone can make a
 * contract revert with "nonce too low" or "insufficient funds". So a text is cut right after its
 * revert phrase before the table sees it, and the reason can never pass for a node verdict.
 */
const REVERT_PHRASE =
  /(?<![\w-])(?:execution\s+reverted|VM\s+Exception\s+while\s+processing\s+transaction:\s+(?:reverted|revert)|Transaction\s+reverted)(?![\w-])/i;

function withoutRevertReason(text: string): string {
  const m = REVERT_PHRASE.exec(text);
  return m ? text.slice(0, m.index + m[0].length) : text;
}

/** Finds the first wording in the table (in table order) that fits one of `texts`. */
export function matchNodeWording(texts: string[]): NodeErrorWording | undefined {
  const cut = texts.map(withoutRevertReason);
  return NODE_ERROR_WORDINGS.find((row) => cut.some((t) => row.match.test(t)));
}

/** Maps whatever an RPC call threw to a ChainError subclass. Idempotent on ChainErrors. */
export function toChainError(err: unknown): ChainError {
  if (err instanceof ChainError) return err;
  const chain = chainOf(err);
  const texts = nodeTexts(chain);
  const details = texts.join(' | ') || String(err);
  const make = (Type: ChainErrorClass, shortMessage: string) => new Type(shortMessage, { cause: err, details });

  // Structure first where it is unambiguous: an HTTP 429 is a rate limit whatever the body says.
  const status = httpStatusOf(chain);
  if (status === 429) return make(RateLimitedError, 'RPC endpoint is rate limiting us (HTTP 429).');

  const row = matchNodeWording(texts);
  if (row) return make(row.type, `Node said: ${row.type.defaultCode.replace(/_/g, ' ')}.`);

  const rpcCode = rpcCodeOf(chain);
  if (rpcCode !== undefined && RATE_LIMIT_RPC_CODES.has(rpcCode)) return make(RateLimitedError, `RPC endpoint is rate limiting us (code ${rpcCode}).`);
  const systemCodes = systemCodesOf(chain);
  if (
    chain.some((e) => e instanceof TimeoutError) ||
    (status !== undefined && TIMEOUT_STATUSES.has(status)) ||
    systemCodes.some((c) => TIMEOUT_SYSTEM_CODES.has(c))
  ) {
    return make(NodeTimeoutError, 'RPC request timed out.');
  }
  if (rpcCode === INTERNAL_RPC_CODE) return make(NodeUnavailableError, 'RPC endpoint failed internally.');
  if (
    chain.some((e) => e instanceof HttpRequestError || e instanceof SocketClosedError || e instanceof WebSocketRequestError) ||
    (status !== undefined && status >= 500) ||
    systemCodes.some((c) => NETWORK_SYSTEM_CODES.has(c))
  ) {
    return make(NodeUnavailableError, 'RPC endpoint unreachable.');
  }
  if (!(err instanceof BaseError)) {
    // Not a node answer at all (e.g. an exception thrown below viem): assume transient.
    return make(NodeUnavailableError, 'RPC call failed.');
  }
  return make(UnknownNodeError, 'Node rejected the request.');
}
