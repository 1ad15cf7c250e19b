import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { createAssetRegistry } from '../assets/registry.js';
import { loadConfig } from '../config/load.js';
import { type Db, openDatabase } from '../db/connect.js';
import { migrateToLatest } from '../db/migrate.js';
import { type ChainRecord, chainPolicy, ChainRegistryError, listChains, loadChainConfigs, upsertChain } from './chain-registry.js';

const devnet: ChainRecord = {
  chainId: 31337,
  name: 'Anvil Devnet',
  rpc: [{ url: 'http://127.0.0.1:8545', weight: 1 }],
  confirmations: 2,
  maxFeePerGas: 500_000_000_000n,
  defaultPriorityFee: 1_000_000_000n,
  explorerUrl: null,
  enabled: true,
  maxPendingPerWallet: 16,
};

describe('chainPolicy', () => {
  it('builds the per-chain policy from the global settings, in milliseconds', () => {
    const config = loadConfig({ SLUICE_REBROADCAST_AFTER_SECONDS: '7', SLUICE_FEE_BUMP_AFTER_SECONDS: '60', SLUICE_RPC_TIMEOUT_MS: '2500' });
    expect(chainPolicy(config)).toEqual({
      rebroadcastAfterMs: 7_000,
      bumpAfterMs: 60_000,
      bumpPercent: 12.5,
      maxRecipientGas: 500_000,
      maxHeadLagBlocks: 5,
      rpcTimeoutMs: 2_500,
    });
  });
});

for (const kind of ['sqlite', 'mysql'] as const) {
  describe(`chain registry on ${kind}`, () => {
    let testDb: TestDatabase;
    let db: Db;
    const policy = chainPolicy(loadConfig({}));

    beforeAll(async () => {
      testDb = await createTestDatabase(kind);
      db = openDatabase(testDb.url);
      await migrateToLatest(db);
    });
    afterAll(async () => {
      await db?.close();
      await testDb?.drop();
    });

    it('stores a chain and loads it back as a ChainConfig, fees exact beyond 2^53', async () => {
      const huge = 2n ** 200n + 1n;
      await upsertChain(db, { ...devnet, maxFeePerGas: huge });
      expect(await loadChainConfigs(db, policy)).toEqual([
        { chainId: 31337, name: 'Anvil Devnet', rpc: devnet.rpc, confirmations: 2, maxFeePerGas: huge, defaultPriorityFee: 1_000_000_000n, maxPendingPerWallet: 16, policy },
      ]);
    });

    it('updates in place, keeps asset networks named like their chain, and loads only enabled chains', async () => {
      const assets = createAssetRegistry(db, { refreshMs: 0 });
      await assets.upsertAsset('ETH', 18);
      await assets.upsertNetwork({
        asset: 'ETH', chainId: 31337, chainName: 'devnet', kind: 'native', contract: null, decimals: 18,
        withdrawalFee: 0n, minAmount: 1n, maxAmount: 10n, gasLimit: 21_000, enabled: true,
      });
      const rpc = [{ url: 'http://127.0.0.1:8545', weight: 3 }, { url: 'https://backup.example.com', weight: 1, batch: 10 }];
      await upsertChain(db, { ...devnet, name: 'Local', rpc, explorerUrl: 'https://explorer.example.com' });
      await upsertChain(db, { ...devnet, chainId: 5, name: 'Old testnet', enabled: false });

      expect((await assets.find('ETH', 31337))!.chainName).toBe('Local');
      expect((await listChains(db.kysely)).map((c) => [c.chainId, c.name, c.enabled, c.explorerUrl])).toEqual([
        [5, 'Old testnet', false, null],
        [31337, 'Local', true, 'https://explorer.example.com'],
      ]);
      const loaded = await loadChainConfigs(db, policy);
      expect(loaded.map((c) => [c.chainId, c.rpc])).toEqual([[31337, rpc]]);
    });

    it('fails loudly, naming the chain, on endpoints someone broke by hand', async () => {
      await db.kysely.updateTable('chains').set({ rpc_endpoints: '[{"uri":"x"}]' }).where('chain_id', '=', 31337).execute();
      const err = await loadChainConfigs(db, policy).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ChainRegistryError);
      expect((err as Error).message).toMatch(/^Chain 31337 has unusable rpc_endpoints in the database: entry 0 has no valid url/);
      await expect(upsertChain(db, { ...devnet, rpc: [] })).rejects.toThrow('Chain 31337 needs at least one RPC endpoint.');
    });

    it('survives two processes creating the same chain at once', async () => {
      const other = openDatabase(testDb.url);
      try {
        await Promise.all([upsertChain(db, { ...devnet, chainId: 10 }), upsertChain(other, { ...devnet, chainId: 10, name: 'Optimism' })]);
        const rows = await db.kysely.selectFrom('chains').select('name').where('chain_id', '=', 10).execute();
        expect(rows).toHaveLength(1);
      } finally {
        await other.close();
      }
    });
  });
}
