#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { parseScopes, createApiKeyStore, SCOPES } from './auth/api-keys.js';
import { AdminActionError } from './admin/errors.js';
import { ADMIN_ROLES, isAdminRole } from './admin/roles.js';
import { createAdminUsers } from './admin/users.js';
import { createAuditLog } from './audit/audit-log.js';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { openDatabase, redactUrl } from './db/connect.js';
import { assessMysqlServerSettings, readMysqlServerSettings } from './db/mysql-server-settings.js';
import { awsClientConfig } from './aws/clients.js';
import { assertMigrated, migrateToLatest } from './db/migrate.js';
import { applyDeploymentConfig, formatChanges } from './deployment-config/index.js';
import { openKeyStores } from './keys/open-key-stores.js';
import type { KeyStoreKind } from './keys/types.js';
import { createLogger } from './observability/logger.js';
import { DEFAULT_MAX_RECEIVE_COUNT } from './queue/sqs-redrive.js';
import { CRON_JOBS, type CronJob, ROLES, type RoleName, runCronJob, startRole } from './runtime/run-role.js';
import { SluiceError } from './errors/base.js';
import { parseRpcList } from './chain/rpc-list.js';
import { formatNonceReport, rpcNonceSource, walletNonceReport } from './wallets/nonce-report.js';

// The AWS SDK warns at every start that its releases after January 2027 need Node 22. The
// pinned SDK runs on Node 20 (DESIGN §6); the notice is for whoever upgrades, not for operators.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (!warning.message.startsWith('NodeVersionSupportWarning')) console.error(`(node) ${warning.name}: ${warning.message}`);
});

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
    // Imported here, not above: the dev composition (the API, the anvil launcher) is no part of a
    // production role's process.
    const { startDev } = await import('./dev/dev-mode.js');
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
      if (db.dialect === 'mysql') {
        const findings = await readMysqlServerSettings(db).then(assessMysqlServerSettings, (err: Error) => {
          console.error(`Warning: could not read the MySQL server's settings (${err.message}); its durability was not checked.`);
          return [];
        });
        for (const f of findings) {
          console.error(`${f.risk === 'durability' ? 'DANGER' : 'Warning'}: MySQL server setting ${f.setting} = ${f.value} (recommended ${f.recommended}): ${f.why}.`);
        }
      }
    } finally {
      await db.close();
    }
  });

/** Runs a long-lived role until SIGTERM/SIGINT; exits 0 after a clean drain, 1 if draining overran. */
async function serveRole(role: RoleName): Promise<void> {
  const config = loadConfig();
  const running = await startRole(role, config);
  console.error(`sluice ${role} listening on ${running.url}`);
  const onSignal = (signal: string) => {
    // A drain that overruns the deadline must not keep a pod in Terminating forever.
    setTimeout(() => {
      console.error(`sluice ${role}: shutdown took longer than ${config.shutdownTimeoutMs + 4_000} ms; exiting`);
      process.exit(1);
    }, config.shutdownTimeoutMs + 4_000).unref();
    void running.stop(signal).then(() => process.exit(0));
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
}

const roleHelp: Record<RoleName, string> = {
  api: 'TX Request API + TX Status API on SLUICE_PORT (MySQL, Redis, SQS).',
  signer: 'Validation & Signing: consumes the TX Request Queue, holds balances, reserves nonces, signs with KMS / Secrets Manager keys.',
  sender: 'Transaction Sender: consumes the Signed TX Queue (FIFO per wallet) and broadcasts over the chains\' RPC endpoints.',
  tracker: 'Transaction Tracker: receipts, confirmations, reorgs, rebroadcasts and fee bumps; also runs the reconciler and the DLQ handler loops.',
};
for (const role of ROLES) {
  program
    .command(role)
    .description(`${roleHelp[role]} Configured by environment only; many replicas may run. Workers serve /healthz, /readyz and /metrics on SLUICE_HEALTH_PORT.`)
    .action(() => serveRole(role));
}

program
  .command('cron')
  .description('Run one pass of a periodic job and exit (for a Kubernetes CronJob); the tracker role runs the same code in a loop.')
  .argument('<job>', CRON_JOBS.join(' | '))
  .action(async (job: string) => {
    if (!CRON_JOBS.includes(job as CronJob)) throw new SluiceError(`Unknown cron job "${job}"; one of: ${CRON_JOBS.join(', ')}.`, { code: 'bad_arguments' });
    const result = await runCronJob(job as CronJob, loadConfig());
    console.log(JSON.stringify({ job, ...result }));
  });

program
  .command('queues')
  .description('SQS queues.')
  .command('create')
  .description('Create (or update) the SQS queues named by SLUICE_QUEUE_PREFIX with their DLQs and redrive policies; idempotent. For local/moto use: production infrastructure code creates them too.')
  .option('--max-receive-count <n>', 'deliveries before SQS moves a message to its DLQ (backstop; must exceed SLUICE_SIGNER_MAX_ATTEMPTS and SLUICE_SENDER_MAX_ATTEMPTS)', String(DEFAULT_MAX_RECEIVE_COUNT))
  .action(async (options: { maxReceiveCount: string }) => {
    const config = loadConfig();
    const maxReceiveCount = Number(options.maxReceiveCount);
    const floor = Math.max(config.signerMaxAttempts, config.senderMaxAttempts);
    if (!Number.isInteger(maxReceiveCount) || maxReceiveCount <= floor) {
      throw new SluiceError(`--max-receive-count must be an integer above ${floor} (SLUICE_SIGNER_MAX_ATTEMPTS / SLUICE_SENDER_MAX_ATTEMPTS): the app dead-letters with a reason first; SQS redrive is the backstop.`, { code: 'bad_arguments' });
    }
    const [{ SQSClient }, { createQueues }] = await Promise.all([import('@aws-sdk/client-sqs'), import('./queue/sqs-topology.js')]);
    const client = new SQSClient(awsClientConfig(config, 'sqs'));
    try {
      const { urls, created, existing } = await createQueues(client, { prefix: config.queuePrefix, maxReceiveCount, visibilitySeconds: config.queueVisibilitySeconds }, (line) => console.error(line));
      console.error(`${created.length} created, ${existing.length} already present.`);
      console.log(JSON.stringify(urls, null, 2));
    } finally {
      client.destroy();
    }
  });

program
  .command('config')
  .description('Deployment configuration (chains, assets, hot wallets).')
  .command('apply')
  .description('Upsert chains, assets with their networks, and hot wallets from a YAML file into SLUICE_DB_URL; prints what changed; idempotent; deletes nothing (see docs/config-file.md).')
  .argument('<file>', 'sluice.yaml')
  .option('--dry-run', 'show the changes without writing them')
  .option('--force', 'allow changes that are refused by default (a wallet\'s key ref, disabling a chain with withdrawals in flight)')
  .action(async (file: string, options: { dryRun?: boolean; force?: boolean }) => {
    const config = loadConfig();
    const url = databaseUrl(config);
    const db = openDatabase(url);
    try {
      await assertMigrated(db);
      const { changes, dryRun } = await applyDeploymentConfig({ db, file, dryRun: !!options.dryRun, force: !!options.force, actor: 'cli' });
      console.log(formatChanges(changes, { dryRun }));
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

const admin = program.command('admin').description('Operator console users.');
admin
  .command('create-user')
  .description(`Create a console user. Roles: ${ADMIN_ROLES.join(', ')}. The password is read from stdin with --password-stdin, else generated and printed once.`)
  .requiredOption('--username <name>', 'login name')
  .requiredOption('--role <role>', ADMIN_ROLES.join(' | '))
  .option('--password-stdin', 'read the password from stdin (first line)')
  .action(async (options: { username: string; role: string; passwordStdin?: boolean }) => {
    if (!isAdminRole(options.role)) throw new SluiceError(`Unknown role "${options.role}". Known: ${ADMIN_ROLES.join(', ')}`, { code: 'invalid_role' });
    const password = options.passwordStdin ? fs.readFileSync(0, 'utf8').split(/\r?\n/)[0] : undefined;
    const config = loadConfig();
    const db = openDatabase(databaseUrl(config));
    try {
      await migrateToLatest(db);
      const users = createAdminUsers({ db, auditLog: createAuditLog(db) });
      const created = await users.create({ username: options.username, role: options.role, password }, 'cli:admin create-user').catch((err) => {
        if (err instanceof AdminActionError) throw new SluiceError(err.shortMessage, { code: err.code });
        throw err;
      });
      console.log(JSON.stringify({ username: created.user.username, role: created.user.role, ...(created.password ? { password: created.password } : {}) }, null, 2));
      if (created.password) console.error('Store this password now: it cannot be shown again.');
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
  .command('create')
  .description('Provision a new hot wallet key and print only its address and key ref (add them to sluice.yaml hotWallets, then `sluice config apply`). A KMS key never leaves KMS; a Secrets Manager secret holds the key encrypted with SLUICE_KEYSTORE_PASSWORD.')
  .requiredOption('--chain <id>', 'chain id the wallet is for (used in the key label)')
  .requiredOption('--store <store>', 'kms | secrets-manager | keystore')
  .option('--label <label>', 'name for the key (default: hot-<chain>-<time>)')
  .action(async (options: { chain: string; store: string; label?: string }) => {
    const stores: KeyStoreKind[] = ['kms', 'secrets-manager', 'keystore'];
    if (!stores.includes(options.store as KeyStoreKind)) throw new SluiceError(`--store must be one of ${stores.join(', ')}.`, { code: 'bad_arguments' });
    const chainId = Number(options.chain);
    if (!Number.isInteger(chainId) || chainId <= 0) throw new SluiceError('--chain must be a positive integer chain id.', { code: 'bad_arguments' });
    const config = loadConfig();
    const keys = await openKeyStores(config, { logger: createLogger({ level: 'warn' }), stores: [options.store as KeyStoreKind] });
    try {
      const label = options.label ?? `hot-${chainId}-${Date.now().toString(36)}`;
      const { keyRef, address } = await keys.createKey(label, options.store as KeyStoreKind);
      console.log(JSON.stringify({ chainId, address, keyRef }, null, 2));
    } finally {
      keys.close();
    }
  });

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
