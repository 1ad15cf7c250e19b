import fs from 'node:fs';
import path from 'node:path';
import { parseGwei } from 'viem';
import { createApiServer } from '../api/server.js';
import { SCOPES } from '../auth/api-keys.js';
import { createMemoryCache } from '../cache/memory-cache.js';
import { type AnvilHandle, startAnvil } from '../chain/anvil.js';
import { chainPolicy, loadChainConfigs, upsertChain } from '../chain/chain-registry.js';
import { createChainRpc } from '../chain/rpc.js';
import { parseRpcList } from '../chain/rpc-list.js';
import type { ChainConfig } from '../chain/types.js';
import { type Common, createShutdownController } from '../common.js';
import type { Config } from '../config/schema.js';
import { openDatabase } from '../db/connect.js';
import { watchMysqlServerSettings } from '../db/mysql-server-settings.js';
import { migrateToLatest } from '../db/migrate.js';
import { SluiceError } from '../errors/base.js';
import { createFileKeyStore } from '../keys/keystore-file.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { createPrettyDestination } from '../observability/pretty-logs.js';
import { createStateMetrics } from '../observability/state-metrics.js';
import { createMemoryQueue } from '../queue/memory-queue.js';
import { warmKeys } from '../signer/warm-keys.js';
import type { DeadLetterMessage, RequestMessage, SignedMessage } from '../queue/types.js';
import { createReconciler } from '../reconciler/reconciler.js';
import { createServices, type Services } from '../runtime/services.js';
import { startWorkers } from '../runtime/workers.js';
import { createBlockPacer } from './block-pacer.js';
import { ensureDemoAssets } from './demo-assets.js';
import { pausedScopes } from '../settings/pause.js';
import { loadDevSecrets } from './dev-credentials.js';
import { ensureChainIdentity, ensureHotWallets } from './dev-wallet.js';
import { applyHeapGrowth } from '../runtime/heap.js';

export type DevHandle = { url: string; apiKey: string; services: Services; stop(): Promise<void> };

/**
 * `sluice dev`: the whole pipeline in one process on embedded parts (SQLite, in-process queues,
 * file keystore) and a local chain. Restarting on the same data dir finishes what was in flight.
 */
export async function startDev(
  config: Config,
  out: (line: string) => void = console.log,
  options: { logDestination?: NodeJS.WritableStream } = {},
): Promise<DevHandle> {
  applyHeapGrowth(config);
  const dataDir = path.resolve(config.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  // On a terminal, one readable line per log entry, held until the banner is out; JSON otherwise
  // (SLUICE_LOG_FORMAT decides when set).
  const logOut = options.logDestination ?? process.stdout;
  const pretty = (config.logFormat ?? (!options.logDestination && process.stdout.isTTY ? 'pretty' : 'json')) === 'pretty';
  const prettyLogs = pretty ? createPrettyDestination(logOut, { color: !options.logDestination && process.stdout.isTTY === true }) : undefined;
  const logger = createLogger({ level: config.logLevel, sync: config.logSync, ...(prettyLogs ? { destination: prettyLogs.stream } : options.logDestination ? { destination: options.logDestination } : {}) });
  const shutdown = createShutdownController();
  const common: Common = { config, logger, metrics: createMetrics(), signal: shutdown.signal };
  const secrets = loadDevSecrets(dataDir, {
    apiKey: config.devApiKey,
    adminPassword: config.devAdminPassword,
    keystorePassword: config.keystorePassword,
  });

  const db = openDatabase(config.dbUrl ?? `sqlite:${path.join(dataDir, 'sluice.db')}`, { queryTimeoutMs: config.dbQueryTimeoutMs });
  const applied = await migrateToLatest(db);
  if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  await watchMysqlServerSettings({ db, logger, gauge: common.metrics.dbServerSettingRisk, signal: common.signal });

  let anvil: AnvilHandle | undefined;
  let rpcList = config.devnetRpcUrl;
  if (!rpcList) {
    out('Starting anvil (local chain)…');
    anvil = await startAnvil({
      blockTime: config.anvilBlockTime,
      stateFile: path.join(dataDir, 'anvil', 'state.json'),
      pidFile: path.join(dataDir, 'anvil', 'anvil.pid.json'),
      silent: true,
    });
    rpcList = anvil.rpcUrl;
  }
  // Cheat calls (funding, deploying the demo token) go to the first endpoint.
  const rpcUrl = parseRpcList(rpcList)[0]!.url;

  try {
    const probe = createChainRpc(chainConfig(config, 0, rpcList), logger);
    const chainId = await probe.chainId().catch((cause) => {
      throw new SluiceError(`Cannot reach the dev chain at ${rpcUrl}.`, { cause, code: 'devnet_unreachable', metaMessages: ['Is SLUICE_DEVNET_RPC_URL pointing at a running anvil or hardhat node?'] });
    });
    const chainName = anvil || (await isAnvil(probe)) ? 'Anvil Devnet' : 'Dev Node';
    probe.close();
    // The dev chain goes through the chains table like any deployment's (`sluice config apply`),
    // and is read back the way production roles read theirs.
    const devChain = chainConfig(config, chainId, rpcList);
    await upsertChain(db, { chainId, name: chainName, rpc: devChain.rpc, confirmations: devChain.confirmations, maxFeePerGas: devChain.maxFeePerGas, defaultPriorityFee: devChain.defaultPriorityFee, maxPendingPerWallet: devChain.maxPendingPerWallet, explorerUrl: null, enabled: true });
    const stored = (await loadChainConfigs(db, chainPolicy(config))).find((c) => c.chainId === chainId)!;
    const chain = createChainRpc(stored, logger);
    await ensureChainIdentity(db, chain, dataDir);

    const keys = createFileKeyStore({ dir: path.join(dataDir, 'keystore'), password: secrets.keystorePassword });
    const duplicates = { duplicateRate: config.testDuplicateDeliveryRate };
    const queues = {
      requests: createMemoryQueue<RequestMessage>('tx-requests', duplicates),
      signed: createMemoryQueue<SignedMessage>('signed-tx', duplicates),
      invalidDlq: createMemoryQueue<DeadLetterMessage>('invalid-dlq'),
      txDlq: createMemoryQueue<DeadLetterMessage>('tx-dlq'),
    };
    const services = createServices({ common, db, queues, chains: new Map([[chainId, chain]]), keys, cache: createMemoryCache() });

    const hotWallets = await ensureHotWallets({ services, chain, keys, count: config.devHotWallets });
    const { token } = await ensureDemoAssets({
      rpc: chain,
      rpcUrl,
      chainName,
      assets: services.assets,
      hotWallets,
      dataDir,
      keystorePassword: secrets.keystorePassword,
      logger,
    });
    await services.apiKeys.ensure({ name: 'dev', scopes: [...SCOPES], key: secrets.apiKey });
    await services.adminUsers.ensure({ username: 'admin', role: 'admin', password: secrets.adminPassword });

    // In-process queues died with the last process: pick up everything still in flight now.
    const reconciler = createReconciler({ common, db, requests: queues.requests, signed: queues.signed, pauses: services.pauses });
    const resumed = await reconciler.tick(0);
    if (resumed.requeued > 0) out(`Resuming ${resumed.requeued} in-flight withdrawal(s) from ${dataDir}.`);

    // Before the API opens, so the first withdrawals do not wait behind one scrypt run per wallet.
    await warmKeys({ wallets: services.wallets, keys, chainIds: [chainId], logger });

    const stateMetrics = createStateMetrics({ db, metrics: common.metrics, logger, chains: services.chains, assets: services.assets, paused: () => pausedScopes(services.pauses) });
    const app = await createApiServer(services, { stateMetrics });
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
    const workers = startWorkers(services, ['signer', 'sender', 'tracker', 'reconciler', 'error-handler']);
    const pacing = createBlockPacer({ common, db, chain, intervalMs: config.anvilBlockTime * 1000 }).run();

    printBanner(out, { url, rpcUrl: rpcList, chainId, startedAnvil: !!anvil, hotWallets, token, secrets, dataDir });
    prettyLogs?.release();

    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        shutdown.abort();
        await app.close();
        await Promise.all([workers.done, pacing]);
        await db.close();
        await anvil?.stop();
      })());
    return { url, apiKey: secrets.apiKey, services, stop };
  } catch (err) {
    prettyLogs?.release();
    shutdown.abort();
    await db.close();
    await anvil?.stop();
    throw err;
  }
}

function chainConfig(config: Config, chainId: number, rpcUrls: string): ChainConfig {
  return {
    chainId,
    name: 'devnet',
    rpc: parseRpcList(rpcUrls),
    confirmations: config.devnetConfirmations,
    maxFeePerGas: parseGwei(config.maxFeePerGasGwei),
    defaultPriorityFee: parseGwei(config.priorityFeeGwei),
    maxPendingPerWallet: config.devnetMaxPendingPerWallet,
    policy: chainPolicy(config),
  };
}

async function isAnvil(chain: ReturnType<typeof createChainRpc>): Promise<boolean> {
  const version = await chain.read((c) => c.request({ method: 'web3_clientVersion' })).catch(() => '');
  return String(version).toLowerCase().startsWith('anvil');
}

function printBanner(
  out: (line: string) => void,
  info: { url: string; rpcUrl: string; chainId: number; startedAnvil: boolean; hotWallets: string[]; token: string; secrets: { apiKey: string; adminPassword: string }; dataDir: string },
) {
  const { url, secrets } = info;
  out(
    [
      '',
      'Sluice dev is running',
      `  API          ${url}/v1`,
      `  API docs     ${url}/docs`,
      `  Metrics      ${url}/metrics`,
      `  Console      ${url}/admin`,
      `  Chain        ${info.rpcUrl} (chain ${info.chainId}${info.startedAnvil ? ', anvil started by Sluice' : ''})`,
      `  Hot wallets  ${info.hotWallets.join(', ')}`,
      `  USDT token   ${info.token}`,
      `  Data dir     ${info.dataDir}`,
      `  API key      ${secrets.apiKey}   (all scopes)`,
      `  Admin login  admin / ${secrets.adminPassword}`,
      '',
      'Try it:',
      `  export SLUICE_URL=${url} SLUICE_KEY=${secrets.apiKey}`,
      `  curl -s -X POST $SLUICE_URL/v1/ledger/credits -H "Authorization: Bearer $SLUICE_KEY" -H 'Content-Type: application/json' \\`,
      `    -d '{"userId":"alice","asset":"ETH","amount":"5","reference":"deposit-1"}'`,
      `  curl -s -X POST $SLUICE_URL/v1/withdrawals -H "Authorization: Bearer $SLUICE_KEY" -H 'Content-Type: application/json' \\`,
      `    -H 'Idempotency-Key: alice-wd-1' -d '{"userId":"alice","asset":"ETH","chainId":${info.chainId},"toAddress":"0x000000000000000000000000000000000000dEaD","amount":"1.5"}'`,
      `  curl -s $SLUICE_URL/v1/withdrawals?userId=alice -H "Authorization: Bearer $SLUICE_KEY"`,
      '',
    ].join('\n'),
  );
}
