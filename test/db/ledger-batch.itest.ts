import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, openDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { withTransaction } from '../../src/db/transaction.js';
import { InsufficientBalanceError } from '../../src/ledger/errors.js';
import { createLedger } from '../../src/ledger/ledger.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/**
 * The ledger's batch (the signer's reservations and the tracker's settlements use it): movements
 * see each other within a batch, a refused one changes nothing, and what reaches the tables is
 * exactly what single movements would have written.
 */
describe.each(['sqlite', 'mysql'] as const)('ledger batch on %s', (kind) => {
  let testDb: TestDatabase;
  let db: Db;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    db = openDatabase(testDb.url, { poolSize: 2 });
    await migrateToLatest(db);
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  const balance = async (userId: string, asset: string) => {
    const row = await db.kysely.selectFrom('balances').select(['available', 'held']).where('user_id', '=', userId).where('asset', '=', asset).executeTakeFirst();
    return row && { available: BigInt(row.available), held: BigInt(row.held) };
  };
  const entries = (withdrawalId: string) =>
    db.kysely.selectFrom('ledger_entries').select(['account', 'amount', 'kind']).where('withdrawal_id', '=', withdrawalId).orderBy('id').execute();

  it('holds many withdrawals of several users in one batch; a hold the rest left short changes nothing', async () => {
    const ledger = createLedger(db);
    await ledger.credit({ userId: 'ann', asset: 'ETH', amount: 250n, reference: 'fund-ann' });
    await ledger.credit({ userId: 'bob', asset: 'ETH', amount: 100n, reference: 'fund-bob' });
    await ledger.credit({ userId: 'bob', asset: 'USDT', amount: 7n, reference: 'fund-bob-usdt' });

    const refused: string[] = [];
    await withTransaction(db, async (trx) => {
      const batch = await ledger.openBatch(trx, [
        { userId: 'ann', asset: 'ETH' },
        { userId: 'bob', asset: 'ETH' },
        { userId: 'ann', asset: 'ETH' }, // the same row twice: read once
        { userId: 'cyd', asset: 'ETH' }, // no row at all: holds nothing
      ]);
      for (const [id, userId, amount] of [
        ['w1', 'ann', 100n],
        ['w2', 'ann', 100n],
        ['w3', 'ann', 100n], // 50 left after w1 and w2: refused
        ['w4', 'ann', 50n], // exactly what is left
        ['w5', 'bob', 60n],
        ['w6', 'cyd', 1n],
      ] as const) {
        try {
          batch.hold({ userId, asset: 'ETH', amount, withdrawalId: id });
        } catch (err) {
          if (!(err instanceof InsufficientBalanceError)) throw err;
          refused.push(id);
        }
      }
      await batch.flush();
    });

    expect(refused).toEqual(['w3', 'w6']);
    expect(await balance('ann', 'ETH')).toEqual({ available: 0n, held: 250n });
    expect(await balance('bob', 'ETH')).toEqual({ available: 40n, held: 60n });
    expect(await balance('bob', 'USDT')).toEqual({ available: 7n, held: 0n }); // not in the batch, untouched
    expect(await balance('cyd', 'ETH')).toBeUndefined(); // nothing created
    expect(await entries('w3')).toEqual([]);
    expect(await entries('w6')).toEqual([]);
    expect(await entries('w1')).toEqual([
      { account: 'user:ann:available', amount: '-100', kind: 'hold' },
      { account: 'user:ann:held', amount: '100', kind: 'hold' },
    ]);
  });

  it('writes back 300 users of two assets in one batch, each row its own values, no other row touched', async () => {
    const ledger = createLedger(db);
    const users = Array.from({ length: 300 }, (_, i) => `many-${String(i).padStart(3, '0')}`);
    for (const [i, u] of users.entries()) {
      await ledger.credit({ userId: u, asset: 'ETH', amount: 1_000n + BigInt(i), reference: `fund-${u}` });
      if (i % 3 === 0) await ledger.credit({ userId: u, asset: 'USDT', amount: 50n, reference: `fund-${u}-usdt` });
    }
    await ledger.credit({ userId: 'bystander', asset: 'ETH', amount: 9n, reference: 'fund-bystander' });
    await withTransaction(db, async (trx) => {
      const keys = users.flatMap((u, i) => [{ userId: u, asset: 'ETH' }, ...(i % 3 === 0 ? [{ userId: u, asset: 'USDT' }] : [])]);
      const batch = await ledger.openBatch(trx, keys);
      for (const [i, u] of users.entries()) {
        batch.hold({ userId: u, asset: 'ETH', amount: BigInt(i + 1), withdrawalId: `many-eth-${i}` });
        if (i % 3 === 0) batch.hold({ userId: u, asset: 'USDT', amount: 5n, withdrawalId: `many-usdt-${i}` });
      }
      await batch.flush();
    });
    for (const i of [0, 1, 2, 255, 256, 287, 299]) {
      expect(await balance(users[i]!, 'ETH')).toEqual({ available: 1_000n + BigInt(i) - BigInt(i + 1), held: BigInt(i + 1) });
      expect(await balance(users[i]!, 'USDT')).toEqual(i % 3 === 0 ? { available: 45n, held: 5n } : undefined);
    }
    const all = await db.kysely.selectFrom('balances').select(['user_id', 'asset', 'held']).where('user_id', 'like', 'many-%').execute();
    expect(all.filter((r) => r.asset === 'ETH').every((r) => BigInt(r.held) === BigInt(Number(r.user_id.slice(5)) + 1))).toBe(true);
    expect(await balance('bystander', 'ETH')).toEqual({ available: 9n, held: 0n });
  });

  it('settles one hold and releases another of one user in one batch, journal summing to zero per asset', async () => {
    const ledger = createLedger(db);
    await ledger.credit({ userId: 'dee', asset: 'ETH', amount: 1_000n, reference: 'fund-dee' });
    await withTransaction(db, async (trx) => {
      const batch = await ledger.openBatch(trx, [{ userId: 'dee', asset: 'ETH' }]);
      batch.hold({ userId: 'dee', asset: 'ETH', amount: 300n, withdrawalId: 's1' });
      batch.hold({ userId: 'dee', asset: 'ETH', amount: 200n, withdrawalId: 's2' });
      await batch.flush();
    });
    await withTransaction(db, async (trx) => {
      const batch = await ledger.openBatch(trx, [{ userId: 'dee', asset: 'ETH' }]);
      batch.settle({ userId: 'dee', asset: 'ETH', amount: 290n, fee: 10n, withdrawalId: 's1' });
      batch.release({ userId: 'dee', asset: 'ETH', amount: 200n, withdrawalId: 's2' });
      await batch.flush();
    });

    expect(await balance('dee', 'ETH')).toEqual({ available: 700n, held: 0n });
    expect((await entries('s1')).filter((e) => e.kind === 'settle')).toEqual([
      { account: 'user:dee:held', amount: '-300', kind: 'settle' },
      { account: 'payouts', amount: '290', kind: 'settle' },
      { account: 'fees', amount: '10', kind: 'settle' },
    ]);
    const sums = await db.kysely.selectFrom('ledger_entries').select(['journal_id', 'amount']).where('asset', '=', 'ETH').execute();
    const byJournal = new Map<string, bigint>();
    for (const e of sums) byJournal.set(e.journal_id, (byJournal.get(e.journal_id) ?? 0n) + BigInt(e.amount));
    expect([...byJournal.values()].every((s) => s === 0n)).toBe(true);
  });

  it('reopens a settlement into a hold, and settles it again once: one payout and one fee in the end', async () => {
    const ledger = createLedger(db);
    await ledger.credit({ userId: 'fay', asset: 'ETH', amount: 1_000n, reference: 'fund-fay' });
    const inBatch = (apply: (b: Awaited<ReturnType<typeof ledger.openBatch>>) => void) =>
      withTransaction(db, async (trx) => {
        const batch = await ledger.openBatch(trx, [{ userId: 'fay', asset: 'ETH' }]);
        apply(batch);
        await batch.flush();
      });
    const settleInput = { userId: 'fay', asset: 'ETH', amount: 290n, fee: 10n, withdrawalId: 'o1' };
    await inBatch((b) => b.hold({ userId: 'fay', asset: 'ETH', amount: 300n, withdrawalId: 'o1' }));
    await inBatch((b) => b.settle(settleInput));
    await inBatch((b) => b.reopen(settleInput));
    expect(await balance('fay', 'ETH')).toEqual({ available: 700n, held: 300n });
    expect((await entries('o1')).filter((e) => e.kind === 'reopen')).toEqual([
      { account: 'payouts', amount: '-290', kind: 'reopen' },
      { account: 'fees', amount: '-10', kind: 'reopen' },
      { account: 'user:fay:held', amount: '300', kind: 'reopen' },
    ]);
    await inBatch((b) => b.settle(settleInput));
    expect(await balance('fay', 'ETH')).toEqual({ available: 700n, held: 0n });
    const net = new Map<string, bigint>();
    for (const e of await entries('o1')) net.set(e.account, (net.get(e.account) ?? 0n) + BigInt(e.amount));
    expect(net.get('payouts')).toBe(290n);
    expect(net.get('fees')).toBe(10n);
    expect(net.get('user:fay:held')).toBe(0n);
  });

  it('refuses a release the row cannot give, and a movement on a row the batch did not open; nothing is written', async () => {
    const ledger = createLedger(db);
    await ledger.credit({ userId: 'eve', asset: 'ETH', amount: 5n, reference: 'fund-eve' });
    await expect(
      withTransaction(db, async (trx) => {
        const batch = await ledger.openBatch(trx, [{ userId: 'eve', asset: 'ETH' }]);
        batch.hold({ userId: 'eve', asset: 'ETH', amount: 5n, withdrawalId: 'r1' });
        batch.release({ userId: 'eve', asset: 'ETH', amount: 6n, withdrawalId: 'r1' });
        await batch.flush();
      }),
    ).rejects.toThrow(/negative balance/);
    await expect(
      withTransaction(db, async (trx) => {
        const batch = await ledger.openBatch(trx, [{ userId: 'eve', asset: 'ETH' }]);
        batch.hold({ userId: 'eve', asset: 'ETH', amount: 1n, withdrawalId: 'r2' });
        batch.hold({ userId: 'eve', asset: 'USDT', amount: 1n, withdrawalId: 'r3' });
        await batch.flush();
      }),
    ).rejects.toThrow(/not opened/);
    expect(await balance('eve', 'ETH')).toEqual({ available: 5n, held: 0n });
    expect(await entries('r1')).toEqual([]);
    expect(await entries('r2')).toEqual([]);
  });
});
