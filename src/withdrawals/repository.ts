import type { Db } from '../db/connect.js';
import { isUniqueViolation } from '../db/errors.js';
import { defineInsert } from '../db/insert-rows.js';
import type { Tx } from '../db/transaction.js';
import type { Insertable } from 'kysely';
import type { WithdrawalEventsTable, WithdrawalStatus, WithdrawalsTable } from '../db/schema.js';
import { newId } from '../util/ids.js';
import { batchConcurrency, createMicroBatcher } from '../util/micro-batch.js';
import { IdempotencyKeyReusedError, StaleTransitionError } from './errors.js';
import { type InsertOutcome, insertWithdrawals } from './insert-batch.js';
import { type LockedRowUpdate, updateLockedRows } from './update-locked.js';

export type WithdrawalRow = WithdrawalsTable;

export type NewWithdrawal = {
  idempotencyKey: string;
  requestHash: string;
  apiKeyId: string;
  userId: string;
  asset: string;
  chainId: number;
  toAddress: string;
  amount: bigint;
  fee: bigint;
};

export type TransitionPatch = Partial<
  Pick<WithdrawalRow, 'wallet' | 'nonce' | 'tx_hash' | 'block_number' | 'block_hash' | 'confirmations' | 'failure_code' | 'failure_reason' | 'cancel_reason'>
>;

const insertEvents = defineInsert('withdrawal_events', ['withdrawal_id', 'from_status', 'to_status', 'code', 'detail', 'created_at']);

/** Ids per batched read. */
const ROWS_PER_READ = 256;

/**
 * Compare-and-set status changes of many withdrawals in one transaction: each `move` updates its
 * row at once (StaleTransitionError when the row was not in `from`) and queues its event;
 * `moveLocked` is for a row the caller locked and checked in this transaction: its update waits
 * for `flush()`, which applies all of them in a few batched statements (update-locked.ts) and
 * fails the whole transaction if one did not match. `flush()` writes the queued events in one
 * insert and must run before the transaction commits.
 */
export function openTransitions(trx: Tx): Transitions {
  return new Transitions(trx);
}

/**
 * A class, not an object of closures per transaction: V8 keeps a closure's optimized code only
 * while a closure of it lives, so per-transaction closures were compiled again after every full
 * collection (see ledger.ts).
 */
export class Transitions {
  private readonly events: Array<Insertable<WithdrawalEventsTable>> = [];
  private readonly staged = new Map<string, { from: WithdrawalStatus; rows: LockedRowUpdate[] }>();

  constructor(private readonly trx: Tx) {}

  async move(id: string, from: WithdrawalStatus, to: WithdrawalStatus, patch: TransitionPatch = {}, event: { code?: string; detail?: string } = {}): Promise<void> {
    const now = Date.now();
    const result = await this.trx
      .updateTable('withdrawals')
      .set({ ...patch, status: to, updated_at: now })
      .where('id', '=', id)
      .where('status', '=', from)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) throw new StaleTransitionError(id, from, to);
    this.events.push({ withdrawal_id: id, from_status: from, to_status: to, code: event.code ?? null, detail: event.detail ?? null, created_at: now });
  }

  moveLocked(id: string, from: WithdrawalStatus, to: WithdrawalStatus, patch: TransitionPatch = {}, event: { code?: string; detail?: string } = {}): void {
    // One batch per compare and per set of columns, so each batch is one statement shape.
    const key = `${from}>${to}:${Object.keys(patch).sort().join(',')}`;
    const batch = this.staged.get(key) ?? { from, rows: [] };
    batch.rows.push({ id, set: { ...patch, status: to } });
    this.staged.set(key, batch);
    this.events.push({ withdrawal_id: id, from_status: from, to_status: to, code: event.code ?? null, detail: event.detail ?? null, created_at: Date.now() });
  }

  async flush(): Promise<void> {
    for (const { from, rows } of this.staged.values()) await updateLockedRows(this.trx, rows, { status: from });
    this.staged.clear();
    await insertEvents(this.trx, this.events.splice(0));
  }
}

export function createWithdrawalRepository(db: Db) {
  const k = db.kysely;
  const reads = createMicroBatcher<string, WithdrawalRow | undefined>({
    maxSize: ROWS_PER_READ,
    concurrency: batchConcurrency(db),
    run: async (ids) => {
      const rows = await k.selectFrom('withdrawals').selectAll().where('id', 'in', [...new Set(ids)]).execute();
      const byId = new Map<string, WithdrawalRow>();
      for (const r of rows) byId.set(r.id, r);
      const found: Array<WithdrawalRow | undefined> = [];
      for (const id of ids) found.push(byId.get(id));
      return found;
    },
  });

  return {
    /**
     * Stores a new RECEIVED withdrawal with its first response, or returns the stored one when the
     * API key used the Idempotency-Key before with the same body. Same key, other body ->
     * IdempotencyKeyReusedError. One transaction per call; the API's hot path goes through the
     * group-committing WithdrawalIntake (create-batcher.ts) instead, which shares insertWithdrawals.
     */
    async create(
      input: NewWithdrawal,
      render: (row: WithdrawalRow) => unknown,
    ): Promise<{ row: WithdrawalRow; response: unknown; replayed: boolean }> {
      const { row, response } = newWithdrawalRow(input, render);
      for (let attempt = 1; ; attempt++) {
        let outcome;
        try {
          [outcome] = await insertWithdrawals(db, [row]);
        } catch (err) {
          // Another process took the key between our read and our insert: read again.
          if (attempt < 3 && isUniqueViolation(err)) continue;
          throw err;
        }
        return replayOrCreated(outcome!, row, response, input.requestHash);
      }
    },

    /** The withdrawal this API key created with this Idempotency-Key, if any (keys are scoped per API key). */
    byIdempotencyKey(apiKeyId: string, idempotencyKey: string): Promise<WithdrawalRow | undefined> {
      return k.selectFrom('withdrawals').selectAll().where('api_key_id', '=', apiKeyId).where('idempotency_key', '=', idempotencyKey).executeTakeFirst();
    },

    get(id: string, trx: Tx | Db['kysely'] = k): Promise<WithdrawalRow | undefined> {
      return trx.selectFrom('withdrawals').selectAll().where('id', '=', id).executeTakeFirst();
    },

    /**
     * `get` outside any transaction for the queue consumers: the rows asked for at once by
     * concurrent handlers come in one `id in (…)` query (at thousands of messages a second, one
     * query per message cost more in query building than in reading).
     */
    read: (id: string): Promise<WithdrawalRow | undefined> => reads.submit(id),

    async list(filter: {
      userId?: string;
      status?: WithdrawalStatus;
      limit: number;
      before?: string;
    }): Promise<WithdrawalRow[]> {
      let q = k.selectFrom('withdrawals').selectAll().orderBy('id', 'desc').limit(filter.limit);
      if (filter.userId) q = q.where('user_id', '=', filter.userId);
      if (filter.status) q = q.where('status', '=', filter.status);
      if (filter.before) q = q.where('id', '<', filter.before);
      return q.execute();
    },

    /**
     * Compare-and-set status change plus its event, inside the caller's transaction.
     * Throws StaleTransitionError when the row was not in `from`.
     */
    async transition(
      trx: Tx,
      id: string,
      from: WithdrawalStatus,
      to: WithdrawalStatus,
      patch: TransitionPatch = {},
      event: { code?: string; detail?: string } = {},
    ): Promise<void> {
      const transitions = openTransitions(trx);
      await transitions.move(id, from, to, patch, event);
      await transitions.flush();
    },

    events(id: string) {
      return k.selectFrom('withdrawal_events').selectAll().where('withdrawal_id', '=', id).orderBy('id').execute();
    },
  };
}

export type WithdrawalRepository = ReturnType<typeof createWithdrawalRepository>;

/** The RECEIVED row for a request, with the response it is answered with (stored with it for replays). */
export function newWithdrawalRow(input: NewWithdrawal, render: (row: WithdrawalRow) => unknown, now = Date.now()): { row: WithdrawalRow; response: unknown } {
  const row: WithdrawalRow = {
    id: newId('wd', now),
    idempotency_key: input.idempotencyKey,
    request_hash: input.requestHash,
    api_key_id: input.apiKeyId,
    user_id: input.userId,
    asset: input.asset,
    chain_id: input.chainId,
    to_address: input.toAddress,
    amount: input.amount.toString(),
    fee: input.fee.toString(),
    status: 'RECEIVED',
    wallet: null,
    nonce: null,
    tx_hash: null,
    block_number: null,
    block_hash: null,
    confirmations: 0,
    failure_code: null,
    failure_reason: null,
    create_response: '',
    cancel_reason: null,
    requeued_at: null,
    created_at: now,
    updated_at: now,
  };
  const response = render(row);
  row.create_response = JSON.stringify(response);
  return { row, response };
}

/** Stored as asked, or the first answer to this key (same body), or IdempotencyKeyReusedError. */
export function replayOrCreated(outcome: InsertOutcome, row: WithdrawalRow, response: unknown, requestHash: string): CreateResult {
  if (outcome.kind === 'stored') return { row, response, replayed: false };
  if (outcome.row.request_hash !== requestHash) throw new IdempotencyKeyReusedError();
  return { row: outcome.row, response: JSON.parse(outcome.row.create_response), replayed: true };
}

export type CreateResult = { row: WithdrawalRow; response: unknown; replayed: boolean };
