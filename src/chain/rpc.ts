import {
  createPublicClient,
  type Hash,
  type Hex,
  http,
  keccak256,
  type PublicClient,
  type TransactionReceipt,
  TransactionReceiptNotFoundError,
} from 'viem';
import type { Logger } from '../observability/logger.js';
import { AlreadyKnownError, type ChainError, NodeUnavailableError } from './errors.js';
import { toChainError } from './node-error.js';
import type { ChainConfig } from './types.js';

type Endpoint = { url: string; client: PublicClient; failures: number; downUntil: number };

export type FeeSuggestion = { baseFee: bigint; maxPriorityFeePerGas: bigint };

/**
 * Redundant RPC access to one chain. An endpoint that fails is skipped for a while (growing with
 * consecutive failures); reads fall over to the next endpoint; broadcasts go to all healthy ones
 * because any single node may be partitioned from the network.
 */
export function createChainRpc(chain: ChainConfig, logger: Logger) {
  const endpoints: Endpoint[] = chain.rpc.map(({ url }) => ({
    url,
    client: createPublicClient({ transport: http(url, { timeout: 10_000, retryCount: 0, batch: true }) }),
    failures: 0,
    downUntil: 0,
  }));

  function ordered(): Endpoint[] {
    const now = Date.now();
    const up = endpoints.filter((e) => e.downUntil <= now);
    // Never leave ourselves with nothing: if all are marked down, try them all anyway.
    return up.length > 0 ? up : [...endpoints].sort((a, b) => a.failures - b.failures);
  }

  function markFailure(e: Endpoint, err: ChainError | NodeUnavailableError) {
    if (!(err instanceof NodeUnavailableError)) return; // the node answered; it is healthy
    e.failures += 1;
    e.downUntil = Date.now() + Math.min(60_000, 500 * 2 ** Math.min(e.failures, 7));
    logger.warn({ chainId: chain.chainId, endpoint: redact(e.url), failures: e.failures, err: err.shortMessage }, 'rpc endpoint failing');
  }

  function markSuccess(e: Endpoint) {
    e.failures = 0;
    e.downUntil = 0;
  }

  async function read<T>(fn: (client: PublicClient) => Promise<T>): Promise<T> {
    let last: ChainError | NodeUnavailableError | undefined;
    for (const e of ordered()) {
      try {
        const result = await fn(e.client);
        markSuccess(e);
        return result;
      } catch (raw) {
        last = toChainError(raw);
        markFailure(e, last);
        if (!(last instanceof NodeUnavailableError)) throw last;
      }
    }
    throw last ?? new NodeUnavailableError('No RPC endpoint configured.', { code: 'node_unavailable' });
  }

  return {
    chain,
    read,

    /**
     * Sends the same signed bytes to every healthy endpoint. Resolves if any accepted it (or
     * already had it); otherwise throws the most telling error: a node's verdict beats "unreachable".
     */
    async broadcast(raw: Hex): Promise<Hash> {
      const targets = ordered();
      const results = await Promise.allSettled(
        targets.map(async (e) => {
          try {
            await e.client.request({ method: 'eth_sendRawTransaction', params: [raw] });
            markSuccess(e);
            return true;
          } catch (rawErr) {
            const err = toChainError(rawErr);
            markFailure(e, err);
            if (err instanceof AlreadyKnownError) return true;
            throw err;
          }
        }),
      );
      // A typed transaction's hash is the keccak of its signed bytes, whoever accepted it.
      if (results.some((r) => r.status === 'fulfilled')) return keccak256(raw);
      const errors = results.map((r) => (r as PromiseRejectedResult).reason as ChainError | NodeUnavailableError);
      throw errors.find((e) => !(e instanceof NodeUnavailableError)) ?? errors[0]!;
    },

    async suggestFees(): Promise<FeeSuggestion> {
      return read(async (c) => {
        const [block, tip] = await Promise.all([
          c.getBlock({ blockTag: 'latest' }),
          c.request({ method: 'eth_maxPriorityFeePerGas' }).then(BigInt, () => chain.defaultPriorityFee),
        ]);
        return { baseFee: block.baseFeePerGas ?? 0n, maxPriorityFeePerGas: tip };
      });
    },

    blockNumber: () => read((c) => c.getBlockNumber({ cacheTime: 0 })),

    /** null when the node does not know a receipt for this hash (pending, dropped or reorged out). */
    receipt: (hash: Hash) =>
      read(async (c): Promise<TransactionReceipt | null> => {
        try {
          return await c.getTransactionReceipt({ hash });
        } catch (err) {
          if (err instanceof TransactionReceiptNotFoundError) return null;
          throw err;
        }
      }),

    /** Whether any endpoint's node knows this transaction (pool or chain). */
    knowsTransaction: (hash: Hash) =>
      read(async (c) => (await c.request({ method: 'eth_getTransactionByHash', params: [hash] })) !== null),

    transactionCount: (address: `0x${string}`, blockTag: 'latest' | 'pending') =>
      read((c) => c.getTransactionCount({ address, blockTag })),

    chainId: () => read((c) => c.getChainId()),

    genesisHash: () => read(async (c) => (await c.getBlock({ blockNumber: 0n })).hash),
  };
}

export type ChainRpc = ReturnType<typeof createChainRpc>;

function redact(url: string): string {
  // Provider URLs often carry an API key in the path or query.
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'invalid-url';
  }
}
