#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { parseScopes, createApiKeyStore, SCOPES } from './auth/api-keys.js';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { openDatabase, redactUrl } from './db/connect.js';
import { migrateToLatest } from './db/migrate.js';
import { SluiceError } from './errors/base.js';
import { parseRpcList, startDev } from './dev/dev-mode.js';
import { formatNonceReport, rpcNonceSource, walletNonceReport } from './wallets/nonce-report.js';

function databaseUrl(config: Config): string {
  return config.dbUrl ?? `sqlite:${path.join(path.resolve(config.dataDir), 'sluice.db')}`;
}

const program = new Command()
  .name('sluice')
  .description('Sluice: blockchain withdrawal engine for custodial platforms.\nConfiguration comes from SLUICE_* environment variables (see README).')
  .showHelpAfterError()
  .exitOverride();

program
  .command('dev')
  .description('Run everything in one process on embedded defaults: SQLite, in-process queues, file keystore, and a local anvil chain (or SLUICE_DEVNET_RPC_URL).')
  .action(async () => {
    const handle = await startDev(loadConfig());
    const stop = async (signal: string) => {
      console.log(`\n${signal} received; finishing in-flight work and stopping…`);
      await handle.stop();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });

program
  .command('migrate')
  .description('Apply pending database migrations to SLUICE_DB_URL (default: the dev SQLite file).')
  .action(async () => {
    const config = loadConfig();
    const url = databaseUrl(config);
    const db = openDatabase(url);
    try {
      const applied = await migrateToLatest(db);
      console.log(applied.length ? `Applied ${applied.join(', ')} to ${redactUrl(url)}` : `${redactUrl(url)} is up to date.`);
    } finally {
      await db.close();
    }
  });

const apiKey = program.command('api-key').description('Manage API keys.');
apiKey
  .command('create')
  .description(`Create an API key; the key is printed once and only its hash is stored. Scopes: ${SCOPES.join(', ')}`)
  .requiredOption('--name <name>', 'who or what uses this key')
  .requiredOption('--scopes <list>', 'comma-separated scopes')
  .action(async (options: { name: string; scopes: string }) => {
    const scopes = parseScopes(options.scopes);
    const config = loadConfig();
    const db = openDatabase(databaseUrl(config));
    try {
      await migrateToLatest(db);
      const { id, key } = await createApiKeyStore(db).create({ name: options.name, scopes });
      console.log(JSON.stringify({ id, name: options.name, scopes, key }, null, 2));
      console.error('Store this key now: it cannot be shown again.');
    } finally {
      await db.close();
    }
  });

/** --rpc-url, else SLUICE_DEVNET_RPC_URL, else the anvil `sluice dev` started (its pid file). */
function rpcEndpoints(flag: string | undefined, config: Config): { urls: string[]; from: string } {
  if (flag) return { urls: parseRpcList(flag).map((e) => e.url), from: '--rpc-url' };
  if (config.devnetRpcUrl) return { urls: parseRpcList(config.devnetRpcUrl).map((e) => e.url), from: 'SLUICE_DEVNET_RPC_URL' };
  const pidFile = path.join(path.resolve(config.dataDir), 'anvil', 'anvil.pid.json');
  let rpcUrl: unknown;
  try {
    rpcUrl = (JSON.parse(fs.readFileSync(pidFile, 'utf8')) as { rpcUrl?: unknown }).rpcUrl;
  } catch {
    /* no dev anvil recorded */
  }
  if (typeof rpcUrl === 'string') return { urls: [rpcUrl], from: pidFile };
  throw new SluiceError('No RPC endpoint: pass --rpc-url URL, set SLUICE_DEVNET_RPC_URL, or start `sluice dev` (no anvil pid file at ' + pidFile + ').', { code: 'no_endpoint' });
}

const wallet = program.command('wallet').description('Hot wallets.');
wallet
  .command('nonces')
  .description(
    'Per hot wallet: Sluice\'s next nonce against the chain\'s latest and pending nonce, withdrawals in flight, and a verdict: ' +
      'in_step, in_flight (Sluice\'s own txs pending), gap (nonces given out that no tx uses), chain_ahead (wallet used outside Sluice). ' +
      'Reads wallets from SLUICE_DB_URL (default: the dev SQLite file).',
  )
  .option('--rpc-url <url>', 'JSON-RPC endpoint of the wallets\' chain (default: SLUICE_DEVNET_RPC_URL, else the anvil `sluice dev` started)')
  .option('--json', 'print JSON instead of a table')
  .action(async (options: { rpcUrl?: string; json?: boolean }) => {
    const config = loadConfig();
    const { urls, from } = rpcEndpoints(options.rpcUrl, config);
    let source: ReturnType<typeof rpcNonceSource> | undefined;
    let chainId = 0;
    const failures: string[] = [];
    for (const url of urls) {
      const candidate = rpcNonceSource(url);
      try {
        chainId = await candidate.chainId();
        source = candidate;
        break;
      } catch (err) {
        const details = (err as { details?: unknown }).details;
        failures.push(`${url}: ${(err as Error).message.split('\n')[0]}${typeof details === 'string' && details ? ` (${details})` : ''}`);
      }
    }
    if (!source) throw new SluiceError(`No reachable RPC endpoint (from ${from}).`, { code: 'no_endpoint', metaMessages: failures });
    const url = databaseUrl(config);
    if (url.startsWith('sqlite:') && !fs.existsSync(url.slice('sqlite:'.length))) {
      throw new SluiceError(`No database at ${url}; set SLUICE_DB_URL or SLUICE_DATA_DIR.`, { code: 'no_database' });
    }
    const db = openDatabase(url);
    try {
      const rows = await walletNonceReport({ db, chains: new Map([[chainId, source]]) }).catch((cause) => {
        throw new SluiceError(`Cannot read hot wallets from ${redactUrl(url)}; is it migrated (sluice migrate)?`, { cause, code: 'db_unreadable' });
      });
      console.log(options.json ? JSON.stringify(rows, null, 2) : formatNonceReport(rows));
    } finally {
      await db.close();
    }
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof SluiceError) {
    console.error(`error: ${err.message}`);
  } else {
    // Unexpected: the stack is what a bug report needs.
    console.error(err instanceof Error ? (err.stack ?? err.message) : `error: ${String(err)}`);
  }
  process.exit(1);
}
