import type { Hash, Hex } from 'viem';
import { NonceTooLowError } from '../chain/errors.js';
import type { ChainRpc } from '../chain/rpc.js';
import { type Common, crashIfAsked } from '../common.js';
import type { Db } from '../db/connect.js';
import { withTransaction } from '../db/transaction.js';
import type { DeadLetters } from '../dlq/dead-letters.js';
import { isRetryable, SluiceError } from '../errors/base.js';
import { runConsumer } from '../queue/consumer.js';
import type { Queue, SignedMessage } from '../queue/types.js';
import type { WithdrawalRepository } from '../withdrawals/repository.js';

export type SenderDeps = {
  common: Common;
  db: Db;
  withdrawals: WithdrawalRepository;
  chains: Map<number, ChainRpc>;
  signed: Queue<SignedMessage>;
  deadLetters: DeadLetters;
};

export type SendOutcome = 'broadcast' | 'dead-lettered' | 'skipped';

/**
 * Transaction Senders: broadcast the stored signed bytes (never re-sign, invariant 2) and move
 * SIGNED -> BROADCAST. Transient failures throw so the queue redelivers with backoff; a node's
 * definite refusal goes to the TX DLQ with what the node said.
 */
export function createSender(deps: SenderDeps) {
  const { common, db, withdrawals } = deps;
  const log = common.logger.child({ component: 'sender' });

  async function deadLetter(withdrawalId: string, txHash: string, code: string, reason: string, attempts: number) {
    const letter = { queue: 'tx' as const, withdrawalId, code, reason, attempts, payload: { txHash } };
    await withTransaction(db, async (trx) => {
      await trx.updateTable('tx_attempts').set({ last_error: `${code}: ${reason}` }).where('tx_hash', '=', txHash).execute();
      await deps.deadLetters.record(trx, letter);
    });
    await deps.deadLetters.announce(letter);
  }

  async function sendWithdrawal(message: SignedMessage, attempts = 1): Promise<SendOutcome> {
    const w = await withdrawals.get(message.withdrawalId);
    if (!w || w.status !== 'SIGNED') return 'skipped'; // already out, or terminal: a repeat delivery
    const attempt = await db.kysely
      .selectFrom('tx_attempts')
      .select(['tx_hash', 'raw_tx', 'nonce', 'wallet'])
      .where('withdrawal_id', '=', w.id)
      .where('tx_hash', '=', message.txHash)
      .executeTakeFirst();
    if (!attempt) {
      log.error({ withdrawalId: w.id, txHash: message.txHash }, 'signed message names an unknown tx; dropped');
      return 'skipped';
    }
    const chain = deps.chains.get(w.chain_id);
    if (!chain) throw new SluiceError(`No RPC endpoints for chain ${w.chain_id}.`, { code: 'no_chain' });
    const fields = { withdrawalId: w.id, chainId: w.chain_id, wallet: attempt.wallet, nonce: attempt.nonce, txHash: attempt.tx_hash };

    try {
      await chain.broadcast(attempt.raw_tx as Hex);
      common.metrics.broadcasts.inc({ chain_id: String(w.chain_id), outcome: 'accepted' });
    } catch (err) {
      if (err instanceof NonceTooLowError && (await chain.knowsTransaction(attempt.tx_hash as Hash))) {
        // Our own tx already used the nonce (sent before a crash): that is success.
        common.metrics.broadcasts.inc({ chain_id: String(w.chain_id), outcome: 'already_mined' });
      } else if (isRetryable(err)) {
        common.metrics.broadcasts.inc({ chain_id: String(w.chain_id), outcome: 'retry' });
        throw err;
      } else {
        common.metrics.broadcasts.inc({ chain_id: String(w.chain_id), outcome: 'rejected' });
        const e = err as SluiceError;
        const code = err instanceof NonceTooLowError ? 'nonce_conflict' : (e.code ?? 'node_rejected');
        log.error({ ...fields, code, err: e.details ?? e.message }, 'node refused transaction');
        await deadLetter(w.id, attempt.tx_hash, code, e.details ?? e.shortMessage ?? String(err), attempts);
        return 'dead-lettered';
      }
    }

    const moved = await withTransaction(db, async (trx) => {
      const current = await withdrawals.get(w.id, trx);
      if (current?.status !== 'SIGNED') return false;
      await trx.updateTable('tx_attempts').set({ broadcast_at: Date.now(), last_error: null }).where('tx_hash', '=', attempt.tx_hash).execute();
      await withdrawals.transition(trx, w.id, 'SIGNED', 'BROADCAST');
      return true;
    });
    if (!moved) return 'skipped';
    common.metrics.transitions.inc({ from: 'SIGNED', to: 'BROADCAST' });
    log.info(fields, 'transaction broadcast');
    crashIfAsked(common, 'after-broadcast');
    return 'broadcast';
  }

  return {
    sendWithdrawal,

    run(): Promise<void> {
      return runConsumer({
        queue: deps.signed,
        concurrency: common.config.senderConcurrency,
        maxReceives: common.config.senderMaxAttempts,
        signal: common.signal,
        logger: log,
        handle: async (m) => {
          await sendWithdrawal(m.body, m.receiveCount);
        },
        onGiveUp: async (m, error) => {
          // Only transient failures get here (a node's refusal is dead-lettered in the handler):
          // leave it SIGNED and let the reconciler bring it back after its timeout.
          log.warn({ withdrawalId: m.body.withdrawalId, txHash: m.body.txHash, attempts: m.receiveCount, err: (error as Error).message }, 'broadcast still failing; reconciler will retry');
        },
      });
    },
  };
}
