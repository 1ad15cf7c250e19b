import { createMemoryCache } from '../cache/memory-cache.js';
import type { Cache } from '../cache/types.js';
import { chainPolicy, loadChainConfigs } from '../chain/chain-registry.js';
import { createChainRpc, type ChainRpc } from '../chain/rpc.js';
import type { Common } from '../common.js';
import { type Db, openDatabase } from '../db/connect.js';
import { watchMysqlServerSettings } from '../db/mysql-server-settings.js';
import { assertMigrated } from '../db/migrate.js';
import { SluiceError } from '../errors/base.js';
import { parseKeyRef } from '../keys/key-refs.js';
import { openKeyStores } from '../keys/open-key-stores.js';
import type { KeyStoreKind } from '../keys/types.js';
import { checkProductionSettings } from './role-settings.js';
import { createServices, type Services } from './services.js';

export type ProductionNeeds = {
  /** Signs: opens the key stores its wallets' key refs name (and refuses to start without a wallet). */
  keys: boolean;
  /** Redis for the shared cache; without it, an in-process cache (cron one-shots). */
  redis: boolean;
};

export type ProductionServices = { services: Services; close(): Promise<void> };

/**
 * The production composition of the outside resources: MySQL, Redis, SQS, KMS / Secrets Manager,
 * and the chains from the database. Every role gets the same services; what differs is what it
 * starts on them (runtime/roles.ts), as in `sluice dev`, which composes the embedded adapters.
 */
export async function openProductionServices(common: Common, what: string, needs: ProductionNeeds): Promise<ProductionServices> {
  const { config, logger } = common;
  checkProductionSettings(config, what, { redis: needs.redis, sqs: true });
  const closers: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch((err) => logger.warn({ err }, 'close failed'));
  };
  try {
    const db = openDatabase(config.dbUrl!, { poolSize: config.dbPoolSize, queryTimeoutMs: config.dbQueryTimeoutMs });
    closers.push(() => db.close());
    await assertMigrated(db);
    const settingsWatch = await watchMysqlServerSettings({ db, logger, gauge: common.metrics.dbServerSettingRisk, signal: common.signal });
    closers.push(() => settingsWatch.stop());

    // Redis's and SQS's clients are loaded here, not by the CLI's imports: `sluice dev` and the
    // commands that need neither would carry them (~15 MB of memory together).
    const cache: Cache = needs.redis
      ? (await import('../cache/redis-cache.js')).createRedisCache({ url: config.redisUrl!, logger, metrics: common.metrics })
      : createMemoryCache();
    closers.push(() => cache.close());

    const { openSqsQueues } = await import('../queue/sqs-topology.js');
    const queues = await openSqsQueues(config, logger);
    closers.push(() => queues.close());

    const chainConfigs = await loadChainConfigs(db, chainPolicy(config));
    const chains = new Map<number, ChainRpc>(chainConfigs.map((c) => [c.chainId, createChainRpc(c, logger, { cache })]));
    closers.push(() => chains.forEach((c) => c.close()));

    let keys = null;
    if (needs.keys) {
      const stores = await keyStoresInUse(db, chains);
      keys = await openKeyStores(config, { logger, stores });
      const opened = keys;
      closers.push(() => opened.close());
    }
    const services = createServices({ common, db, queues, chains, keys, cache });
    return { services, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The stores the enabled wallets' key refs name, so a KMS-only deployment needs no keystore
 * password. A signer with no chain or no wallet would refuse every withdrawal as unpayable; it
 * refuses to start instead (run `sluice config apply`).
 */
async function keyStoresInUse(db: Db, chains: Map<number, ChainRpc>): Promise<KeyStoreKind[]> {
  const rows = await db.kysely.selectFrom('wallets').select(['chain_id', 'key_ref']).where('enabled', '=', 1).execute();
  const usable = rows.filter((r) => chains.has(Number(r.chain_id)));
  if (chains.size === 0 || usable.length === 0) {
    throw new SluiceError('No enabled chain with an enabled hot wallet in the database: nothing could be signed.', {
      code: 'no_hot_wallet',
      metaMessages: ['Run `sluice config apply sluice.yaml` (chains and hotWallets) before starting signers.'],
    });
  }
  return [...new Set(usable.map((r) => parseKeyRef(r.key_ref).store))];
}
