/** Write-worker tasks for src/db/sqlite-write-worker.itest.ts; they run in the worker thread. */
import { sql } from 'kysely';
import { defineWriteTask } from '../../src/db/write-task.js';

export const insertNote = defineWriteTask(import.meta.url, 'insertNote', async ({ trx }, id: number, text: string) => {
  await sql`insert into notes (id, text) values (${id}, ${text})`.execute(trx);
  return Number((await sql<{ n: number }>`select count(*) as n from notes`.execute(trx)).rows[0]!.n);
});

/** Inserts, then fails: the transaction must leave nothing behind. */
export const insertThenFail = defineWriteTask(import.meta.url, 'insertThenFail', async ({ trx }, id: number) => {
  await sql`insert into notes (id, text) values (${id}, 'doomed')`.execute(trx);
  await sql`insert into notes (id, text) values (${id}, 'duplicate id')`.execute(trx);
  throw new Error('unreachable: the second insert violates the primary key');
});

/** Ends the worker thread (not the process) mid-task, as a crash of the thread would. */
export const exitThread = defineWriteTask(import.meta.url, 'exitThread', () => process.exit(3));

/** The worker connection's temp_store (2 = MEMORY). */
export const tempStore = defineWriteTask(import.meta.url, 'tempStore', ({ db }) => db.sqlite!.pragma('temp_store', { simple: true }) as number);
