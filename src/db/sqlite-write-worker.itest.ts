import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from './connect.js';
import { isTransientDbError, isUniqueViolation } from './errors.js';
import { WORKER_EXITED } from './sqlite-write-worker.js';
import { runWriteTask } from './write-task.js';
import { exitThread, insertNote, insertThenFail, tempStore } from '../../test/support/sqlite-worker-tasks.js';

describe('SQLite write worker (a second connection in a worker thread)', () => {
  let dir: string;
  let db: Db;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-ww-'));
    db = openDatabase(`sqlite:${path.join(dir, 'w.db')}`);
    await sql`create table notes (id integer primary key, text text not null)`.execute(db.kysely);
  });

  afterEach(async () => {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const notes = async () => (await sql<{ id: number; text: string }>`select id, text from notes order by id`.execute(db.kysely)).rows;

  it('runs a task in its own committed transaction; the main connection sees the rows at once', async () => {
    expect(db.sqliteWriter).toBeDefined();
    expect(await db.sqliteWriter!.run<number>(insertNote, [1, 'one'])).toBe(1);
    expect(await db.sqliteWriter!.run<number>(insertNote, [2, 'two'])).toBe(2);
    expect(await notes()).toEqual([
      { id: 1, text: 'one' },
      { id: 2, text: 'two' },
    ]);
  });

  it('its connection is the writer: statement journals in memory (sqlite-pragmas.ts)', async () => {
    expect(await db.sqliteWriter!.run<number>(tempStore, [])).toBe(2);
  });

  it('runs concurrent tasks one transaction at a time (async task bodies never interleave on the one connection)', async () => {
    const counts = await Promise.all(Array.from({ length: 20 }, (_, i) => runWriteTask(db, insertNote, i + 1, `note ${i + 1}`)));
    expect([...counts].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('a failing task rolls back all it wrote and rejects with the driver code callers classify by', async () => {
    const err = await db.sqliteWriter!.run(insertThenFail, [7]).catch((e: unknown) => e);
    expect(isUniqueViolation(err)).toBe(true);
    expect(await notes()).toEqual([]);
  });

  it('preloads task modules ahead of use; one that cannot load is left for its run to report, and the worker carries on', async () => {
    const missing = { module: new URL('./no-such-module.js', import.meta.url).href, name: 'nothing' };
    db.sqliteWriter!.preload([insertNote, missing]);
    expect(await db.sqliteWriter!.run<number>(insertNote, [1, 'after preload'])).toBe(1);
    await expect(db.sqliteWriter!.run(missing, [])).rejects.toThrow();
    expect(await db.sqliteWriter!.run<number>(insertNote, [2, 'still working'])).toBe(2);
  });

  it('a worker that dies fails its task with a transient error, and the next task starts a new one', async () => {
    const err = await db.sqliteWriter!.run(exitThread, []).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe(WORKER_EXITED);
    expect(isTransientDbError(err)).toBe(true);
    expect(await db.sqliteWriter!.run<number>(insertNote, [1, 'after restart'])).toBe(1);
  });

  it('a main-thread transaction that read before the worker committed still writes (BEGIN IMMEDIATE, no SQLITE_BUSY_SNAPSHOT)', async () => {
    await db.sqliteWriter!.run(insertNote, [100, 'warm-up']); // the thread is up: it can write within the 100 ms below
    let workerDone: Promise<number> | undefined;
    await db.kysely.transaction().execute(async (trx) => {
      const before = (await sql<{ n: number }>`select count(*) as n from notes`.execute(trx)).rows[0]!.n;
      expect(before).toBe(1);
      // The worker's insert waits for this transaction's write lock instead of slipping in between.
      workerDone = db.sqliteWriter!.run<number>(insertNote, [2, 'worker']);
      await new Promise((r) => setTimeout(r, 100));
      await sql`insert into notes (id, text) values (1, 'main')`.execute(trx);
    });
    expect(await workerDone).toBe(3);
    expect((await notes()).map((n) => n.text)).toEqual(['main', 'worker', 'warm-up']);
  });

  it('an in-memory database has no worker (another connection could not see it)', async () => {
    const mem = openDatabase('sqlite::memory:');
    try {
      expect(mem.sqliteWriter).toBeUndefined();
      // A task runs here instead, in its own transaction.
      await sql`create table notes (id integer primary key, text text not null)`.execute(mem.kysely);
      expect(await runWriteTask(mem, insertNote, 1, 'here')).toBe(1);
    } finally {
      await mem.close();
    }
  });
});
