import type SqliteDatabase from 'better-sqlite3';

/** Settings every Sluice connection to a SQLite file uses (the main one and the write worker's). */
export function configureSqlite(sqlite: SqliteDatabase.Database, { writer = false }: { writer?: boolean } = {}): void {
  // WAL keeps readers off the writer's back; synchronous=FULL so a committed 202 survives power loss too.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  // Two connections write (main and write worker): a writer waits for the other's commit.
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  // Checkpoint every 1,000 WAL pages (~4 MB, SQLite's default). A checkpoint runs inside the
  // commit that crosses the limit and copies each page of the WAL once, so its cost is the number
  // of distinct pages: on a big table, whose random-keyed index leaves are all different, 10,000
  // pages made that one commit wait ~1 s (bench history, 1,000,000 rows, POST P99 1,039 and
  // 1,042 ms in two runs of three; 11-12 ms in three of three at 1,000). It also halved the P99 at
  // 1,000/s in that same-hour run (24 -> 10 ms), for ~13% less at the max rate on a fresh file
  // (8,360 -> 7,248/s).
  sqlite.pragma('wal_autocheckpoint = 1000');
  sqlite.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  if (writer) {
    // A multi-row statement inside a transaction keeps a statement journal (the pages it changed,
    // to undo just that statement on a constraint error), and SQLite spills one past 64 KB to a
    // temporary file: two write() calls per page, more than half of the write worker's syscalls
    // under the signer's batches (strace, bench signer). In memory they cost a copy each. Only on
    // the write worker, whose statements are bounded batches: it would also keep every sort in
    // memory, and the main connection serves the console's unbounded reads.
    sqlite.pragma('temp_store = MEMORY');
  }
}
