import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withdrawalRow } from '../../bench/lib/rows.js';
import { openMigratedDatabase } from '../../test/support/database.js';
import type { Db } from '../db/connect.js';
import { createAttempts } from './attempts.js';

describe.each(['sqlite', 'mysql'] as const)('attempts.ofMany on %s', (kind) => {
  let db: Db;
  let close: (() => Promise<void>) | undefined;
  const ids: string[] = [];

  beforeAll(async () => {
    ({ db, close } = await openMigratedDatabase(kind));
    // 1,200 withdrawals (more than one `in` list): the first has three attempts and a fill at an
    // earlier nonce, every other one with an odd index has one, the rest none.
    const rows = Array.from({ length: 1_200 }, (_, n) =>
      withdrawalRow({ keyPrefix: 'latest', n, userId: `u${n}`, asset: 'ETH', chainId: 31337, toAddress: '0x000000000000000000000000000000000000bEEF', amount: '1', fee: '0', status: 'SIGNED', wallet: '0x00000000000000000000000000000000000000aa', nonce: n }),
    );
    await db.kysely.insertInto('withdrawals').values(rows).execute();
    ids.push(...rows.map((r) => r.id));
    const attempts = createAttempts(db);
    const attempt = (i: number, tag: string) => ({
      withdrawal_id: ids[i]!,
      chain_id: 31337,
      wallet: '0x00000000000000000000000000000000000000aa',
      nonce: i,
      tx_hash: `0x${tag}${String(i).padStart(8, '0')}`,
      raw_tx: '0x02',
      kind: 'transfer' as const,
      max_fee_per_gas: '1',
      max_priority_fee_per_gas: '1',
      gas_limit: 21_000,
    });
    await db.kysely.transaction().execute(async (trx) => {
      await attempts.insert(trx, attempt(0, 'a1'));
      for (let i = 1; i < ids.length; i += 2) await attempts.insert(trx, attempt(i, 'b1'));
      await attempts.insert(trx, attempt(0, 'a2'));
      await attempts.insert(trx, { ...attempt(0, 'a3'), kind: 'bump' });
      await attempts.insert(trx, { ...attempt(0, 'f1'), nonce: 5_000, kind: 'fill' });
    });
  }, 60_000);
  afterAll(async () => {
    await close?.();
  });

  it("gives each withdrawal's own attempts, oldest first, fills left out — the same as of() and latest() one by one", async () => {
    const attempts = createAttempts(db);
    const got = await attempts.ofMany(ids);
    expect(got.size).toBe(1 + ids.filter((_, i) => i % 2 === 1).length);
    expect(got.get(ids[0]!)?.map((a) => a.tx_hash)).toEqual(['0xa100000000', '0xa200000000', '0xa300000000']);
    expect(got.has(ids[2]!)).toBe(false);
    for (const i of [0, 1, 499, 501, 1_199]) {
      expect(got.get(ids[i]!)).toEqual(await attempts.of(ids[i]!));
      expect(got.get(ids[i]!)?.at(-1)).toEqual(await attempts.latest(ids[i]!));
    }
    expect((await attempts.atNonces(31337, '0x00000000000000000000000000000000000000aa', [0, 5_000])).map((a) => a.kind)).toEqual(['transfer', 'transfer', 'bump', 'fill']);
    expect((await attempts.ofMany([])).size).toBe(0);
  });

  it('answers latest() asked by many at once (one batched read) as one by one, and inside a transaction', async () => {
    const attempts = createAttempts(db);
    const asked = [0, 2, 1, 0, 1_199, 700, 701];
    const together = await Promise.all(asked.map((i) => attempts.latest(ids[i]!)));
    expect(together.map((a) => a?.tx_hash ?? null)).toEqual(['0xa300000000', null, '0xb100000001', '0xa300000000', '0xb100001199', null, '0xb100000701']);
    const inTransaction = await db.kysely.transaction().execute((trx) => attempts.latest(ids[0]!, trx));
    expect(inTransaction).toEqual(together[0]);
  });
});
