import type { Db } from '../db/connect.js';
import type { TxAttemptsTable } from '../db/schema.js';
import { defineInsert } from '../db/insert-rows.js';
import type { Tx } from '../db/transaction.js';
import { batchConcurrency, createMicroBatcher } from '../util/micro-batch.js';

export type AttemptRow = Omit<TxAttemptsTable, 'id'> & { id: number };
export type NewAttempt = Pick<
  TxAttemptsTable,
  'withdrawal_id' | 'chain_id' | 'wallet' | 'nonce' | 'tx_hash' | 'raw_tx' | 'kind' | 'max_fee_per_gas' | 'max_priority_fee_per_gas' | 'gas_limit'
>;

/** Ids per `in (…)` list: far below SQLite's and MySQL's placeholder limits. */
const IN_LIST_CHUNK = 500;

/** Kinds whose mining pays the withdrawal out; a mined `cancel` pays nothing (invariant 7). */
export const PAYOUT_KINDS: ReadonlyArray<TxAttemptsTable['kind']> = ['transfer', 'bump'];

/**
 * A 0-value self-send at a nonce the withdrawal held before it was re-signed elsewhere, signed
 * when a reorg beyond finality emptied that nonce again (see the tracker's `fillOwnerlessNonces`).
 * Kept with the withdrawal for the record, but not one of its txs: never its newest, never what
 * settles it.
 */
export const FILL_KIND = 'fill';

/** Many attempts in few multi-row inserts (a batch's signatures), in the caller's transaction. */
export async function insertAttempts(trx: Tx, attempts: NewAttempt[]): Promise<void> {
  const now = Date.now();
  const rows = [];
  for (const a of attempts) rows.push({ ...a, created_at: now, broadcast_at: null, last_broadcast_at: null, broadcast_count: 0, last_error: null });
  await insertAttemptRows(trx, rows);
}

const insertAttemptRows = defineInsert('tx_attempts', [
  'withdrawal_id',
  'chain_id',
  'wallet',
  'nonce',
  'tx_hash',
  'raw_tx',
  'kind',
  'max_fee_per_gas',
  'max_priority_fee_per_gas',
  'gas_limit',
  'created_at',
  'broadcast_at',
  'last_broadcast_at',
  'broadcast_count',
  'last_error',
]);

/**
 * Every transaction signed for a withdrawal: the first, each fee bump and each cancel. The newest
 * is the one to (re)broadcast; any of them may be the one mined.
 */
export function createAttempts(db: Db) {
  const k = db.kysely;
  const insertMany = insertAttempts;

  /** Each of these withdrawals' own txs (fills excluded), oldest first; those with none are absent. In few queries. */
  async function ofMany(withdrawalIds: string[], trx: Tx | Db['kysely'] = k): Promise<Map<string, AttemptRow[]>> {
    const own = new Map<string, AttemptRow[]>();
    for (let i = 0; i < withdrawalIds.length; i += IN_LIST_CHUNK) {
      const rows = (await trx.selectFrom('tx_attempts').selectAll().where('withdrawal_id', 'in', withdrawalIds.slice(i, i + IN_LIST_CHUNK)).where('kind', '!=', FILL_KIND).orderBy('id').execute()) as AttemptRow[];
      for (const row of rows) {
        const list = own.get(row.withdrawal_id);
        if (list) list.push(row);
        else own.set(row.withdrawal_id, [row]);
      }
    }
    return own;
  }

  // The newest tx of each withdrawal asked for in one burst, read by one query: the sender asks
  // for every message of a receive at once, and one indexed read each was ~3% of sluice dev's
  // main thread at 400 payouts/s.
  const newest = createMicroBatcher<string, AttemptRow | undefined>({
    maxSize: IN_LIST_CHUNK,
    concurrency: batchConcurrency(db),
    run: async (ids) => {
      const own = await ofMany([...new Set(ids)]);
      return ids.map((id) => own.get(id)?.at(-1));
    },
  });

  return {
    insert: (trx: Tx, attempt: NewAttempt): Promise<void> => insertMany(trx, [attempt]),
    /** Many attempts in few multi-row inserts (a batch's signatures). */
    insertMany,

    /** The withdrawal's newest own tx (fills excluded); outside a transaction, concurrent asks share one query. */
    latest(withdrawalId: string, trx?: Tx): Promise<AttemptRow | undefined> {
      if (!trx) return newest.submit(withdrawalId);
      return trx.selectFrom('tx_attempts').selectAll().where('withdrawal_id', '=', withdrawalId).where('kind', '!=', FILL_KIND).orderBy('id', 'desc').limit(1).executeTakeFirst() as Promise<AttemptRow | undefined>;
    },

    ofMany,

    /** The withdrawal's own txs (fills excluded), oldest first. */
    of(withdrawalId: string, trx: Tx | Db['kysely'] = k): Promise<AttemptRow[]> {
      return trx.selectFrom('tx_attempts').selectAll().where('withdrawal_id', '=', withdrawalId).where('kind', '!=', FILL_KIND).orderBy('id').execute() as Promise<AttemptRow[]>;
    },

    /** Every tx signed at these nonces of a lane, fills included, oldest first. */
    atNonces(chainId: number, wallet: string, nonces: number[], trx: Tx | Db['kysely'] = k): Promise<AttemptRow[]> {
      if (nonces.length === 0) return Promise.resolve([]);
      return trx.selectFrom('tx_attempts').selectAll().where('chain_id', '=', chainId).where('wallet', '=', wallet).where('nonce', 'in', nonces).orderBy('id').execute() as Promise<AttemptRow[]>;
    },

    byHash(txHash: string, trx: Tx | Db['kysely'] = k): Promise<AttemptRow | undefined> {
      return trx.selectFrom('tx_attempts').selectAll().where('tx_hash', '=', txHash).executeTakeFirst() as Promise<AttemptRow | undefined>;
    },

    /** A node took it (or already had it) at `at`: the sender's clock at the node's answer, not this write's. */
    async markBroadcast(txHash: string, trx: Tx | Db['kysely'] = k, at = Date.now()): Promise<void> {
      await trx
        .updateTable('tx_attempts')
        .set((eb) => ({
          broadcast_at: eb.fn.coalesce('broadcast_at', eb.val(at)),
          last_broadcast_at: at,
          broadcast_count: eb('broadcast_count', '+', 1),
          last_error: null,
        }))
        .where('tx_hash', '=', txHash)
        .execute();
    },

    async markError(txHash: string, error: string, trx: Tx | Db['kysely'] = k): Promise<void> {
      await trx.updateTable('tx_attempts').set({ last_error: error.slice(0, 2000), last_broadcast_at: Date.now() }).where('tx_hash', '=', txHash).execute();
    },
  };
}

export type Attempts = ReturnType<typeof createAttempts>;
