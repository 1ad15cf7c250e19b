import type { Db } from '../db/connect.js';
import { isUniqueViolation } from '../db/errors.js';
import { lockForUpdate, type Tx, withTransaction } from '../db/transaction.js';
import { MAX_STORED_UNITS } from '../money/decimal.js';
import { newId } from '../util/ids.js';
import { BalanceLimitError, InsufficientBalanceError, ReferenceConflictError } from './errors.js';

/**
 * Double-entry ledger. Every movement is a journal whose entries sum to zero per asset, written in
 * the same transaction as the `balances` row it changes; that row is locked first, so two
 * movements on one user never interleave and a balance cannot go negative.
 *
 * Accounts: `user:<id>:available`, `user:<id>:held`, and the platform's side: `external` (credits in,
 * debits out), `payouts` (paid on chain), `fees` (withdrawal fees earned).
 */
export type Balance = { asset: string; available: bigint; held: bigint };

export type LedgerMovement = { userId: string; asset: string; amount: bigint; reference: string };

export type MovementResult = { journalId: string; replayed: boolean; balance: Balance };

const account = {
  available: (userId: string) => `user:${userId}:available`,
  held: (userId: string) => `user:${userId}:held`,
};

export function createLedger(db: Db) {
  async function lockBalance(trx: Tx, userId: string, asset: string, create: boolean): Promise<Balance> {
    const select = () =>
      lockForUpdate(
        db,
        trx.selectFrom('balances').select(['available', 'held']).where('user_id', '=', userId).where('asset', '=', asset),
      ).executeTakeFirst();
    let row = await select();
    if (!row && create) {
      await trx
        .insertInto('balances')
        .values({ user_id: userId, asset, available: '0', held: '0', updated_at: Date.now() })
        .orIgnore()
        .execute();
      row = await select();
    }
    return { asset, available: BigInt(row?.available ?? '0'), held: BigInt(row?.held ?? '0') };
  }

  async function writeBalance(trx: Tx, userId: string, balance: Balance): Promise<void> {
    if (balance.available < 0n || balance.held < 0n) {
      // Unreachable by construction; refuse rather than persist a negative balance.
      throw new Error(`Refusing negative balance for ${userId}/${balance.asset}`);
    }
    await trx
      .updateTable('balances')
      .set({ available: balance.available.toString(), held: balance.held.toString(), updated_at: Date.now() })
      .where('user_id', '=', userId)
      .where('asset', '=', balance.asset)
      .execute();
  }

  async function journal(
    trx: Tx,
    meta: { kind: string; reference: string; asset: string; userId: string; withdrawalId?: string },
    legs: Array<[account: string, amount: bigint]>,
  ): Promise<string> {
    const journalId = newId('jn');
    const now = Date.now();
    const rows = legs
      .filter(([, amount]) => amount !== 0n)
      .map(([acct, amount]) => ({
        journal_id: journalId,
        account: acct,
        user_id: acct.startsWith('user:') ? meta.userId : null,
        asset: meta.asset,
        amount: amount.toString(),
        kind: meta.kind,
        reference: meta.reference,
        withdrawal_id: meta.withdrawalId ?? null,
        created_at: now,
      }));
    if (rows.length > 0) await trx.insertInto('ledger_entries').values(rows).execute();
    return journalId;
  }

  /** Credits and debits are idempotent by (kind, reference). */
  async function move(kind: 'credit' | 'debit', input: LedgerMovement): Promise<MovementResult> {
    const run = () =>
      withTransaction(db, async (trx) => {
        const existing = await trx
          .selectFrom('ledger_references')
          .selectAll()
          .where('kind', '=', kind)
          .where('reference', '=', input.reference)
          .executeTakeFirst();
        if (existing) return replay(trx, existing);

        const balance = await lockBalance(trx, input.userId, input.asset, true);
        const delta = kind === 'credit' ? input.amount : -input.amount;
        if (balance.available + delta < 0n) throw new InsufficientBalanceError(input.userId, input.asset);
        // available + held bounds both columns for good: holds and releases only move between them.
        if (balance.available + balance.held + delta > MAX_STORED_UNITS) throw new BalanceLimitError(input.userId, input.asset);
        balance.available += delta;
        const journalId = await journal(trx, { kind, ...input }, [
          [account.available(input.userId), delta],
          ['external', -delta],
        ]);
        await trx
          .insertInto('ledger_references')
          .values({
            kind,
            reference: input.reference,
            user_id: input.userId,
            asset: input.asset,
            amount: input.amount.toString(),
            journal_id: journalId,
            created_at: Date.now(),
          })
          .execute();
        await writeBalance(trx, input.userId, balance);
        return { journalId, replayed: false, balance };
      });

    const replay = async (
      trx: Tx,
      existing: { user_id: string; asset: string; amount: string; journal_id: string },
    ): Promise<MovementResult> => {
      if (existing.user_id !== input.userId || existing.asset !== input.asset || BigInt(existing.amount) !== input.amount) {
        throw new ReferenceConflictError(kind, input.reference);
      }
      const balance = await lockBalance(trx, input.userId, input.asset, false);
      return { journalId: existing.journal_id, replayed: true, balance };
    };

    try {
      return await run();
    } catch (err) {
      // Two requests with one new reference raced; the loser sees the winner's row on retry.
      if (isUniqueViolation(err)) return run();
      throw err;
    }
  }

  return {
    credit: (input: LedgerMovement) => move('credit', input),
    debit: (input: LedgerMovement) => move('debit', input),

    /** Moves `amount` from available to held, inside the caller's transaction. */
    async hold(trx: Tx, input: { userId: string; asset: string; amount: bigint; withdrawalId: string }): Promise<void> {
      const balance = await lockBalance(trx, input.userId, input.asset, false);
      if (balance.available < input.amount) throw new InsufficientBalanceError(input.userId, input.asset);
      balance.available -= input.amount;
      balance.held += input.amount;
      await journal(trx, { kind: 'hold', reference: input.withdrawalId, ...input }, [
        [account.available(input.userId), -input.amount],
        [account.held(input.userId), input.amount],
      ]);
      await writeBalance(trx, input.userId, balance);
    },

    /** Gives a hold back to available (rejected, failed or cancelled withdrawal). */
    async release(trx: Tx, input: { userId: string; asset: string; amount: bigint; withdrawalId: string }): Promise<void> {
      const balance = await lockBalance(trx, input.userId, input.asset, false);
      balance.held -= input.amount;
      balance.available += input.amount;
      await journal(trx, { kind: 'release', reference: input.withdrawalId, ...input }, [
        [account.held(input.userId), -input.amount],
        [account.available(input.userId), input.amount],
      ]);
      await writeBalance(trx, input.userId, balance);
    },

    /** Turns a hold of `amount + fee` into a payout and a fee (completed withdrawal). */
    async settle(
      trx: Tx,
      input: { userId: string; asset: string; amount: bigint; fee: bigint; withdrawalId: string },
    ): Promise<void> {
      const total = input.amount + input.fee;
      const balance = await lockBalance(trx, input.userId, input.asset, false);
      balance.held -= total;
      await journal(trx, { kind: 'settle', reference: input.withdrawalId, ...input }, [
        [account.held(input.userId), -total],
        ['payouts', input.amount],
        ['fees', input.fee],
      ]);
      await writeBalance(trx, input.userId, balance);
    },

    async balances(userId: string): Promise<Balance[]> {
      const rows = await db.kysely
        .selectFrom('balances')
        .select(['asset', 'available', 'held'])
        .where('user_id', '=', userId)
        .orderBy('asset')
        .execute();
      return rows.map((r) => ({ asset: r.asset, available: BigInt(r.available), held: BigInt(r.held) }));
    },
  };
}

export type Ledger = ReturnType<typeof createLedger>;
