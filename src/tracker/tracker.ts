import type { Hash, TransactionReceipt } from 'viem';
import type { ChainRpc } from '../chain/rpc.js';
import type { Common } from '../common.js';
import type { Db } from '../db/connect.js';
import type { WithdrawalStatus } from '../db/schema.js';
import { withTransaction } from '../db/transaction.js';
import type { Ledger } from '../ledger/ledger.js';
import { sleep } from '../util/sleep.js';
import type { WithdrawalRepository, WithdrawalRow } from '../withdrawals/repository.js';

export type TrackerDeps = {
  common: Common;
  db: Db;
  ledger: Ledger;
  withdrawals: WithdrawalRepository;
  chains: Map<number, ChainRpc>;
};

export type TickResult = { checked: number; transitions: number };

/**
 * Transaction Tracker: follows BROADCAST and CONFIRMING withdrawals on chain. It looks up the
 * receipt of EVERY hash signed for a withdrawal (a bump or cancel may be the one mined,
 * invariant 7), counts confirmations, and at the chain's requirement settles the ledger:
 * success -> COMPLETED (hold becomes payout + fee), reverted -> FAILED (hold released).
 * A CONFIRMING withdrawal whose receipt vanished was reorged out and goes back to BROADCAST.
 */
export function createTracker(deps: TrackerDeps) {
  const { common, db, ledger, withdrawals } = deps;
  const log = common.logger.child({ component: 'tracker' });
  const batchSize = 500;

  async function minedReceipt(chain: ChainRpc, withdrawalId: string): Promise<TransactionReceipt | null> {
    const attempts = await db.kysely.selectFrom('tx_attempts').select('tx_hash').where('withdrawal_id', '=', withdrawalId).execute();
    const receipts = await Promise.all(attempts.map((a) => chain.receipt(a.tx_hash as Hash)));
    return receipts.find((r) => r !== null) ?? null;
  }

  async function move(w: WithdrawalRow, path: WithdrawalStatus[], patch: Parameters<WithdrawalRepository['transition']>[4], settle: 'complete' | 'fail' | null, event: { code?: string; detail?: string } = {}) {
    await withTransaction(db, async (trx) => {
      for (let i = 0; i + 1 < path.length; i++) {
        await withdrawals.transition(trx, w.id, path[i]!, path[i + 1]!, patch, i + 2 === path.length ? event : {});
      }
      const amount = BigInt(w.amount);
      const fee = BigInt(w.fee);
      if (settle === 'complete') await ledger.settle(trx, { userId: w.user_id, asset: w.asset, amount, fee, withdrawalId: w.id });
      if (settle === 'fail') await ledger.release(trx, { userId: w.user_id, asset: w.asset, amount: amount + fee, withdrawalId: w.id });
    });
    for (let i = 0; i + 1 < path.length; i++) common.metrics.transitions.inc({ from: path[i]!, to: path[i + 1]! });
  }

  async function trackOne(chain: ChainRpc, head: bigint, w: WithdrawalRow): Promise<boolean> {
    const fields = { withdrawalId: w.id, chainId: w.chain_id, wallet: w.wallet, nonce: w.nonce };
    const receipt = await minedReceipt(chain, w.id);
    if (!receipt) {
      if (w.status !== 'CONFIRMING') return false;
      await move(w, ['CONFIRMING', 'BROADCAST'], { block_number: null, confirmations: 0 }, null, { code: 'reorged', detail: `tx ${w.tx_hash} left the chain` });
      log.warn(fields, 'transaction no longer in the chain (reorg); back to BROADCAST');
      return true;
    }
    const confirmations = Number(head - receipt.blockNumber + 1n);
    const patch = { tx_hash: receipt.transactionHash, block_number: Number(receipt.blockNumber), confirmations: Math.max(confirmations, 0) };
    const from: WithdrawalStatus[] = w.status === 'BROADCAST' ? ['BROADCAST', 'CONFIRMING'] : ['CONFIRMING'];
    const logFields = { ...fields, txHash: receipt.transactionHash, block: Number(receipt.blockNumber), confirmations };

    if (confirmations >= chain.chain.confirmations) {
      if (receipt.status === 'success') {
        await move(w, [...from, 'COMPLETED'], patch, 'complete');
        log.info(logFields, 'withdrawal completed');
      } else {
        await move(w, [...from, 'FAILED'], { ...patch, failure_code: 'reverted', failure_reason: 'The transaction reverted on chain.' }, 'fail', { code: 'reverted' });
        log.warn(logFields, 'transaction reverted; withdrawal failed and hold released');
      }
      return true;
    }
    if (w.status === 'BROADCAST') {
      await move(w, from, patch, null);
      log.info(logFields, 'transaction included; confirming');
      return true;
    }
    if (w.confirmations !== confirmations || w.block_number !== patch.block_number) {
      await withdrawals.updateConfirmations(w.id, 'CONFIRMING', patch.confirmations);
    }
    return false;
  }

  async function tickChain(chain: ChainRpc): Promise<TickResult> {
    const head = await chain.blockNumber();
    common.metrics.chainHead.set({ chain_id: String(chain.chain.chainId) }, Number(head));
    const rows = await db.kysely
      .selectFrom('withdrawals')
      .selectAll()
      .where('chain_id', '=', chain.chain.chainId)
      .where('status', 'in', ['BROADCAST', 'CONFIRMING'])
      .orderBy('updated_at')
      .limit(batchSize)
      .execute();
    let transitions = 0;
    const workers = 8;
    for (let i = 0; i < rows.length; i += workers) {
      const results = await Promise.allSettled(rows.slice(i, i + workers).map((w) => trackOne(chain, head, w)));
      for (const [j, r] of results.entries()) {
        if (r.status === 'fulfilled') transitions += r.value ? 1 : 0;
        else log.warn({ withdrawalId: rows[i + j]!.id, err: r.reason }, 'tracking failed; will retry next tick');
      }
    }
    return { checked: rows.length, transitions };
  }

  async function tick(): Promise<TickResult> {
    const total = { checked: 0, transitions: 0 };
    for (const chain of deps.chains.values()) {
      try {
        const r = await tickChain(chain);
        total.checked += r.checked;
        total.transitions += r.transitions;
      } catch (err) {
        log.warn({ chainId: chain.chain.chainId, err }, 'tracker tick failed for chain');
      }
    }
    return total;
  }

  return {
    tick,
    /** Loop until shutdown; an idle tick waits the interval, a busy one goes again at once. */
    async run(): Promise<void> {
      const { signal } = common;
      while (!signal.aborted) {
        const r = await tick();
        if (r.checked >= batchSize && r.transitions > 0) continue;
        await sleep(common.config.trackerIntervalMs, signal);
      }
    },
  };
}
