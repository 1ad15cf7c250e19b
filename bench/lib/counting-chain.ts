import type { ChainRpc } from '../../src/chain/rpc.js';

/**
 * The chain client with every method call counted: what the tracker's cost per tick is judged by
 * (bench history, test/chain/tracker-cost.itest.ts). Calls go through to `chain` unchanged.
 */
export function countingChain(chain: ChainRpc): { chain: ChainRpc; calls: () => number; reset(): void } {
  let calls = 0;
  const counted = new Proxy(chain, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls += 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { chain: counted, calls: () => calls, reset: () => (calls = 0) };
}
