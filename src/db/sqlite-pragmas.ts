import type SqliteDatabase from 'better-sqlite3';

/** Settings every Sluice connection to a SQLite file uses (the main one and the write worker's). */
export function configureSqlite(sqlite: SqliteDatabase.Database): void {
  // WAL keeps readers off the writer's back; synchronous=FULL so a committed 202 survives power loss too.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  // Two connections write (main and write worker): a writer waits for the other's commit.
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
}
