import type { Address, Hex } from 'viem';
import { lockForUpdate } from '../db/transaction.js';
import { defineWriteTask } from '../db/write-task.js';
import { type AttemptRow, insertAttempts, type NewAttempt } from '../withdrawals/attempts.js';
import { openTransitions, type WithdrawalRow } from '../withdrawals/repository.js';
import type { FeePair } from './fees.js';

export type StoreRequest = { id: string; wallet: Address; nonce: number; txHash: Hex; raw: Hex; kind: 'transfer' | 'cancel'; fees: FeePair; gas: bigint };

/**
 * Stores signatures by compare-and-set on their reservation, many per commit: only if the
 * withdrawal still holds exactly this wallet and nonce, has no signed tx yet, and still wants
 * this kind of tx (a cancel once cancel_reason is set, the payout otherwise). One result per
 * request: whether it was stored. A write task: on SQLite it runs on the write worker.
 */
export const storeSignatures = defineWriteTask(import.meta.url, 'storeSignatures', async ({ db, trx }, items: StoreRequest[]): Promise<boolean[]> => {
  const ids = new Set<string>();
  for (const item of items) ids.add(item.id);
  const rows = await lockForUpdate(db, trx.selectFrom('withdrawals').select(['id', 'chain_id', 'status', 'tx_hash', 'wallet', 'nonce', 'cancel_reason']).where('id', 'in', [...ids]).orderBy('id')).execute();
  const current = new Map<string, (typeof rows)[number]>();
  for (const r of rows) current.set(r.id, r);
  const transitions = openTransitions(trx);
  const stored: NewAttempt[] = [];
  const results: boolean[] = [];
  for (const item of items) {
    const row = current.get(item.id);
    if (!row || row.status !== 'RECEIVED' || row.tx_hash !== null || row.wallet !== item.wallet || Number(row.nonce) !== item.nonce || (item.kind === 'cancel') !== (row.cancel_reason !== null)) {
      results.push(false);
      continue;
    }
    transitions.moveLocked(
      item.id,
      'RECEIVED',
      'SIGNED',
      { tx_hash: item.txHash, failure_code: null, failure_reason: null },
      item.kind === 'cancel' ? { code: 'cancel', detail: `nonce ${item.nonce} to be filled with a cancel: ${row.cancel_reason}` } : {},
    );
    stored.push(attemptRow(row, item.wallet, item.nonce, item.txHash, item.raw, item.kind, item.fees, item.gas));
    current.set(item.id, { ...row, status: 'SIGNED', tx_hash: item.txHash });
    results.push(true);
  }
  await insertAttempts(trx, stored);
  await transitions.flush();
  return results;
});

export function attemptRow(w: Pick<WithdrawalRow, 'id' | 'chain_id'>, wallet: Address, nonce: number, txHash: Hex, raw: Hex, kind: AttemptRow['kind'], fees: FeePair, gas: bigint) {
  return {
    withdrawal_id: w.id,
    chain_id: w.chain_id,
    wallet,
    nonce,
    tx_hash: txHash,
    raw_tx: raw,
    kind,
    max_fee_per_gas: fees.maxFeePerGas.toString(),
    max_priority_fee_per_gas: fees.maxPriorityFeePerGas.toString(),
    gas_limit: Number(gas),
  };
}
