import type { Db } from '../db/connect.js';
import type { WalletsTable } from '../db/schema.js';

export type Wallet = Pick<WalletsTable, 'chain_id' | 'address' | 'key_ref'>;

/**
 * Hot wallets per chain. Each wallet is a nonce lane: withdrawals are spread over a chain's
 * wallets so one stuck nonce holds up only its own lane.
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

    /** Stable choice per withdrawal, so a redelivered request lands on the same lane. */
    async pick(chainId: number, withdrawalId: string): Promise<Wallet | undefined> {
      const list = (await byChain()).get(chainId) ?? [];
      if (list.length === 0) return undefined;
      let h = 0;
      for (let i = 0; i < withdrawalId.length; i++) h = (h * 31 + withdrawalId.charCodeAt(i)) >>> 0;
      return list[h % list.length];
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
