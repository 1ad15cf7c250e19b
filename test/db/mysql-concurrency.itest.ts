import { sql } from 'kysely';
import { getAddress } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from '../../src/db/connect.js';
import { lockForUpdate, withTransaction } from '../../src/db/transaction.js';
import { BalancesMovedError, InsufficientBalanceError } from '../../src/ledger/errors.js';
import { createLedger, openLedgerBatch } from '../../src/ledger/ledger.js';
import { sleep } from '../../src/util/sleep.js';
import { buildTransfer } from '../../src/signer/build-tx.js';
import { type ReserveLanesInput, reserveLanesWith } from '../../src/signer/reserve-lanes.js';
import { insertWithdrawals } from '../../src/withdrawals/insert-batch.js';
import { createWithdrawalRepository, newWithdrawalRow } from '../../src/withdrawals/repository.js';
import { type MigratedDatabase, openMigratedDatabase } from '../support/database.js';

/**
 * The money-safety invariants under real contention on MariaDB: many transactions on a pool of
 * 4 connections fighting over one row. SQLite runs one transaction at a time and cannot show this.
 */
describe('MariaDB under concurrency (pool of 4 connections)', () => {
  let testDb: MigratedDatabase;
  let db: Db;

  beforeAll(async () => {
    testDb = await openMigratedDatabase('mysql', { poolSize: 4 });
    db = testDb.db;
  });
  afterAll(async () => {
    await testDb?.close();
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

  it('a batch that locks its balance rows at flush keeps what another transaction wrote meanwhile, and refuses to commit a hold that write changed', async () => {
    const ledger = createLedger(db);
    const other = openDatabase(testDb.url, { poolSize: 1 });
    const otherLedger = createLedger(other);
    const key = (userId: string) => ({ userId, asset: 'ETH' });
    /** The row is not locked by the open batch: NOWAIT fails at once if it is. */
    const lockNowait = (userId: string) =>
      other.kysely.transaction().execute((trx) => sql`select user_id from balances where user_id = ${userId} and asset = 'ETH' for update nowait`.execute(trx));
    try {
      // Covered on what the batch read and on the row as locked: the debit committed meanwhile is kept.
      await ledger.credit({ userId: 'flush-ann', asset: 'ETH', amount: 100n, reference: 'flush-fund-ann' });
      await withTransaction(db, async (trx) => {
        const batch = await openLedgerBatch(db, trx, [key('flush-ann')], { lock: 'at-flush' });
        batch.hold({ userId: 'flush-ann', asset: 'ETH', amount: 60n, withdrawalId: 'flush-w1' });
        expect((await lockNowait('flush-ann')).rows).toHaveLength(1);
        await otherLedger.debit({ userId: 'flush-ann', asset: 'ETH', amount: 30n, reference: 'flush-debit-ann' });
        await batch.flush();
        await expect(lockNowait('flush-ann')).rejects.toThrow(/lock/i);
      });
      // Written from the row as locked (100 - 30 - 60), not from the read (which would give 40).
      expect(await ledger.balances('flush-ann')).toEqual([{ asset: 'ETH', available: 10n, held: 60n }]);

      // Covered on what the batch read, short on the row as locked: nothing of the batch commits.
      await ledger.credit({ userId: 'flush-bob', asset: 'ETH', amount: 100n, reference: 'flush-fund-bob' });
      await expect(
        withTransaction(db, async (trx) => {
          const batch = await openLedgerBatch(db, trx, [key('flush-bob')], { lock: 'at-flush' });
          batch.hold({ userId: 'flush-bob', asset: 'ETH', amount: 60n, withdrawalId: 'flush-w2' });
          await otherLedger.debit({ userId: 'flush-bob', asset: 'ETH', amount: 50n, reference: 'flush-debit-bob' });
          await batch.flush();
        }),
      ).rejects.toBeInstanceOf(BalancesMovedError);
      expect(await ledger.balances('flush-bob')).toEqual([{ asset: 'ETH', available: 50n, held: 0n }]);
      expect(await db.kysely.selectFrom('ledger_entries').select('id').where('withdrawal_id', '=', 'flush-w2').execute()).toEqual([]);

      // Short on what the batch read, covered on the row as locked: refused only after a try with the rows locked first.
      await ledger.credit({ userId: 'flush-cyd', asset: 'ETH', amount: 10n, reference: 'flush-fund-cyd' });
      await expect(
        withTransaction(db, async (trx) => {
          const batch = await openLedgerBatch(db, trx, [key('flush-cyd')], { lock: 'at-flush' });
          expect(() => batch.hold({ userId: 'flush-cyd', asset: 'ETH', amount: 60n, withdrawalId: 'flush-w3' })).toThrow(InsufficientBalanceError);
          await otherLedger.credit({ userId: 'flush-cyd', asset: 'ETH', amount: 100n, reference: 'flush-credit-cyd' });
          await batch.flush();
        }),
      ).rejects.toBeInstanceOf(BalancesMovedError);
      expect(await ledger.balances('flush-cyd')).toEqual([{ asset: 'ETH', available: 110n, held: 0n }]);
    } finally {
      await other.close();
    }
  });

  it('a reservation batch locks and writes its own lanes\' wallet rows only: a batch on another lane commits meanwhile', async () => {
    const chainId = 31_337;
    // Eight lanes, a batch on half of them: MariaDB plans `address IN (…)` over half a chain's
    // wallet rows as a scan of all of them, which locks every lane.
    const lanes = Array.from({ length: 8 }, (_, i) => getAddress(`0x${(i + 1).toString(16).padStart(2, '0').repeat(20)}`));
    for (const address of lanes) await db.kysely.insertInto('wallets').values({ chain_id: chainId, address, key_ref: `keystore:${address}.json`, next_nonce: 0, enabled: 1, created_at: Date.now() }).execute();
    const ledger = createLedger(db);
    const network = { asset: 'ETH', ledgerDecimals: 18, chainId, chainName: 'dev', kind: 'native' as const, contract: null, decimals: 18, withdrawalFee: 0n, minAmount: 1n, maxAmount: 10n ** 24n, gasLimit: 21_000, enabled: true };
    const fees = { maxFeePerGas: 2_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n };
    /** A batch of one withdrawal on each of these lanes, each of its own user. */
    const batchOn = async (laneIndexes: number[]): Promise<ReserveLanesInput> => {
      const shares = [];
      for (const i of laneIndexes) {
        const userId = `lane-user-${i}`;
        await ledger.credit({ userId, asset: 'ETH', amount: 10n ** 18n, reference: `lane-fund-${userId}` });
        const to = getAddress('0x000000000000000000000000000000000000bEEF');
        const { row } = newWithdrawalRow({ idempotencyKey: `lane-${userId}`, requestHash: 'h', apiKeyId: 'k', userId, asset: 'ETH', chainId, toAddress: to, amount: 10n ** 15n, fee: 0n }, () => ({}));
        await insertWithdrawals(db, [row]);
        const lane = { chain_id: chainId, address: lanes[i]!, key_ref: `keystore:${lanes[i]}.json` };
        shares.push({ lane, balances: { native: 10n ** 21n, tokens: new Map() }, items: [{ w: row, network, to, chainAmount: 10n ** 15n }] });
      }
      return { chainId, maxPendingPerWallet: 16, fees, networks: [network], shares };
    };
    // Other withdrawals in the table, as there always are: over a table of five rows MariaDB
    // would plan the batch's `id IN (…)` lock as a scan, and lock the other batch's row too.
    const filler = Array.from({ length: 200 }, (_, i) => newWithdrawalRow({ idempotencyKey: `lane-filler-${i}`, requestHash: 'h', apiKeyId: 'k', userId: `lane-filler-${i}`, asset: 'ETH', chainId, toAddress: lanes[0]!, amount: 1n, fee: 0n }, () => ({})).row);
    await insertWithdrawals(db, filler);
    const mine = [0, 2, 4, 7];
    const first = await batchOn(mine);
    const second = await batchOn([5]);

    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let reserved!: () => void;
    const firstReserved = new Promise<void>((r) => (reserved = r));
    const firstBatch = withTransaction(db, async (trx) => {
      const results = await reserveLanesWith({ db, trx }, first, buildTransfer);
      expect(results.map((r) => r.outcomes.map((o) => o.kind))).toEqual(mine.map(() => ['reserved']));
      reserved();
      await held; // its locks stay taken until the test lets go
    });
    try {
      await Promise.race([firstReserved, firstBatch]);
      const other = openDatabase(testDb.url, { poolSize: 1 });
      try {
        const lockLane = (address: string) =>
          other.kysely.transaction().execute((trx) => sql`select address from wallets where chain_id = ${chainId} and address = ${address} for update nowait`.execute(trx));
        // The open batch holds its own lanes…
        for (const i of mine) await expect(lockLane(lanes[i]!)).rejects.toThrow(/lock/i);
        // …and nothing of the others.
        for (const address of lanes.filter((_, i) => !mine.includes(i))) expect((await lockLane(address)).rows).toEqual([{ address }]);
        // A batch on another lane is not held up by it (before: lock wait timeout, 50 s).
        const giveUp = new AbortController();
        const outcome = await Promise.race([
          withTransaction(other, (trx) => reserveLanesWith({ db: other, trx }, second, buildTransfer)),
          sleep(10_000, giveUp.signal).then(() => 'waited' as const),
        ]).finally(() => giveUp.abort());
        expect(outcome === 'waited' ? outcome : outcome[0]!.outcomes.map((o) => o.kind)).toEqual(['reserved']);
      } finally {
        await other.close();
      }
    } finally {
      release();
      await firstBatch;
    }
    const nonces = await db.kysely.selectFrom('wallets').select(['address', 'next_nonce']).where('chain_id', '=', chainId).execute();
    expect(new Map(nonces.map((w) => [w.address, Number(w.next_nonce)]))).toEqual(new Map(lanes.map((address, i) => [address, mine.includes(i) || i === 5 ? 1 : 0])));
  }, 30_000);
});
