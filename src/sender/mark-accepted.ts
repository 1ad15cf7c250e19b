import { defineWriteTask } from '../db/write-task.js';
import { createAttempts } from '../withdrawals/attempts.js';
import { openTransitions } from '../withdrawals/repository.js';

/** Waits a node's acceptance ends: the wallet could pay after all, or the fees are back under the cap. */
const WAITS_ENDED_BY_ACCEPTANCE = new Set(['hot_wallet_insufficient_funds', 'fee_cap_reached']);

/** A tx a node accepted, and when (ms): the attempt's broadcast time is the node's answer, not this commit's. */
export type AcceptedTx = { id: string; txHash: string; acceptedAt: number };

/**
 * What a node's acceptance changes, for many broadcasts per commit: the attempt's broadcast
 * times, a wait the row described is over, and SIGNED -> BROADCAST by compare-and-set (only
 * while in flight: a settled row never changes again, the status API caches it). One result per
 * item: whether it moved to BROADCAST. A write task: on SQLite it runs on the write worker.
 */
export const markAccepted = defineWriteTask(import.meta.url, 'markAccepted', async ({ db, trx }, items: AcceptedTx[]): Promise<boolean[]> => {
  const attempts = createAttempts(db);
  for (const item of items) await attempts.markBroadcast(item.txHash, trx, item.acceptedAt);
  const ids = [...new Set(items.map((i) => i.id))];
  const rows = await trx.selectFrom('withdrawals').select(['id', 'status', 'failure_code']).where('id', 'in', ids).execute();
  const current = new Map<string, (typeof rows)[number]>();
  for (const r of rows) current.set(r.id, r);
  const transitions = openTransitions(trx);
  const results: boolean[] = [];
  for (const item of items) {
    const row = current.get(item.id);
    const inFlight = row?.status === 'SIGNED' || row?.status === 'BROADCAST';
    if (inFlight && row.failure_code !== null && WAITS_ENDED_BY_ACCEPTANCE.has(row.failure_code)) {
      await trx.updateTable('withdrawals').set({ failure_code: null, failure_reason: null }).where('id', '=', item.id).where('status', '=', row.status).execute();
      current.set(item.id, { ...row, failure_code: null });
    }
    if (row?.status !== 'SIGNED') {
      results.push(false);
      continue;
    }
    transitions.moveLocked(item.id, 'SIGNED', 'BROADCAST');
    current.set(item.id, { ...current.get(item.id)!, status: 'BROADCAST' });
    results.push(true);
  }
  await transitions.flush();
  return results;
});
