// @ts-check
// Bench-only entry: the API alone (no signer, sender or tracker competing for the cores) over the
// given database, composed from the same public factories `sluice dev` and the api role use.
// Started by the harness with a JSON ApiServerSettings argument; reports its URL over IPC.
import { createSinkQueue, fromDist, tell } from './dist.mjs';

/** @type {typeof import('../../src/common.js')} */ const { createShutdownController } = await fromDist('common.js');
/** @type {typeof import('../../src/api/server.js')} */ const { createApiServer } = await fromDist('api/server.js');
/** @type {typeof import('../../src/auth/api-keys.js')} */ const { SCOPES } = await fromDist('auth/api-keys.js');
/** @type {typeof import('../../src/cache/memory-cache.js')} */ const { createMemoryCache } = await fromDist('cache/memory-cache.js');
/** @type {typeof import('../../src/runtime/heap.js')} */ const { applyHeapGrowth } = await fromDist('runtime/heap.js');
/** @type {typeof import('../../src/config/load.js')} */ const { loadConfig } = await fromDist('config/load.js');
/** @type {typeof import('../../src/db/connect.js')} */ const { openDatabase } = await fromDist('db/connect.js');
/** @type {typeof import('../../src/db/migrate.js')} */ const { migrateToLatest } = await fromDist('db/migrate.js');
/** @type {typeof import('../../src/money/decimal.js')} */ const { parseUnits } = await fromDist('money/decimal.js');
/** @type {typeof import('../../src/observability/logger.js')} */ const { createLogger } = await fromDist('observability/logger.js');
/** @type {typeof import('../../src/observability/metrics.js')} */ const { createMetrics } = await fromDist('observability/metrics.js');
/** @type {typeof import('../../src/runtime/services.js')} */ const { createServices } = await fromDist('runtime/services.js');

/** @type {import('../scenarios/start-api.js').ApiServerSettings} */
const settings = JSON.parse(process.argv[2] ?? '{}');
// Rate limiting is per key and would turn the load into 429s: the bench measures the accept path.
const config = loadConfig({}, { dbUrl: settings.dbUrl, port: 0, logLevel: settings.logLevel, rateLimitPerSecond: 0 });
applyHeapGrowth(config); // as `sluice <role>` and `sluice dev` do at start
const shutdown = createShutdownController(); // as `sluice <role>` and `sluice dev` make theirs
const common = { config, logger: createLogger({ level: config.logLevel, name: 'bench-api' }), metrics: createMetrics(), signal: shutdown.signal };
const db = openDatabase(settings.dbUrl, { poolSize: config.dbPoolSize, queryTimeoutMs: config.dbQueryTimeoutMs });
await migrateToLatest(db);
const requests = createSinkQueue('tx-requests');
const services = createServices({
  common,
  db,
  queues: { requests, signed: createSinkQueue('signed-tx'), invalidDlq: createSinkQueue('invalid-dlq'), txDlq: createSinkQueue('tx-dlq') },
  chains: new Map(),
  keys: null,
  cache: createMemoryCache(),
});

// The same assets dev mode registers: native ETH and a 6-decimal USDT token on the bench chain id.
const chainId = settings.chainId;
await services.assets.upsertAsset('ETH', 18);
await services.assets.upsertNetwork({
  asset: 'ETH', chainId, chainName: 'Bench', kind: 'native', contract: null, decimals: 18,
  withdrawalFee: parseUnits('0.0001', 18), minAmount: parseUnits('0.000001', 18), maxAmount: parseUnits('1000', 18), gasLimit: 21_000, enabled: true,
});
await services.assets.upsertAsset('USDT', 6);
await services.assets.upsertNetwork({
  asset: 'USDT', chainId, chainName: 'Bench', kind: 'erc20', contract: '0x5FbDB2315678afecb367f032d93F642f64180aa3', decimals: 6,
  withdrawalFee: parseUnits('1', 6), minAmount: parseUnits('1', 6), maxAmount: parseUnits('1000000', 6), gasLimit: 100_000, enabled: true,
});
await services.apiKeys.ensure({ name: 'bench', scopes: [...SCOPES], key: settings.apiKey });

const app = await createApiServer(services);
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : 0;
await tell({ type: 'ready', url: `http://127.0.0.1:${port}`, pid: process.pid });

process.once('SIGTERM', () => {
  shutdown.abort();
  void app
    .close()
    .then(() => db.close())
    .then(() => {
      common.logger.info({ queued: requests.sent() }, 'bench api stopped');
      process.exit(0);
    });
});
