import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { lockForUpdate, withTransaction } from '../../src/db/transaction.js';
import { InsufficientBalanceError } from '../../src/ledger/errors.js';
import { createLedger } from '../../src/ledger/ledger.js';
import { sleep } from '../../src/util/sleep.js';
import { createWithdrawalRepository } from '../../src/withdrawals/repository.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/**
 * The money-safety invariants under real contention on MariaDB: many transactions on a pool of
 * 4 connections fighting over one row. SQLite runs one transaction at a time and cannot show this.
 */
describe('MariaDB under concurrency (pool of 4 connections)', () => {
  let testDb: TestDatabase;
  let db: Db;

  beforeAll(async () => {
    testDb = await createTestDatabase('mysql');
    db = openDatabase(testDb.url, { poolSize: 4 });
    await migrateToLatest(db);
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('200 concurrent holds on a balance covering 120: exactly 120 succeed, never below zero', async () => {
    const ledger = createLedger(db);
    const amount = 1_000_000n;
    await ledger.credit({ userId: 'alice', asset: 'USDT', amount: 120n * amount, reference: 'funding' });

    // A separate connection watches the balance the whole time the holds run.
    const watcher = openDatabase(testDb.url, { poolSize: 1 });
    const seen: bigint[] = [];
    let running = true;
    const watching = (async () => {
      while (running) {
        const row = await watcher.kysely.selectFrom('balances').select(['available', 'held']).where('user_id', '=', 'alice').executeTakeFirstOrThrow();
        seen.push(BigInt(row.available));
        expect(BigInt(row.available) + BigInt(row.held)).toBe(120n * amount);
      }
    })();

    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) =>
        withTransaction(db, (trx) => ledger.hold(trx, { userId: 'alice', asset: 'USDT', amount, withdrawalId: `wd-${i}` })),
      ),
    );
    running = false;
    await watching;
    await watcher.close();

    const failures = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(120);
    expect(failures).toHaveLength(80);
    expect(failures.every((e) => e instanceof InsufficientBalanceError)).toBe(true);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every((v) => v >= 0n)).toBe(true);
    expect(await ledger.balances('alice')).toEqual([{ asset: 'USDT', available: 0n, held: 120n * amount }]);
    const holds = await db.kysely.selectFrom('ledger_entries').select('journal_id').where('kind', '=', 'hold').where('account', '=', 'user:alice:held').execute();
    expect(holds).toHaveLength(120);
  });

  it('100 concurrent nonce takes on one wallet give 100 distinct, contiguous nonces', async () => {
    const wallet = '0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A';
    await db.kysely.insertInto('wallets').values({ chain_id: 1, address: wallet, key_ref: 'kms:test', next_nonce: 0, enabled: 1, created_at: Date.now() }).execute();

    // The signer's read-modify-write: SELECT … FOR UPDATE, then the increment, with a pause between
    // them so any transaction that could slip in would.
    const take = () =>
      withTransaction(db, async (trx) => {
        const row = await lockForUpdate(
          db,
          trx.selectFrom('wallets').select('next_nonce').where('chain_id', '=', 1).where('address', '=', wallet),
        ).executeTakeFirstOrThrow();
        const nonce = Number(row.next_nonce);
        await sleep(1);
        await trx.updateTable('wallets').set({ next_nonce: nonce + 1 }).where('chain_id', '=', 1).where('address', '=', wallet).execute();
        return nonce;
      });
    const nonces = await Promise.all(Array.from({ length: 100 }, take));

    expect([...nonces].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const row = await db.kysely.selectFrom('wallets').select('next_nonce').where('address', '=', wallet).executeTakeFirstOrThrow();
    expect(Number(row.next_nonce)).toBe(100);
  });

  it('30 concurrent creates with one idempotency key store one withdrawal, and every caller gets it', async () => {
    const repo = createWithdrawalRepository(db);
    const input = {
      idempotencyKey: 'same-key',
      requestHash: 'h'.repeat(64),
      apiKeyId: 'key_1',
      userId: 'bob',
      asset: 'USDT',
      chainId: 1,
      toAddress: '0x1563915e194D8CfBA1943570603F7606A3115508',
      amount: 5_000_000n,
      fee: 1_000_000n,
    };
    const results = await Promise.all(Array.from({ length: 30 }, () => repo.create(input, (row) => ({ id: row.id, status: row.status }))));

    const rows = await db.kysely.selectFrom('withdrawals').select('id').where('idempotency_key', '=', 'same-key').execute();
    expect(rows).toHaveLength(1);
    expect(new Set(results.map((r) => r.row.id))).toEqual(new Set([rows[0]!.id]));
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(results.every((r) => JSON.stringify(r.response) === JSON.stringify({ id: rows[0]!.id, status: 'RECEIVED' }))).toBe(true);
    const events = await db.kysely.selectFrom('withdrawal_events').select('id').where('withdrawal_id', '=', rows[0]!.id).execute();
    expect(events).toHaveLength(1);
  });

  it('a batch writing back 200 balance rows locks those rows only: a user outside it can be locked meanwhile', async () => {
    const ledger = createLedger(db);
    const users = Array.from({ length: 300 }, (_, i) => `scope-${String(i).padStart(3, '0')}`);
    for (const u of users) await ledger.credit({ userId: u, asset: 'ETH', amount: 1_000n, reference: `fund-${u}` });
    // Two users of every three: the batch's rows are spread over the table, as a signer batch's
    // users are, not one range.
    const inBatch = users.filter((_, i) => i % 3 !== 2).slice(0, 200);
    const outside = users.filter((u) => !inBatch.includes(u));

    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let written!: () => void;
    const flushed = new Promise<void>((r) => (written = r));
    const batch = withTransaction(db, async (trx) => {
      const open = await ledger.openBatch(trx, inBatch.map((userId) => ({ userId, asset: 'ETH' })));
      for (const userId of inBatch) open.hold({ userId, asset: 'ETH', amount: 10n, withdrawalId: `wd-${userId}` });
      await open.flush();
      written();
      await held; // the batch's locks stay taken until this test lets go
    });
    try {
      await Promise.race([flushed, batch]);
      // NOWAIT: an error at once if the batch's transaction holds any of these rows.
      const other = openDatabase(testDb.url, { poolSize: 1 });
      try {
        for (const userId of outside) {
          await other.kysely.transaction().execute(async (trx) => {
            const rows = await sql<{ user_id: string }>`select user_id from balances where user_id = ${userId} and asset = 'ETH' for update nowait`.execute(trx);
            expect(rows.rows).toEqual([{ user_id: userId }]);
          });
        }
      } finally {
        await other.close();
      }
    } finally {
      release();
      await batch;
    }
    expect(await ledger.balances(inBatch[0]!)).toEqual([{ asset: 'ETH', available: 990n, held: 10n }]);
    expect(await ledger.balances(outside[0]!)).toEqual([{ asset: 'ETH', available: 1_000n, held: 0n }]);
  });
});
