/** Write-worker tasks for src/db/sqlite-write-worker.itest.ts; they run in the worker thread. */
import type SqliteDatabase from 'better-sqlite3';

export function insertNote(sqlite: SqliteDatabase.Database, id: number, text: string): number {
  sqlite.prepare('insert into notes (id, text) values (?, ?)').run(id, text);
  return Number((sqlite.prepare('select count(*) as n from notes').get() as { n: number }).n);
}

/** Inserts, then fails: the transaction must leave nothing behind. */
export function insertThenFail(sqlite: SqliteDatabase.Database, id: number): never {
  sqlite.prepare('insert into notes (id, text) values (?, ?)').run(id, 'doomed');
  sqlite.prepare('insert into notes (id, text) values (?, ?)').run(id, 'duplicate id');
  throw new Error('unreachable: the second insert violates the primary key');
}

/** Ends the worker thread (not the process) mid-task, as a crash of the thread would. */
export function exitThread(): never {
  process.exit(3);
}
