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

  type Entry = { at: number; fees: Promise<Fees> };
  let cached: Entry | undefined;
  let refreshing = false;

  function fetchFees(): Entry {
    const entry = { at: Date.now(), fees: compute() };
    entry.fees.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return entry;
  }

  return {
    /**
     * Never older than the ttl. Past REFRESH_AHEAD of it, callers still get the cached fees while
     * one request for new ones goes out behind them: under steady load the cache is renewed before
     * it expires, so no signing batch waits a node round trip for fees.
     */
    current(): Promise<Fees> {
      const now = Date.now();
      if (!cached || now - cached.at > ttlMs) {
        cached = fetchFees();
        return cached.fees;
      }
      if (!refreshing && now - cached.at > ttlMs * REFRESH_AHEAD) {
        refreshing = true;
        const next = fetchFees();
        next.fees
          .then(
            () => {
              if (!cached || cached.at < next.at) cached = next;
            },
            () => {}, // the cached fees serve until the ttl; then a caller asks and sees the error
          )
          .finally(() => (refreshing = false));
      }
      return cached.fees;
    },
  };
}

/** Share of the ttl after which fees are renewed behind the callers. */
const REFRESH_AHEAD = 0.75;

export type FeeOracle = ReturnType<typeof createFeeOracle>;

export type FeePair = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };

/** `value` raised by `percent` (fractions allowed, e.g. 12.5), rounded up, and always by at least 1 wei. */
export function raiseBy(value: bigint, percent: number): bigint {
  const bps = BigInt(Math.round(percent * 100));
  const raised = (value * (10_000n + bps) + 9_999n) / 10_000n;
  return raised > value ? raised : value + 1n;
}

/**
 * Fees for a replacement at the same nonce: both fields raised by at least the node's replacement
 * rule over the attempt being replaced, and at least what the network asks now. Never above the
 * cap: when the cap leaves no room for a valid replacement, returns null (keep rebroadcasting,
 * alert).
 */
export function replacementFees(previous: FeePair, network: FeePair, cap: bigint, percent: number): FeePair | null {
  const minFee = raiseBy(previous.maxFeePerGas, percent);
  const minTip = raiseBy(previous.maxPriorityFeePerGas, percent);
  let tip = network.maxPriorityFeePerGas > minTip ? network.maxPriorityFeePerGas : minTip;
  let fee = network.maxFeePerGas > minFee ? network.maxFeePerGas : minFee;
  if (fee < tip) fee = tip;
  if (fee > cap) fee = cap;
  if (tip > fee) tip = fee;
  if (fee < minFee || tip < minTip) return null;
  return { maxFeePerGas: fee, maxPriorityFeePerGas: tip };
}
