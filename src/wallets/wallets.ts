import type { Db } from '../db/connect.js';
import type { WalletsTable } from '../db/schema.js';

export type Wallet = Pick<WalletsTable, 'chain_id' | 'address' | 'key_ref'>;

/**
 * Hot wallets per chain: the pool. Each wallet is a nonce lane; the signer sends each withdrawal
 * to the lane with the fewest txs in flight that can cover it (signer/nonce-reservations.ts), so
 * one stuck nonce holds up only its own lane. A wallet added while Sluice runs (`sluice wallet
 * create`) joins the pool on the next refresh.
 */
export function createWallets(db: Db, options: { refreshMs?: number } = {}) {
  const refreshMs = options.refreshMs ?? 10_000;
  let cache: { at: number; byChain: Map<number, Wallet[]> } | undefined;

  async function byChain(): Promise<Map<number, Wallet[]>> {
    if (cache && Date.now() - cache.at < refreshMs) return cache.byChain;
    const rows = await db.kysely
      .selectFrom('wallets')
      .select(['chain_id', 'address', 'key_ref'])
      .where('enabled', '=', 1)
      .orderBy('address')
      .execute();
    const map = new Map<number, Wallet[]>();
    for (const r of rows) {
      const chainId = Number(r.chain_id);
      map.set(chainId, [...(map.get(chainId) ?? []), { ...r, chain_id: chainId }]);
    }
    cache = { at: Date.now(), byChain: map };
    return map;
  }

  return {
    async forChain(chainId: number): Promise<Wallet[]> {
      return (await byChain()).get(chainId) ?? [];
    },

    /** Registers a wallet whose next nonce is `nextNonce` (the chain's pending count when first seen). */
    async register(input: { chainId: number; address: string; keyRef: string; nextNonce: number }): Promise<void> {
      await db.kysely
        .insertInto('wallets')
        .values({
          chain_id: input.chainId,
          address: input.address,
          key_ref: input.keyRef,
          next_nonce: input.nextNonce,
          enabled: 1,
          created_at: Date.now(),
        })
        .execute();
      cache = undefined;
    },

    async get(chainId: number, address: string) {
      return db.kysely
        .selectFrom('wallets')
        .selectAll()
        .where('chain_id', '=', chainId)
        .where('address', '=', address)
        .executeTakeFirst();
    },
  };
}

export type Wallets = ReturnType<typeof createWallets>;
