#!/usr/bin/env node
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { parseScopes, createApiKeyStore, SCOPES } from './auth/api-keys.js';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { openDatabase, redactUrl } from './db/connect.js';
import { migrateToLatest } from './db/migrate.js';
import { SluiceError } from './errors/base.js';
import { startDev } from './dev/dev-mode.js';

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
