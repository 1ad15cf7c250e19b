import { defineWriteTask } from '../db/write-task.js';
import { createAttempts } from '../withdrawals/attempts.js';
import { createWithdrawalRepository } from '../withdrawals/repository.js';

/**
 * What a node's acceptance changes, for many broadcasts per commit: the attempt's broadcast
 * times, a wait the row described is over, and SIGNED -> BROADCAST by compare-and-set (only
 * while in flight: a settled row never changes again, the status API caches it). One result per
 * item: whether it moved to BROADCAST. A write task: on SQLite it runs on the write worker.
 */
export const markAccepted = defineWriteTask(import.meta.url, 'markAccepted', async ({ db, trx }, items: Array<{ id: string; txHash: string }>): Promise<boolean[]> => {
  const attempts = createAttempts(db);
  const withdrawals = createWithdrawalRepository(db);
  const results: boolean[] = [];
  for (const item of items) {
    await attempts.markBroadcast(item.txHash, trx);
    const current = await withdrawals.get(item.id, trx);
    if ((current?.status === 'SIGNED' || current?.status === 'BROADCAST') && (current.failure_code === 'hot_wallet_insufficient_funds' || current.failure_code === 'fee_cap_reached')) {
      await trx.updateTable('withdrawals').set({ failure_code: null, failure_reason: null }).where('id', '=', item.id).where('status', '=', current.status).execute();
    }
    if (current?.status !== 'SIGNED') {
      results.push(false);
      continue;
    }
    await withdrawals.transition(trx, item.id, 'SIGNED', 'BROADCAST');
    results.push(true);
  }
  return results;
});
