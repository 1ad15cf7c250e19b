import type SqliteDatabase from 'better-sqlite3';

/** Settings every Sluice connection to a SQLite file uses (the main one and the write worker's). */
export function configureSqlite(sqlite: SqliteDatabase.Database): void {
  // WAL keeps readers off the writer's back; synchronous=FULL so a committed 202 survives power loss too.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  // Two connections write (main and write worker): a writer waits for the other's commit.
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  // Checkpoint every 10,000 WAL pages (~40 MB), not SQLite's 1,000: a checkpoint copies each page
  // once however often it changed since the last one, and the hot leaf pages of withdrawals'
  // indexes change in nearly every commit, so checkpoints were a quarter of the commit time at
  // 10,000 accepts/s (bench api-sqlite: commit 3.3 -> 2.4 ms, accepts 9.0k -> 10.0k/s). The file
  // shrinks back to the limit after a checkpoint has emptied it.
  sqlite.pragma('wal_autocheckpoint = 10000');
  sqlite.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
}
