import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { type SilentTcpProxy, startSilentTcpProxy } from '../../test/support/silent-tcp-proxy.js';
import { type Db, openDatabase } from './connect.js';
import { isTransientDbError } from './errors.js';
import { withTransaction } from './transaction.js';

const outcome = (p: Promise<unknown>, withinMs: number) =>
  Promise.race([
    p.then(
      () => ({ kind: 'answered' as const }),
      (err: unknown) => ({ kind: 'failed' as const, err }),
    ),
    new Promise<{ kind: 'hanging' }>((resolve) => setTimeout(resolve, withinMs, { kind: 'hanging' })),
  ]);

describe('MySQL statements against a server gone silent', () => {
  let database: TestDatabase;
  let proxy: SilentTcpProxy;
  let proxiedUrl: string;
  const opened: Db[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('mysql');
    proxy = await startSilentTcpProxy(Number(new URL(database.url).port || 3306));
    proxiedUrl = proxy.via(database.url);
  });
  afterAll(async () => {
    proxy?.silence(false);
    await proxy?.close();
    await Promise.all(opened.map((db) => db.close().catch(() => {})));
    await database?.drop();
  });
  const open = (options: { queryTimeoutMs?: number; poolSize?: number }) => {
    const db = openDatabase(proxiedUrl, options);
    opened.push(db);
    return db;
  };
  const selectOne = (db: Db) => sql`SELECT 1 AS one`.execute(db.kysely);

  it('without a query timeout a statement hangs (what the timeout is for)', async () => {
    const db = open({ poolSize: 1 });
    await selectOne(db);
    proxy.silence(true);
    try {
      expect((await outcome(selectOne(db), 3_000)).kind).toBe('hanging');
    } finally {
      proxy.silence(false);
    }
  });

  it('with one, a statement and a transaction fail as transient, and the pool replaces the connection once the server answers again', async () => {
    // One connection: were the timed-out one handed back to the pool, the next statement would queue behind it.
    const db = open({ poolSize: 1, queryTimeoutMs: 500 });
    await selectOne(db);
    proxy.silence(true);
    try {
      const statement = await outcome(selectOne(db), 10_000);
      expect(statement.kind).toBe('failed');
      expect((statement as { err: { code?: string } }).err.code).toBe('PROTOCOL_SEQUENCE_TIMEOUT');
      expect(isTransientDbError((statement as { err: unknown }).err)).toBe(true);
    } finally {
      proxy.silence(false);
    }
    expect((await outcome(selectOne(db), 10_000)).kind).toBe('answered');

    proxy.silence(true);
    try {
      const tx = await outcome(
        withTransaction(db, (trx) => sql`SELECT 1`.execute(trx), { attempts: 1 }),
        10_000,
      );
      expect(tx.kind).toBe('failed');
      expect(isTransientDbError((tx as { err: unknown }).err)).toBe(true);
    } finally {
      proxy.silence(false);
    }
    expect((await selectOne(db)).rows).toEqual([{ one: 1 }]);
  });
});
