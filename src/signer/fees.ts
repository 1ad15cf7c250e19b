import type { Cache } from '../cache/types.js';
import type { ChainRpc, FeeSuggestion } from '../chain/rpc.js';

export type Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint; capped: boolean };

/**
 * EIP-1559 fees from the node: tip as suggested, fee cap at twice the base fee plus tip (room for
 * six full blocks of base-fee growth), both clamped to the configured cap. Cached briefly, since
 * every withdrawal in a burst would otherwise ask the node the same question: in-process for
 * concurrent callers, and in the shared cache (when given) for every signer replica.
 */
export function createFeeOracle(rpc: ChainRpc, options: { ttlMs?: number; cache?: Cache } = {}) {
  const ttlMs = options.ttlMs ?? 1_000;
  const cacheKey = `fees:${rpc.chain.chainId}`;
  let cached: { at: number; fees: Promise<Fees> } | undefined;

  async function suggestion(): Promise<FeeSuggestion> {
    const shared = await options.cache?.get(cacheKey);
    if (shared) {
      const [baseFee, tip] = JSON.parse(shared) as [string, string];
      return { baseFee: BigInt(baseFee), maxPriorityFeePerGas: BigInt(tip) };
    }
    const fresh = await rpc.suggestFees();
    await options.cache?.set(cacheKey, JSON.stringify([fresh.baseFee.toString(), fresh.maxPriorityFeePerGas.toString()]), ttlMs);
    return fresh;
  }

  async function compute(): Promise<Fees> {
    const { baseFee, maxPriorityFeePerGas } = await suggestion();
    const cap = rpc.chain.maxFeePerGas;
    const tip = maxPriorityFeePerGas < cap ? maxPriorityFeePerGas : cap;
    const wanted = baseFee * 2n + tip;
    return { maxFeePerGas: wanted < cap ? wanted : cap, maxPriorityFeePerGas: tip, capped: wanted > cap };
  }

  return {
    current(): Promise<Fees> {
      if (!cached || Date.now() - cached.at > ttlMs) {
        const fees = compute();
        cached = { at: Date.now(), fees };
        fees.catch(() => {
          if (cached?.fees === fees) cached = undefined;
        });
      }
      return cached.fees;
    },
  };
}

export type FeeOracle = ReturnType<typeof createFeeOracle>;
