import { type Address, createPublicClient, type Hash, type Hex, http, numberToHex, type PublicClient } from 'viem';

/**
 * Makes a real anvil misbehave the way real chains do, for tests: pause block production, drop a
 * pending tx, replace recent blocks (reorg), spike the base fee, use a hot wallet's nonce from
 * outside, give an address code or a balance.
 */
export function chainControl(rpcUrl: string) {
  const client: PublicClient = createPublicClient({ transport: http(rpcUrl), cacheTime: 0 });
  const call = <T = unknown>(method: string, params: unknown[] = []) => client.request({ method, params } as never) as Promise<T>;

  return {
    client,
    call,
    pauseMining: () => call('evm_setIntervalMining', [0]),
    /** Whole seconds per block. */
    resumeMining: (seconds = 1) => call('evm_setIntervalMining', [seconds]),
    mine: (blocks = 1) => call('anvil_mine', [numberToHex(blocks)]),
    dropTransaction: (hash: Hash) => call('anvil_dropTransaction', [hash]),
    /**
     * Replaces the last `depth` blocks with new ones: their txs leave the chain and every pool,
     * except the raw txs given, which are put back `blockOffset` blocks into the new branch.
     */
    reorg: (depth: number, reinclude: Array<{ raw: Hex; blockOffset: number }> = []) =>
      call('anvil_reorg', [depth, reinclude.map((t) => [t.raw, t.blockOffset])]),
    setNextBaseFee: (wei: bigint) => call('anvil_setNextBlockBaseFeePerGas', [numberToHex(wei)]),
    setBalance: (address: Address, wei: bigint) => call('anvil_setBalance', [address, numberToHex(wei)]),
    setCode: (address: Address, code: Hex) => call('anvil_setCode', [address, code]),
    setStorageAt: (address: Address, slot: Hex, value: Hex) => call('anvil_setStorageAt', [address, slot, value]),
    /** Sends a tx from `from` without its key (anvil impersonation): a nonce used outside Sluice. */
    async sendAs(from: Address, tx: { to: Address; value?: bigint; nonce?: number; maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint }): Promise<Hash> {
      await call('anvil_impersonateAccount', [from]);
      try {
        return await call<Hash>('eth_sendTransaction', [
          {
            from,
            to: tx.to,
            value: numberToHex(tx.value ?? 0n),
            ...(tx.nonce !== undefined ? { nonce: numberToHex(tx.nonce) } : {}),
            ...(tx.maxFeePerGas !== undefined ? { maxFeePerGas: numberToHex(tx.maxFeePerGas) } : {}),
            ...(tx.maxPriorityFeePerGas !== undefined ? { maxPriorityFeePerGas: numberToHex(tx.maxPriorityFeePerGas) } : {}),
          },
        ]);
      } finally {
        await call('anvil_stopImpersonatingAccount', [from]);
      }
    },
    /** Holds the next blocks' base fee at `wei` until the returned stop() is called. */
    holdBaseFee(wei: bigint, everyMs = 50): { stop(): Promise<void> } {
      let running = true;
      const loop = (async () => {
        while (running) {
          await call('anvil_setNextBlockBaseFeePerGas', [numberToHex(wei)]).catch(() => {});
          await new Promise((r) => setTimeout(r, everyMs));
        }
      })();
      return {
        async stop() {
          running = false;
          await loop;
        },
      };
    },
  };
}

export type ChainControl = ReturnType<typeof chainControl>;
