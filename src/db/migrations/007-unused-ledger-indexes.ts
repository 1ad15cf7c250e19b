import { type Kysely, sql } from 'kysely';
import type { SqlDialect } from '../connect.js';

/**
 * Drops the two ledger_entries indexes no query reads: (user_id, asset) from 001, which the
 * console's per-user ledger replaced with (user_id, id) in 006, and (journal_id), which nothing
 * looks up (a journal's entries are read back by withdrawal, ledger_entries_wd). Every hold and
 * every settlement inserts ledger entries, so each index cost a B-tree insert per entry, at a
 * random place for the per-user one: pages the commit has to write to the WAL.
 */
export function unusedLedgerIndexes(dialect: SqlDialect) {
  const drop = (db: Kysely<unknown>, name: string) => (dialect === 'mysql' ? sql`drop index ${sql.id(name)} on ledger_entries` : sql`drop index ${sql.id(name)}`).execute(db);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await drop(db, 'ledger_entries_user');
      await drop(db, 'ledger_entries_journal');
    },
  };
}
