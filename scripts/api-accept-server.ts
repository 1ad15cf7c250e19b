// The accept path alone, for profiling and load tests: the real API server (createApiServer) on
// SQLite or MySQL with in-process queues and no workers, so nothing but POST /v1/withdrawals and
// the trivial /healthz compete for the CPU. Nothing signs or pays: the chain is never contacted.
//
//   SLUICE_DB_URL=sqlite:/tmp/accept.db SLUICE_PORT=8090 node --import tsx scripts/api-accept-server.ts
//
// Prints one JSON line `{ url, apiKey, chainId, dbUrl }` on stdout once it listens; SIGINT/SIGTERM stop it.
// The API key, asset ETH on chain 31337 (min 0.000001, max 1e9) are created if missing.
import { createApiServer } from '../src/api/server.js';
import { createApiKeyStore, SCOPES } from '../src/auth/api-keys.js';
import { createMemoryCache } from '../src/cache/memory-cache.js';
import { loadConfig } from '../src/config/load.js';
import { openDatabase, redactUrl } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { createLogger } from '../src/observability/logger.js';
import { createMetrics } from '../src/observability/metrics.js';
import { createMemoryQueue } from '../src/queue/memory-queue.js';
import type { DeadLetterMessage, RequestMessage, SignedMessage } from '../src/queue/types.js';
import { createServices } from '../src/runtime/services.js';

const CHAIN_ID = 31337;
const API_KEY = 'sk_accept_bench_0123456789abcdef0123456789abcdef';

const config = loadConfig(process.env, { dbUrl: process.env.SLUICE_DB_URL ?? 'sqlite:./data/accept-bench.db' });
const shutdown = new AbortController();
const logger = createLogger({ level: config.logLevel, sync: config.logSync });
const common = { config, logger, metrics: createMetrics(), signal: shutdown.signal };
const db = openDatabase(config.dbUrl!, { poolSize: config.dbPoolSize });
await migrateToLatest(db);

const queues = {
  requests: createMemoryQueue<RequestMessage>('tx-requests'),
  signed: createMemoryQueue<SignedMessage>('signed-tx'),
  invalidDlq: createMemoryQueue<DeadLetterMessage>('invalid-dlq'),
  txDlq: createMemoryQueue<DeadLetterMessage>('tx-dlq'),
};
const services = createServices({ common, db, queues, chains: new Map(), keys: null, cache: createMemoryCache() });
await services.assets.upsertAsset('ETH', 18);
await services.assets.upsertNetwork({
  asset: 'ETH',
  chainId: CHAIN_ID,
  chainName: 'bench',
  kind: 'native',
  contract: null,
  decimals: 18,
  withdrawalFee: 10n ** 14n,
  minAmount: 10n ** 12n,
  maxAmount: 10n ** 27n,
  gasLimit: 21_000,
  enabled: true,
});
await createApiKeyStore(db).ensure({ name: 'accept-bench', scopes: [...SCOPES], key: API_KEY });

const app = await createApiServer(services);
await app.listen({ host: config.host, port: config.port });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : config.port;
console.log(JSON.stringify({ url: `http://${config.host}:${port}`, apiKey: API_KEY, chainId: CHAIN_ID, dbUrl: redactUrl(config.dbUrl!) }));

const stop = async () => {
  shutdown.abort();
  await app.close();
  await db.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
