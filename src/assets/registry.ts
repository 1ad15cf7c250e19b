import type { Db } from '../db/connect.js';
import type { AssetNetworksTable } from '../db/schema.js';

export type AssetNetwork = {
  asset: string;
  ledgerDecimals: number;
  chainId: number;
  chainName: string;
  kind: 'native' | 'erc20';
  contract: `0x${string}` | null;
  decimals: number;
  /** Ledger base units. */
  withdrawalFee: bigint;
  minAmount: bigint;
  maxAmount: bigint;
  gasLimit: number;
  enabled: boolean;
};

export type AssetNetworkInput = Omit<AssetNetwork, 'ledgerDecimals'>;

/** The row stored for an asset network (amounts as decimal strings of base units). */
export function networkRow(n: Omit<AssetNetworkInput, 'contract'> & { contract: string | null }): AssetNetworksTable {
  return {
    asset: n.asset,
    chain_id: n.chainId,
    chain_name: n.chainName,
    kind: n.kind,
    contract: n.contract,
    decimals: n.decimals,
    withdrawal_fee: n.withdrawalFee.toString(),
    min_amount: n.minAmount.toString(),
    max_amount: n.maxAmount.toString(),
    gas_limit: n.gasLimit,
    enabled: n.enabled ? 1 : 0,
  };
}

/**
 * Assets and the networks they can be withdrawn on. Read on every request, changed rarely: kept in
 * memory and refreshed every few seconds so the hot path does no query.
 */
export function createAssetRegistry(db: Db, options: { refreshMs?: number } = {}) {
  const refreshMs = options.refreshMs ?? 5_000;
  let cache: { at: number; networks: AssetNetwork[] } | undefined;

  async function load(): Promise<AssetNetwork[]> {
    const rows = await db.kysely
      .selectFrom('asset_networks as n')
      .innerJoin('assets as a', 'a.symbol', 'n.asset')
      .selectAll('n')
      .select(['a.ledger_decimals', 'a.enabled as asset_enabled'])
      .orderBy('n.asset')
      .orderBy('n.chain_id')
      .execute();
    return rows.map((r) => ({
      asset: r.asset,
      ledgerDecimals: r.ledger_decimals,
      chainId: Number(r.chain_id),
      chainName: r.chain_name,
      kind: r.kind,
      contract: r.contract as `0x${string}` | null,
      decimals: r.decimals,
      withdrawalFee: BigInt(r.withdrawal_fee),
      minAmount: BigInt(r.min_amount),
      maxAmount: BigInt(r.max_amount),
      gasLimit: r.gas_limit,
      enabled: r.enabled === 1 && r.asset_enabled === 1,
    }));
  }

  let loading: Promise<AssetNetwork[]> | undefined;
  let generation = 0;

  /**
   * Past `refreshMs` one reload starts and callers keep the current list until it lands (they wait
   * only when there is none yet). Never waiting on a reload matters on SQLite: its one connection
   * may be held by the very transaction that is asking (the signer checks the asset inside its
   * transaction), and a reload queued behind that transaction would wait for it forever.
   */
  function all(): Promise<AssetNetwork[]> {
    if (cache && Date.now() - cache.at <= refreshMs) return Promise.resolve(cache.networks);
    const started = generation;
    loading ??= load()
      .then((networks) => {
        // An upsert meanwhile: this list may predate it, so it is not kept.
        if (generation === started) cache = { at: Date.now(), networks };
        return networks;
      })
      .finally(() => (loading = undefined));
    if (cache) {
      loading.catch(() => {}); // a failed reload keeps the current list; the next call tries again
      return Promise.resolve(cache.networks);
    }
    return loading;
  }

  return {
    all,
    async find(asset: string, chainId: number): Promise<AssetNetwork | undefined> {
      return (await all()).find((n) => n.asset === asset && n.chainId === chainId);
    },
    async ledgerDecimals(asset: string): Promise<number | undefined> {
      return (await all()).find((n) => n.asset === asset)?.ledgerDecimals;
    },
    /** Forget the cached list (this process sees a change at once; others within `refreshMs`). */
    invalidate(): void {
      cache = undefined;
    },
    async upsertAsset(symbol: string, ledgerDecimals: number): Promise<void> {
      await db.kysely
        .insertInto('assets')
        .values({ symbol, ledger_decimals: ledgerDecimals, enabled: 1 })
        .orIgnore()
        .execute();
      cache = undefined;
      generation += 1;
    },
    async upsertNetwork(n: AssetNetworkInput): Promise<void> {
      const values = networkRow(n);
      await db.kysely.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('asset_networks')
          .set(values)
          .where('asset', '=', n.asset)
          .where('chain_id', '=', n.chainId)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) await trx.insertInto('asset_networks').values(values).execute();
      });
      cache = undefined;
      generation += 1;
    },
  };
}

export type AssetRegistry = ReturnType<typeof createAssetRegistry>;
