import { type Migration, type MigrationProvider, Migrator } from 'kysely';
import { SluiceError } from '../errors/base.js';
import type { Db } from './connect.js';
import { assertSupportedServer } from './mysql-server-settings.js';
import { initialSchema } from './migrations/001-initial.js';
import { chainRobustness } from './migrations/002-chain-robustness.js';
import { production } from './migrations/003-production.js';
import { idempotencyPerApiKey } from './migrations/004-idempotency-per-api-key.js';
import { walletPool } from './migrations/005-wallet-pool.js';
import { consoleSchema } from './migrations/006-console.js';
import { unusedLedgerIndexes } from './migrations/007-unused-ledger-indexes.js';

function provider(db: Db): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return {
        '001-initial': initialSchema(db.dialect),
        '002-chain-robustness': chainRobustness(db.dialect),
        '003-production': production(db.dialect),
        '004-idempotency-per-api-key': idempotencyPerApiKey(db.dialect),
        '005-wallet-pool': walletPool(),
        '006-console': consoleSchema(db.dialect),
        '007-unused-ledger-indexes': unusedLedgerIndexes(db.dialect),
      };
    },
  };
}

/**
 * Applies pending migrations; returns the names applied. Throws with the failing migration named.
 *
 * Safe to run from several processes at once (replicas' init containers, a Job): on MySQL, Kysely's
 * migrator takes GET_LOCK on the one connection that then reads the applied list and runs every
 * migration, so a second process waits and finds them applied; the server frees the lock if the
 * holder dies. The lock name is server-wide, so migrations of other databases on the same server
 * queue behind it too (harmless). SQLite is one process per file. test/db/migrate-concurrency.itest.ts
 * proves it with two real `sluice migrate` processes. A MySQL server too old for Sluice's
 * statements is refused before anything is applied.
 */
export async function migrateToLatest(db: Db): Promise<string[]> {
  await assertSupportedServer(db);
  const migrator = new Migrator({ db: db.kysely, provider: provider(db) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`Migration ${failed} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Production roles never migrate by themselves (a rolling deploy would race old code against a
 * new schema); they refuse to start on a database that `sluice migrate` has not brought up to date.
 */
export async function assertMigrated(db: Db): Promise<void> {
  const migrator = new Migrator({ db: db.kysely, provider: provider(db) });
  let pending: string[];
  try {
    pending = (await migrator.getMigrations()).filter((m) => !m.executedAt).map((m) => m.name);
  } catch (cause) {
    throw new SluiceError('Cannot read the migration state of the database.', { cause, code: 'db_unreadable' });
  }
  if (pending.length > 0) {
    throw new SluiceError(`The database is not migrated (pending: ${pending.join(', ')}). Run \`sluice migrate\` first.`, { code: 'db_not_migrated' });
  }
}
