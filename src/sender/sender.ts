import type { Hash, Hex } from 'viem';
import { InsufficientFundsError, NonceTooLowError } from '../chain/errors.js';
import { needsFeeBump } from '../chain/node-error.js';
import type { ChainRpc } from '../chain/rpc.js';
import { type Common, crashIfAsked } from '../common.js';
import type { Db } from '../db/connect.js';
import { withTransaction } from '../db/transaction.js';
import { timeDbBatch } from '../db/batch-timing.js';
import { preloadWriteTasks, runWriteTask } from '../db/write-task.js';
import { batchConcurrency, createMicroBatcher } from '../util/micro-batch.js';
import type { DeadLetters } from '../dlq/dead-letters.js';
import { errorCode, isRetryable, RetryableError, SluiceError } from '../errors/base.js';
import { runConsumer } from '../queue/consumer.js';
import type { Queue, RequestMessage, SignedMessage } from '../queue/types.js';
import { createAttempts } from '../withdrawals/attempts.js';
import type { WithdrawalRepository, WithdrawalRow } from '../withdrawals/repository.js';
import { type AcceptedTx, markAccepted } from './mark-accepted.js';

export type SenderDeps = {
  common: Common;
  db: Db;
  withdrawals: WithdrawalRepository;
  chains: Map<number, ChainRpc>;
  signed: Queue<SignedMessage>;
  /** Where the sender asks the signer for a fee bump or a cancel (it holds no keys itself). */
  requests: Queue<RequestMessage>;
  deadLetters: DeadLetters;
};

export type SendOutcome = 'broadcast' | 'bump-requested' | 'cancel-requested' | 'nonce-used' | 'skipped';

/** The hot wallet cannot pay gas + value right now; retried with backoff, the row shows why. */
class HotWalletEmptyError extends RetryableError {
  override name = 'HotWalletEmptyError';
}

/**
 * Transaction Senders: broadcast the stored signed bytes of a withdrawal's newest attempt (never
 * re-sign, invariant 2) and move SIGNED -> BROADCAST. What the node says decides what follows:
 * - accepted, or already known: done;
 * - a fee problem (underpriced, below base fee): ask the signer for a bump at the same nonce;
 * - the wallet cannot pay: a visible wait, retried, nothing dead-lettered;
 * - nonce too low: fine if one of our own txs took it, else the tracker proves a foreign tx did;
 * - transient (outage, rate limit, full pool): retried with backoff, then left to the tracker;
 * - anything else is a definite refusal of these bytes: TX DLQ for an operator, and the nonce is
 *   filled with a cancel so the wallet's later nonces are not stuck behind it.
 */
export function createSender(deps: SenderDeps) {
  const { common, db, withdrawals } = deps;
  const log = common.logger.child({ component: 'sender' });
  const attempts = createAttempts(db);

  const accepted = createMicroBatcher<AcceptedTx, boolean>({
    maxSize: 256,
    concurrency: batchConcurrency(db),
    run: (items) => timeDbBatch(common.metrics, 'accept', items.length, () => runWriteTask(db, markAccepted, items)),
  });

  async function refuse(w: WithdrawalRow, txHash: string, code: string, reason: string, receives: number): Promise<SendOutcome> {
    const letter = { queue: 'tx' as const, withdrawalId: w.id, code, reason, attempts: receives, payload: { txHash } };
    const cancelReason = `node refused the transaction (${code}): ${reason}`.slice(0, 1000);
    await withTransaction(db, async (trx) => {
      await attempts.markError(txHash, `${code}: ${reason}`, trx);
      await trx
        .updateTable('withdrawals')
        .set({ cancel_reason: cancelReason, failure_code: code, failure_reason: reason.slice(0, 1000) })
        .where('id', '=', w.id)
        .where('status', 'in', ['SIGNED', 'BROADCAST'])
        .where('cancel_reason', 'is', null)
        .execute();
      await deps.deadLetters.record(trx, letter);
    });
    await deps.deadLetters.announce(letter);
    await deps.requests.send({ withdrawalId: w.id, action: 'cancel', reason: cancelReason });
    return 'cancel-requested';
  }

  async function sendWithdrawal(message: SignedMessage, receives = 1): Promise<SendOutcome> {
    const w = await withdrawals.read(message.withdrawalId);
    // Already mined (CONFIRMING) or terminal: a repeat or late delivery.
    if (!w || (w.status !== 'SIGNED' && w.status !== 'BROADCAST')) return 'skipped';
    const latest = await attempts.latest(w.id);
    if (!latest) {
      log.error({ withdrawalId: w.id, txHash: message.txHash }, 'signed message for a withdrawal with no tx; dropped');
      return 'skipped';
    }
    // A bump or cancel replaced this tx since the message was queued: the newer one gets sent.
    if (latest.tx_hash !== message.txHash) return 'skipped';
    const chain = deps.chains.get(w.chain_id);
    if (!chain) throw new SluiceError(`No RPC endpoints for chain ${w.chain_id}.`, { code: 'no_chain' });
    const fields = { withdrawalId: w.id, chainId: w.chain_id, wallet: latest.wallet, nonce: latest.nonce, txHash: latest.tx_hash, kind: latest.kind };
    const count = (outcome: string) => common.metrics.broadcasts.inc({ chain_id: String(w.chain_id), outcome });

    try {
      await chain.broadcast(latest.raw_tx as Hex);
      count('accepted');
    } catch (err) {
      if (err instanceof NonceTooLowError) {
        // Only our own tx at this nonce counts as success; a hash no node knows is not ours being mined.
        const ours = await attempts.of(w.id);
        const known = await Promise.all(ours.filter((a) => a.nonce === latest.nonce).map((a) => chain.knowsTransaction(a.tx_hash as Hash)));
        if (known.some(Boolean)) {
          count('already_mined');
        } else {
          count('nonce_used');
          await attempts.markError(latest.tx_hash, 'nonce_too_low: the nonce is used by a transaction Sluice did not sign');
          log.error({ ...fields, alert: 'foreign_nonce' }, 'nonce already used on chain by an unknown tx; the tracker re-signs once that tx is final');
          return 'nonce-used';
        }
      } else if (needsFeeBump(err)) {
        count('underpriced');
        await attempts.markError(latest.tx_hash, `${(err as SluiceError).code}: ${(err as SluiceError).details ?? ''}`);
        await deps.requests.send({ withdrawalId: w.id, action: 'bump', replaces: latest.tx_hash });
        log.warn(fields, 'node wants higher fees; fee bump requested');
        return 'bump-requested';
      } else if (err instanceof InsufficientFundsError) {
        count('wallet_short');
        await attempts.markError(latest.tx_hash, `insufficient_funds: ${err.details ?? ''}`);
        await db.kysely
          .updateTable('withdrawals')
          .set({ failure_code: 'hot_wallet_insufficient_funds', failure_reason: 'The hot wallet cannot pay this transaction (value + gas); waiting for a refill.' })
          .where('id', '=', w.id)
          .where('status', 'in', ['SIGNED', 'BROADCAST'])
          .execute();
        common.metrics.hotWalletShort.inc({ chain_id: String(w.chain_id) });
        log.error({ ...fields, alert: 'hot_wallet_insufficient_funds' }, 'hot wallet cannot pay for the transaction; waiting for a refill');
        throw new HotWalletEmptyError('Hot wallet cannot pay value + gas.', { cause: err, code: 'hot_wallet_insufficient_funds' });
      } else if (isRetryable(err)) {
        count('retry');
        throw err;
      } else {
        count('rejected');
        const e = err as SluiceError;
        const code = e.code ?? 'node_rejected';
        log.error({ ...fields, code, err: e.details ?? e.message }, 'node refused transaction');
        if (latest.kind === 'cancel') throw err; // a cancel refused for good: retry, then the tracker asks again
        return refuse(w, latest.tx_hash, code, e.details ?? e.shortMessage ?? String(err), receives);
      }
    }

    const moved = await accepted.submit({ id: w.id, txHash: latest.tx_hash, acceptedAt: Date.now() });
    if (!moved) return 'broadcast';
    common.metrics.transitions.inc({ from: 'SIGNED', to: 'BROADCAST' });
    log.info(fields, 'transaction broadcast');
    crashIfAsked(common, 'after-broadcast');
    return 'broadcast';
  }

  return {
    sendWithdrawal,

    run(): Promise<void> {
      preloadWriteTasks(db, markAccepted);
      return runConsumer({
        queue: deps.signed,
        concurrency: common.config.senderConcurrency,
        maxReceives: common.config.senderMaxAttempts,
        onFailure: (err) => common.metrics.workerErrors.inc({ role: 'sender', code: errorCode(err) }),
        signal: common.signal,
        shutdownGraceMs: common.config.shutdownTimeoutMs,
        pollWaitMs: common.config.queuePollWaitSeconds * 1000,
        logger: log,
        // A lane's messages of one receive are its next nonces, in order: their broadcasts ride in
        // one JSON-RPC batch and their acceptance in one commit, instead of a round trip each.
        startGroupRunsTogether: true,
        handle: async (m) => {
          await sendWithdrawal(m.body, m.receiveCount);
        },
        onGiveUp: async (m, error) => {
          // Transient failures only (a node's refusal is handled above): the tracker rebroadcasts
          // every pending tx on its own schedule, so nothing is lost by letting go of the message.
          log.warn({ withdrawalId: m.body.withdrawalId, txHash: m.body.txHash, attempts: m.receiveCount, err: (error as Error).message }, 'broadcast still failing; the tracker will rebroadcast');
        },
      });
    },
  };
}
