import type { Hash } from 'viem';
import type { AuditLog } from '../audit/audit-log.js';
import type { ChainRpc } from '../chain/rpc.js';
import type { Common } from '../common.js';
import type { Db } from '../db/connect.js';
import type { DeadLettersTable, WithdrawalStatus } from '../db/schema.js';
import { lockForUpdate, type Tx, withTransaction } from '../db/transaction.js';
import { SluiceError } from '../errors/base.js';
import type { Queue, RequestMessage, SignedMessage } from '../queue/types.js';
import { type AttemptRow, createAttempts, PAYOUT_KINDS } from '../withdrawals/attempts.js';
import type { WithdrawalRepository, WithdrawalRow } from '../withdrawals/repository.js';
import type { DeadLetterQueueName } from './dead-letters.js';

export type DeadLetterRow = Omit<DeadLettersTable, 'id'> & { id: number };
export type DeadLetterStatus = DeadLettersTable['status'];

/** Why an operator action on a dead letter was refused; `code` is the API's stable problem code. */
export type DeadLetterActionCode =
  | 'dead_letter_not_found'
  | 'dead_letter_not_open'
  | 'withdrawal_not_found'
  | 'withdrawal_terminal'
  | 'already_mined'
  | 'cancel_pending'
  | 'withdrawal_changed'
  | 'chain_unavailable';

export class DeadLetterActionError extends SluiceError {
  override name = 'DeadLetterActionError';
  declare readonly code: DeadLetterActionCode;
  constructor(code: DeadLetterActionCode, detail: string, readonly extra: Record<string, unknown> = {}) {
    super(detail, { code });
  }
}

/** Lost a race with the pipeline between the look and the transaction: look again. */
class ChangedMeanwhile extends Error {}

export type RetryAction = 'requeued' | 'payout_resigned' | 'rebroadcast';
export type DiscardAction = 'cancelled' | 'cancel_requested' | 'closed';

export type ActionResult<A> = {
  letter: DeadLetterRow;
  withdrawal: WithdrawalRow;
  action: A;
  /** What happens to the user's hold and the wallet's nonce, in words. */
  consequence: string;
};

export type Operator = { actor: string; reason?: string | undefined };

const TERMINAL: WithdrawalStatus[] = ['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];
const OWNS_NONCE: WithdrawalStatus[] = ['SIGNED', 'BROADCAST'];
/** Rounds of look-then-act before giving up on a withdrawal the pipeline keeps moving. */
const ROUNDS = 3;

/**
 * "Handle Error": what an operator may do with a dead letter, each action a compare-and-set on
 * the letter (only an open one) and on the withdrawal's state as seen, with its audit entry in the
 * same database transaction. Queue messages go out only after commit; if one is lost the
 * reconciler (RECEIVED) or the tracker (a nonce in flight) does the same thing later.
 *
 * - retry: RECEIVED -> queued for signing again (re-validated, held when signed); a nonce being
 *   cancelled -> the cancel is called off and the signer re-signs the payout at the same nonce
 *   (whichever of payout and cancel mines decides, invariant 7); a nonce not being cancelled -> its
 *   newest tx is broadcast again.
 * - discard: RECEIVED -> CANCELLED (nothing is held before signing); a nonce in flight -> filled
 *   with a cancel unless one of its txs is already mined (then it settles as mined); a terminal
 *   withdrawal -> the letter is just closed.
 */
export function createDeadLetterActions(deps: {
  common: Common;
  db: Db;
  withdrawals: WithdrawalRepository;
  auditLog: AuditLog;
  chains: Map<number, ChainRpc>;
  requests: Queue<RequestMessage>;
  signed: Queue<SignedMessage>;
}) {
  const { db, withdrawals, auditLog } = deps;
  const log = deps.common.logger.child({ component: 'dead-letter-actions' });
  const attempts = createAttempts(db);

  async function getLetter(id: number, trx: Tx | Db['kysely'] = db.kysely): Promise<DeadLetterRow | undefined> {
    return (await trx.selectFrom('dead_letters').selectAll().where('id', '=', id).executeTakeFirst()) as DeadLetterRow | undefined;
  }

  async function load(id: number): Promise<{ letter: DeadLetterRow; w: WithdrawalRow }> {
    const letter = await getLetter(id);
    if (!letter) throw new DeadLetterActionError('dead_letter_not_found', `No dead letter ${id}.`);
    if (letter.status !== 'open') {
      throw new DeadLetterActionError('dead_letter_not_open', `Dead letter ${id} was already ${letter.status}${letter.resolved_by ? ` by ${letter.resolved_by}` : ''}; only an open letter can be retried or discarded.`, { letterStatus: letter.status });
    }
    const w = await withdrawals.get(letter.withdrawal_id);
    if (!w) throw new DeadLetterActionError('withdrawal_not_found', `Dead letter ${id} names withdrawal ${letter.withdrawal_id}, which does not exist.`);
    return { letter, w };
  }

  /** Why a withdrawal that already has a tx in a block cannot be retried or discarded. */
  async function minedDetail(w: WithdrawalRow, minedHash: string | null): Promise<string> {
    const attempt = minedHash ? await attempts.byHash(minedHash) : undefined;
    if (attempt && !PAYOUT_KINDS.includes(attempt.kind)) {
      return `The cancel at nonce ${w.nonce} (${minedHash}) is already in a block: the withdrawal will end CANCELLED and its hold be released. Nothing was changed; close the letter once it has settled.`;
    }
    return `The payout at nonce ${w.nonce}${minedHash ? ` (${minedHash})` : ''} is already in a block: the withdrawal will settle from it (COMPLETED, or FAILED if it reverted). Nothing was changed.`;
  }

  function terminal(w: WithdrawalRow): DeadLetterActionError {
    return new DeadLetterActionError('withdrawal_terminal', `Withdrawal ${w.id} is already ${w.status}${w.failure_code ? ` (${w.failure_code})` : ''}; retrying cannot change that. Nothing was changed; discard the letter to close it.`, { withdrawalStatus: w.status });
  }

  /** The withdrawal row, locked, if it is still as the caller saw it; else ChangedMeanwhile. */
  async function lockUnchanged(trx: Tx, seen: WithdrawalRow): Promise<WithdrawalRow> {
    const current = await lockForUpdate(db, trx.selectFrom('withdrawals').selectAll().where('id', '=', seen.id)).executeTakeFirst();
    // A nonce reserved meanwhile matters as much as a status change: it means funds are held.
    if (!current || current.status !== seen.status || current.nonce !== seen.nonce || (current.cancel_reason === null) !== (seen.cancel_reason === null)) throw new ChangedMeanwhile();
    return current;
  }

  async function closeLetter(trx: Tx, letter: DeadLetterRow, status: Exclude<DeadLetterStatus, 'open'>, op: Operator): Promise<DeadLetterRow> {
    const now = Date.now();
    const r = await trx
      .updateTable('dead_letters')
      .set({ status, resolved_by: op.actor.slice(0, 100), resolution_reason: op.reason ?? null, resolved_at: now, updated_at: now })
      .where('id', '=', letter.id)
      .where('status', '=', 'open')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) {
      throw new DeadLetterActionError('dead_letter_not_open', `Dead letter ${letter.id} was resolved by someone else meanwhile; nothing was changed.`);
    }
    return (await getLetter(letter.id, trx))!;
  }

  /** A withdrawal event that is not a status change (the timeline shows the operator's act). */
  async function note(trx: Tx, w: WithdrawalRow, to: WithdrawalStatus, code: string, detail: string): Promise<void> {
    await trx.insertInto('withdrawal_events').values({ withdrawal_id: w.id, from_status: w.status, to_status: to, code, detail: detail.slice(0, 1000), created_at: Date.now() }).execute();
  }

  const state = (letter: DeadLetterRow, w: WithdrawalRow) => ({
    letter: { status: letter.status },
    withdrawal: { status: w.status, cancelReason: w.cancel_reason },
  });

  async function audit(trx: Tx, action: 'dead_letter.retry' | 'dead_letter.discard', op: Operator, before: { letter: DeadLetterRow; w: WithdrawalRow }, after: { letter: DeadLetterRow; w: WithdrawalRow }) {
    await auditLog.record(trx, {
      actor: op.actor,
      action,
      targetType: 'dead_letter',
      targetId: String(before.letter.id),
      reason: op.reason ?? null,
      before: { ...state(before.letter, before.w), withdrawalId: before.w.id },
      after: { ...state(after.letter, after.w), withdrawalId: after.w.id },
    });
  }

  /** Look, decide, act in one transaction; look again if the pipeline moved the withdrawal meanwhile. */
  async function rounds<T>(what: string, once: () => Promise<T>): Promise<T> {
    for (let round = 1; ; round++) {
      try {
        return await once();
      } catch (err) {
        if (!(err instanceof ChangedMeanwhile)) throw err;
        if (round >= ROUNDS) throw new DeadLetterActionError('withdrawal_changed', `The withdrawal kept changing state while the ${what} was being applied; nothing was changed. Look at it again and retry.`);
      }
    }
  }

  async function rebroadcastNewest(w: WithdrawalRow, latest: AttemptRow): Promise<void> {
    await deps.signed.send({ withdrawalId: w.id, txHash: latest.tx_hash }, { groupId: `${w.chain_id}:${w.wallet}` });
  }

  function retry(letterId: number, op: Operator): Promise<ActionResult<RetryAction>> {
    return rounds('retry', async () => {
      const { letter, w } = await load(letterId);
      if (TERMINAL.includes(w.status)) throw terminal(w);
      if (w.status === 'CONFIRMING') throw new DeadLetterActionError('already_mined', await minedDetail(w, w.tx_hash), { withdrawalStatus: w.status });

      if (w.status === 'RECEIVED') {
        const result = await withTransaction(db, async (trx) => {
          const current = await lockUnchanged(trx, w);
          await note(trx, current, 'RECEIVED', 'operator_retry', `${op.actor} retried dead letter ${letter.id}${op.reason ? `: ${op.reason}` : ''}`);
          const closed = await closeLetter(trx, letter, 'retried', op);
          await audit(trx, 'dead_letter.retry', op, { letter, w: current }, { letter: closed, w: current });
          return { letter: closed, withdrawal: current };
        });
        // After commit; if this send is lost the reconciler queues it (no open letter holds it back now).
        await deps.requests.send({ withdrawalId: w.id }).catch((err) => log.error({ err, withdrawalId: w.id }, 'retry enqueue failed; the reconciler will queue it'));
        log.warn({ withdrawalId: w.id, deadLetter: letter.id, actor: op.actor }, 'dead letter retried: withdrawal queued for signing again');
        return { ...result, action: 'requeued' as const, consequence: 'queued for signing again: every check runs again and the balance is held only when it is signed' };
      }

      // SIGNED or BROADCAST: the withdrawal owns a nonce.
      const latest = await attempts.latest(w.id);
      if (!latest) throw new DeadLetterActionError('withdrawal_changed', `Withdrawal ${w.id} is ${w.status} but has no signed transaction yet; look again in a moment.`);

      if (w.cancel_reason !== null) {
        // The nonce is being filled with a cancel. Call it off and re-sign the payout at the same
        // nonce, over the cancel; only once the cancel is signed, so the signer builds a fresh
        // transfer (from the asset's current settings) rather than bumping the refused bytes.
        if (latest.kind !== 'cancel') {
          throw new DeadLetterActionError('cancel_pending', `The cancel for nonce ${w.nonce} has not been signed yet; retry in a few seconds so the payout can be re-signed over it. Nothing was changed.`);
        }
        const result = await withTransaction(db, async (trx) => {
          const current = await lockUnchanged(trx, w);
          const newest = await attempts.latest(w.id, trx);
          if (newest?.tx_hash !== latest.tx_hash) throw new ChangedMeanwhile();
          const r = await trx
            .updateTable('withdrawals')
            .set({ cancel_reason: null, failure_code: null, failure_reason: null, updated_at: Date.now() })
            .where('id', '=', w.id)
            .where('status', '=', current.status)
            .where('cancel_reason', 'is not', null)
            .executeTakeFirst();
          if (Number(r.numUpdatedRows) !== 1) throw new ChangedMeanwhile();
          await note(trx, current, current.status, 'operator_retry', `${op.actor} retried dead letter ${letter.id}: cancel called off, payout to be re-signed at nonce ${current.nonce}${op.reason ? `: ${op.reason}` : ''}`);
          const closed = await closeLetter(trx, letter, 'retried', op);
          const after = (await withdrawals.get(w.id, trx))!;
          await audit(trx, 'dead_letter.retry', op, { letter, w: current }, { letter: closed, w: after });
          return { letter: closed, withdrawal: after };
        });
        // If lost, the tracker bumps the lane's head on its own: with no cancel wanted, that is the payout again.
        await deps.requests.send({ withdrawalId: w.id, action: 'bump', replaces: latest.tx_hash }).catch((err) => log.error({ err, withdrawalId: w.id }, 'bump request failed; the tracker will ask again'));
        log.warn({ withdrawalId: w.id, deadLetter: letter.id, actor: op.actor, nonce: w.nonce }, 'dead letter retried: cancel called off, payout to be re-signed at the same nonce');
        return {
          ...result,
          action: 'payout_resigned' as const,
          consequence: `the payout is re-signed at nonce ${w.nonce} over the cancel; the hold stays until one of them is mined (payout: paid; cancel: hold released)`,
        };
      }

      const result = await withTransaction(db, async (trx) => {
        const current = await lockUnchanged(trx, w);
        await note(trx, current, current.status, 'operator_retry', `${op.actor} retried dead letter ${letter.id}: rebroadcast ${latest.tx_hash}${op.reason ? `: ${op.reason}` : ''}`);
        const closed = await closeLetter(trx, letter, 'retried', op);
        await audit(trx, 'dead_letter.retry', op, { letter, w: current }, { letter: closed, w: current });
        return { letter: closed, withdrawal: current };
      });
      await rebroadcastNewest(w, latest).catch((err) => log.error({ err, withdrawalId: w.id }, 'rebroadcast enqueue failed; the tracker rebroadcasts on its own'));
      log.warn({ withdrawalId: w.id, deadLetter: letter.id, actor: op.actor, txHash: latest.tx_hash }, 'dead letter retried: newest tx rebroadcast');
      return { ...result, action: 'rebroadcast' as const, consequence: `the newest transaction at nonce ${w.nonce} is broadcast again (same signed bytes); the hold stays until it settles` };
    });
  }

  /** Receipt of any of the withdrawal's txs, or null when none is mined (per the chain now). */
  async function minedAttempt(w: WithdrawalRow): Promise<string | null> {
    const chain = deps.chains.get(Number(w.chain_id));
    if (!chain) throw new DeadLetterActionError('chain_unavailable', `No RPC endpoint is configured for chain ${w.chain_id}; cannot check whether the transaction is mined. Nothing was changed.`);
    const ours = await attempts.of(w.id);
    try {
      const receipts = await Promise.all(ours.map((a) => chain.receipt(a.tx_hash as Hash)));
      return receipts.find((r) => r !== null)?.transactionHash ?? null;
    } catch (cause) {
      throw new DeadLetterActionError('chain_unavailable', `Could not ask chain ${w.chain_id} whether the transaction is mined (${(cause as Error).message.split('\n')[0]}). Nothing was changed; try again.`);
    }
  }

  function discard(letterId: number, op: Operator & { reason: string }): Promise<ActionResult<DiscardAction>> {
    return rounds('discard', async () => {
      const { letter, w } = await load(letterId);
      if (w.status === 'CONFIRMING') throw new DeadLetterActionError('already_mined', await minedDetail(w, w.tx_hash), { withdrawalStatus: w.status });

      if (TERMINAL.includes(w.status)) {
        const result = await withTransaction(db, async (trx) => {
          const current = await lockUnchanged(trx, w);
          const closed = await closeLetter(trx, letter, 'discarded', op);
          await audit(trx, 'dead_letter.discard', op, { letter, w: current }, { letter: closed, w: current });
          return { letter: closed, withdrawal: current };
        });
        const consequence =
          w.status === 'COMPLETED' ? 'already paid: the hold became the payout and fee' : w.status === 'REJECTED' ? 'nothing held' : 'hold released';
        return { ...result, action: 'closed' as const, consequence };
      }

      if (w.status === 'RECEIVED' && w.nonce === null) {
        // Nothing is held before a nonce is reserved: the signer holds and reserves in one
        // transaction, after re-checking the status and the reservation under a row lock.
        // (RECEIVED with a nonce reserved goes below: its nonce must be filled with a cancel.)
        const result = await withTransaction(db, async (trx) => {
          const current = await lockUnchanged(trx, w);
          await withdrawals.transition(trx, w.id, 'RECEIVED', 'CANCELLED', { failure_code: 'discarded', failure_reason: op.reason }, { code: 'discarded', detail: `${op.actor}: ${op.reason}` });
          const closed = await closeLetter(trx, letter, 'discarded', op);
          const after = (await withdrawals.get(w.id, trx))!;
          await audit(trx, 'dead_letter.discard', op, { letter, w: current }, { letter: closed, w: after });
          return { letter: closed, withdrawal: after };
        });
        deps.common.metrics.transitions.inc({ from: 'RECEIVED', to: 'CANCELLED' });
        log.warn({ withdrawalId: w.id, deadLetter: letter.id, actor: op.actor }, 'dead letter discarded: withdrawal cancelled before signing');
        return { ...result, action: 'cancelled' as const, consequence: 'nothing held' };
      }

      // SIGNED or BROADCAST: look at the chain first; a mined tx settles as what it is.
      const mined = await minedAttempt(w);
      if (mined) throw new DeadLetterActionError('already_mined', await minedDetail(w, mined), { withdrawalStatus: w.status, txHash: mined });
      const cancelReason = `operator: ${op.reason}`.slice(0, 1000);
      const result = await withTransaction(db, async (trx) => {
        const current = await lockUnchanged(trx, w);
        const r = await trx
          .updateTable('withdrawals')
          .set({ cancel_reason: cancelReason, updated_at: Date.now() })
          .where('id', '=', w.id)
          .where('status', '=', current.status)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1) throw new ChangedMeanwhile();
        await note(trx, current, current.status, 'operator_discard', `${op.actor} discarded dead letter ${letter.id}: nonce ${current.nonce} to be filled with a cancel: ${op.reason}`);
        const closed = await closeLetter(trx, letter, 'discarded', op);
        const after = (await withdrawals.get(w.id, trx))!;
        await audit(trx, 'dead_letter.discard', op, { letter, w: current }, { letter: closed, w: after });
        return { letter: closed, withdrawal: after };
      });
      // A cancel already signed for this nonce does the job; else ask for one (the tracker asks again if lost).
      const latest = await attempts.latest(w.id);
      if (latest?.kind !== 'cancel') {
        await deps.requests.send({ withdrawalId: w.id, action: 'cancel', reason: cancelReason }).catch((err) => log.error({ err, withdrawalId: w.id }, 'cancel request failed; the tracker will ask again'));
      }
      log.warn({ withdrawalId: w.id, deadLetter: letter.id, actor: op.actor, nonce: w.nonce }, 'dead letter discarded: nonce to be filled with a cancel');
      return { ...result, action: 'cancel_requested' as const, consequence: 'nonce will be filled with a cancel; hold released when it is mined' };
    });
  }

  return {
    get: (id: number) => getLetter(id),

    /** Newest first; `before` is a letter id from the previous page (exclusive). */
    async list(filter: { queue?: DeadLetterQueueName; status?: DeadLetterStatus; limit: number; before?: number }): Promise<DeadLetterRow[]> {
      let q = db.kysely.selectFrom('dead_letters').selectAll().orderBy('id', 'desc').limit(filter.limit);
      if (filter.queue) q = q.where('queue', '=', filter.queue);
      if (filter.status) q = q.where('status', '=', filter.status);
      if (filter.before !== undefined) q = q.where('id', '<', filter.before);
      return (await q.execute()) as DeadLetterRow[];
    },

    attemptsOf: (withdrawalId: string) => attempts.of(withdrawalId),
    retry,
    discard,
  };
}

export type DeadLetterActions = ReturnType<typeof createDeadLetterActions>;
