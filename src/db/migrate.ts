import { type Migration, type MigrationProvider, Migrator } from 'kysely';
import type { Db } from './connect.js';
import { initialSchema } from './migrations/001-initial.js';
import { chainRobustness } from './migrations/002-chain-robustness.js';
import { production } from './migrations/003-production.js';

function provider(db: Db): MigrationProvider {
  return {
    async getMigrations(): Promise<Record<string, Migration>> {
      return {
        '001-initial': initialSchema(db.dialect),
        '002-chain-robustness': chainRobustness(db.dialect),
        '003-production': production(db.dialect),
      };
    },
  };
}

/** Applies pending migrations; returns the names applied. Throws with the failing migration named. */
export async function migrateToLatest(db: Db): Promise<string[]> {
  const migrator = new Migrator({ db: db.kysely, provider: provider(db) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`Migration ${failed} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
