import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withdrawalRow } from '../../bench/lib/rows.js';
import { openMigratedDatabase } from '../../test/support/database.js';
import type { Db } from '../db/connect.js';
import { StaleTransitionError } from './errors.js';
import { openTransitions } from './repository.js';
import { updateLockedRows } from './update-locked.js';

const WALLET = '0x00000000000000000000000000000000000000aa';

describe.each(['sqlite', 'mysql'] as const)('batched compare-and-set of locked rows on %s', (kind) => {
  let db: Db;
  let close: (() => Promise<void>) | undefined;
  let batch = 0;

  beforeAll(async () => {
    ({ db, close } = await openMigratedDatabase(kind));
  }, 60_000);
  afterAll(async () => {
    await close?.();
  });

  async function received(count: number): Promise<string[]> {
    batch += 1;
    const rows = Array.from({ length: count }, (_, n) =>
      withdrawalRow({ keyPrefix: `locked-${batch}`, n, userId: `u${n}`, asset: 'ETH', chainId: 31337, toAddress: '0x000000000000000000000000000000000000bEEF', amount: '1', fee: '0' }),
    );
    for (let i = 0; i < rows.length; i += 200) await db.kysely.insertInto('withdrawals').values(rows.slice(i, i + 200)).execute();
    return rows.map((r) => r.id);
  }

  const read = (ids: string[]) => db.kysely.selectFrom('withdrawals').select(['id', 'status', 'wallet', 'nonce', 'tx_hash', 'failure_code']).where('id', 'in', ids).execute();

  it('gives every row its own value and the shared ones, over chunks of 256, 32, 8 and 4 rows', async () => {
    const ids = await received(300);
    await db.kysely.updateTable('withdrawals').set({ failure_code: 'hot_wallets_busy', failure_reason: 'waiting' }).where('id', 'in', ids).execute();
    await db.kysely.transaction().execute((trx) =>
      updateLockedRows(
        trx,
        ids.map((id, n) => ({ id, set: { wallet: WALLET, nonce: 1_000 + n, failure_code: null, failure_reason: null } })),
        { status: 'RECEIVED', nonceIsNull: true },
      ),
    );
    const byId = new Map((await read(ids)).map((r) => [r.id, r]));
    ids.forEach((id, n) => expect(byId.get(id)).toMatchObject({ status: 'RECEIVED', wallet: WALLET, nonce: 1_000 + n, failure_code: null }));
  });

  it('changes nothing when one row no longer matches its guard: the whole transaction fails', async () => {
    const ids = await received(40);
    // Another writer reserved one of them first.
    await db.kysely.updateTable('withdrawals').set({ wallet: WALLET, nonce: 9 }).where('id', '=', ids[17]!).execute();
    const attempt = db.kysely.transaction().execute((trx) =>
      updateLockedRows(
        trx,
        ids.map((id, n) => ({ id, set: { wallet: WALLET, nonce: 2_000 + n } })),
        { status: 'RECEIVED', nonceIsNull: true },
      ),
    );
    await expect(attempt).rejects.toBeInstanceOf(StaleTransitionError);
    const rows = await read(ids);
    expect(rows.filter((r) => r.nonce !== null).map((r) => r.id)).toEqual([ids[17]]);
    expect(rows.find((r) => r.id === ids[17])?.nonce).toBe(9);
  });

  it('moveLocked moves each row with its own patch and writes one event each at flush', async () => {
    const ids = await received(5);
    await db.kysely.transaction().execute(async (trx) => {
      const transitions = openTransitions(trx);
      ids.forEach((id, n) => transitions.moveLocked(id, 'RECEIVED', 'SIGNED', { tx_hash: `0x${String(n).padStart(64, '0')}` }, n === 0 ? { code: 'cancel' } : {}));
      // Nothing is written before flush.
      expect((await trx.selectFrom('withdrawals').select('status').where('id', 'in', ids).execute()).every((r) => r.status === 'RECEIVED')).toBe(true);
      await transitions.flush();
    });
    const byId = new Map((await read(ids)).map((r) => [r.id, r]));
    ids.forEach((id, n) => expect(byId.get(id)).toMatchObject({ status: 'SIGNED', tx_hash: `0x${String(n).padStart(64, '0')}` }));
    const events = await db.kysely.selectFrom('withdrawal_events').select(['withdrawal_id', 'from_status', 'to_status', 'code']).where('withdrawal_id', 'in', ids).execute();
    expect(events).toHaveLength(5);
    expect(events.find((e) => e.withdrawal_id === ids[0])).toMatchObject({ from_status: 'RECEIVED', to_status: 'SIGNED', code: 'cancel' });
  });

  it('moveLocked fails the flush, and so the transaction, when a row was moved meanwhile', async () => {
    const ids = await received(3);
    await db.kysely.updateTable('withdrawals').set({ status: 'REJECTED' }).where('id', '=', ids[1]!).execute();
    const attempt = db.kysely.transaction().execute(async (trx) => {
      const transitions = openTransitions(trx);
      for (const id of ids) transitions.moveLocked(id, 'RECEIVED', 'SIGNED', { tx_hash: `0x${id}` });
      await transitions.flush();
    });
    await expect(attempt).rejects.toBeInstanceOf(StaleTransitionError);
    expect((await read(ids)).map((r) => r.status).sort()).toEqual(['RECEIVED', 'RECEIVED', 'REJECTED']);
    expect(await db.kysely.selectFrom('withdrawal_events').select('id').where('withdrawal_id', 'in', ids).execute()).toHaveLength(0);
  });
});
