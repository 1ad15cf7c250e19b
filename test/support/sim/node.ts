import { type Address, createPublicClient, type Hex, http, type PublicClient } from 'viem';

/**
 * Direct access to the dev node (never through the fault proxy): cheat calls for chaos and the
 * reads of the final ground-truth check.
 */
export type Node = {
  url: string;
  client: PublicClient;
  call<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  head(): Promise<bigint>;
  nonce(address: Address, tag: 'latest' | 'pending'): Promise<number>;
  /** The hot-wallet txs in the node's pool: pending and queued, by lowercase sender. */
  pool(): Promise<PoolTx[]>;
  baseFee(): Promise<bigint>;
};

export type PoolTx = { hash: Hex; from: string; nonce: number; maxFeePerGas: bigint; maxPriorityFeePerGas: bigint; queued: boolean };

type RawPoolTx = { hash: Hex; nonce: Hex; maxFeePerGas?: Hex; maxPriorityFeePerGas?: Hex; gasPrice?: Hex };

export function connectNode(url: string): Node {
  const client = createPublicClient({ transport: http(url, { timeout: 15_000, retryCount: 2, batch: { batchSize: 64 } }) });
  let id = 0;
  async function call<T>(method: string, params: unknown[] = []): Promise<T> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
      signal: AbortSignal.timeout(15_000),
    });
    const body = (await res.json()) as { result?: T; error?: { code: number; message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message} (${body.error.code})`);
    return body.result as T;
  }
  return {
    url,
    client,
    call,
    head: async () => BigInt(await call<Hex>('eth_blockNumber')),
    nonce: async (address, tag) => Number(BigInt(await call<Hex>('eth_getTransactionCount', [address, tag]))),
    async pool() {
      const content = await call<{ pending: Record<string, Record<string, RawPoolTx>>; queued: Record<string, Record<string, RawPoolTx>> }>('txpool_content');
      const out: PoolTx[] = [];
      for (const [section, queued] of [[content.pending, false], [content.queued, true]] as const) {
        for (const [from, byNonce] of Object.entries(section ?? {})) {
          for (const tx of Object.values(byNonce)) {
            out.push({
              hash: tx.hash,
              from: from.toLowerCase(),
              nonce: Number(BigInt(tx.nonce)),
              maxFeePerGas: BigInt(tx.maxFeePerGas ?? tx.gasPrice ?? '0x0'),
              maxPriorityFeePerGas: BigInt(tx.maxPriorityFeePerGas ?? tx.gasPrice ?? '0x0'),
              queued,
            });
          }
        }
      }
      return out;
    },
    async baseFee() {
      const block = await call<{ baseFeePerGas?: Hex }>('eth_getBlockByNumber', ['latest', false]);
      return BigInt(block.baseFeePerGas ?? '0x0');
    },
  };
}
