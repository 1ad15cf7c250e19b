import type { Db } from './connect.js';
import type { WriteTaskRef } from './sqlite-write-worker.js';
import { type Tx, withTransaction } from './transaction.js';

/** What a write task runs with: the database of the thread it runs on, and its open transaction. */
export type WriteContext = { db: Db; trx: Tx };

/**
 * A transaction body that may run on the SQLite write worker's thread: named by its module URL
 * and export name (the worker imports it), with structured-cloneable arguments and result. It
 * must use only `ctx` (never state of the thread that asked), and, like any withTransaction
 * body, be safe to run again after a rollback.
 */
export type WriteTask<A extends unknown[], T> = { module: string; name: string; run: (ctx: WriteContext, ...args: A) => Promise<T> | T };

/** `name` must be the export this task is assigned to in `module` (`import.meta.url`). */
export function defineWriteTask<A extends unknown[], T>(module: string, name: string, run: WriteTask<A, T>['run']): WriteTask<A, T> {
  return { module, name, run };
}

/**
 * Runs the task in one transaction: on a SQLite file, on the write worker's connection, so the
 * statements, the commit's fsync and Kysely's query building leave the main event loop (signing,
 * HTTP); on MySQL and `:memory:`, here.
 */
export function runWriteTask<A extends unknown[], T>(db: Db, task: WriteTask<A, T>, ...args: A): Promise<T> {
  if (db.sqliteWriter) return db.sqliteWriter.run<T>(task, args);
  return runWriteTaskHere(db, task, ...args);
}

/** Has the SQLite write worker import these tasks now, ahead of their first run (a role's start); elsewhere nothing to do. */
export function preloadWriteTasks(db: Db, ...tasks: WriteTaskRef[]): void {
  db.sqliteWriter?.preload(tasks);
}

/** The same, always on this thread (a caller whose task depends on something it cannot send). */
export function runWriteTaskHere<A extends unknown[], T>(db: Db, task: WriteTask<A, T>, ...args: A): Promise<T> {
  return withTransaction(db, async (trx) => task.run({ db, trx }, ...args));
}
