import type { WithdrawalStatus } from '../db/schema.js';
import { defineWriteTask } from '../db/write-task.js';
import { type BalanceKey, openLedgerBatch } from '../ledger/ledger.js';
import { byBalanceRow } from '../util/lock-order.js';
import { StaleTransitionError } from '../withdrawals/errors.js';
import { openTransitions, type TransitionPatch, type WithdrawalRow } from '../withdrawals/repository.js';

/**
 * What a move does to the user's hold: pay it out (COMPLETED), give it back, make a payout a hold
 * again (a COMPLETED payout a reorg beyond finality took away), or nothing.
 */
export type Settlement = 'complete' | 'release' | 'reopen' | null;

/** A withdrawal's walk along `path` (each step a compare-and-set), with the patch, the ledger settlement and the last step's event. */
export type Move = { w: Pick<WithdrawalRow, 'id' | 'user_id' | 'asset' | 'amount' | 'fee'>; path: WithdrawalStatus[]; patch: TransitionPatch; settle: Settlement; event: { code?: string; detail?: string } };

/**
 * Moves for many withdrawals per commit. Each move's first compare-and-set decides: a stale one
 * (another tracker pass got there first) writes nothing and the others go on. Balance rows are
 * locked in user/asset order, as the signer's batches take them, so no two batches deadlock.
 * One result per move: whether it was made. A write task: on SQLite it runs on the write worker.
 */
export const applyMoves = defineWriteTask(import.meta.url, 'applyMoves', async ({ db, trx }, items: Move[]): Promise<boolean[]> => {
  const transitions = openTransitions(trx);
  const results = new Map<Move, boolean>();
  const ordered = [...items].sort(byMoveBalanceRow);
  for (const m of ordered) {
    try {
      await transitions.move(m.w.id, m.path[0]!, m.path[1]!, m.patch, m.path.length === 2 ? m.event : {});
    } catch (err) {
      if (!(err instanceof StaleTransitionError)) throw err;
      results.set(m, false);
      continue;
    }
    for (let i = 1; i + 1 < m.path.length; i++) {
      await transitions.move(m.w.id, m.path[i]!, m.path[i + 1]!, m.patch, i + 2 === m.path.length ? m.event : {});
    }
    results.set(m, true);
  }
  // Balance rows after the withdrawal rows, as the signer's reservations lock them.
  // Loops, not callbacks made per batch (see ledger.ts on V8's optimized code).
  const settling: Move[] = [];
  const keys: BalanceKey[] = [];
  for (const m of ordered) {
    if (!results.get(m) || m.settle === null) continue;
    settling.push(m);
    keys.push({ userId: m.w.user_id, asset: m.w.asset });
  }
  const ledger = await openLedgerBatch(db, trx, keys);
  for (const m of settling) {
    const amount = BigInt(m.w.amount);
    const fee = BigInt(m.w.fee);
    if (m.settle === 'complete') ledger.settle({ userId: m.w.user_id, asset: m.w.asset, amount, fee, withdrawalId: m.w.id });
    else if (m.settle === 'reopen') ledger.reopen({ userId: m.w.user_id, asset: m.w.asset, amount, fee, withdrawalId: m.w.id });
    else ledger.release({ userId: m.w.user_id, asset: m.w.asset, amount: amount + fee, withdrawalId: m.w.id });
  }
  await ledger.flush();
  await transitions.flush();
  const made: boolean[] = [];
  for (const m of items) made.push(results.get(m)!);
  return made;
});

function byMoveBalanceRow(a: Move, b: Move): number {
  return byBalanceRow(a.w, b.w);
}

/**
 * Confirmation counts of CONFIRMING rows, many per commit: progress, not a transition (no event),
 * and only while the row is still CONFIRMING. A write task: on SQLite it runs on the write worker.
 */
export const recordConfirmations = defineWriteTask(import.meta.url, 'recordConfirmations', async ({ trx }, items: Array<{ id: string; confirmations: number }>): Promise<boolean[]> => {
  const now = Date.now();
  for (const item of items) {
    await trx.updateTable('withdrawals').set({ confirmations: item.confirmations, updated_at: now }).where('id', '=', item.id).where('status', '=', 'CONFIRMING').execute();
  }
  return items.map(() => true);
});
