import type { Common } from '../common.js';
import type { Db } from '../db/connect.js';
import type { Tx } from '../db/transaction.js';
import type { DeadLetterMessage, Queue } from '../queue/types.js';

export type DeadLetterQueueName = 'invalid' | 'tx';

export type DeadLetter = {
  queue: DeadLetterQueueName;
  withdrawalId: string;
  code: string;
  reason: string;
  attempts: number;
  payload?: unknown;
};

/**
 * Invalid DLQ (requests the signer refused) and TX DLQ (transactions the senders could not get
 * out). The database row is what operators see and act on; the queue message feeds alerting.
 * One open row per (queue, withdrawal): dead-lettering again refreshes it.
 */
export function createDeadLetters(deps: {
  db: Db;
  common: Common;
  queues: Record<DeadLetterQueueName, Queue<DeadLetterMessage>>;
}) {
  const { db, common } = deps;

  async function upsert(trx: Tx | Db['kysely'], letter: DeadLetter): Promise<void> {
    const now = Date.now();
    const payload = JSON.stringify(letter.payload ?? {});
    const updated = await trx
      .updateTable('dead_letters')
      .set({ code: letter.code, reason: letter.reason, attempts: letter.attempts, status: 'open', payload, updated_at: now, resolved_by: null, resolution_reason: null, resolved_at: null })
      .where('queue', '=', letter.queue)
      .where('withdrawal_id', '=', letter.withdrawalId)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) > 0) return;
    await insertIfMissing(trx, letter);
  }

  async function insertIfMissing(trx: Tx | Db['kysely'], letter: DeadLetter): Promise<void> {
    const now = Date.now();
    await trx
      .insertInto('dead_letters')
      .values({
        queue: letter.queue,
        withdrawal_id: letter.withdrawalId,
        code: letter.code,
        reason: letter.reason,
        attempts: letter.attempts,
        status: 'open',
        payload: JSON.stringify(letter.payload ?? {}),
        created_at: now,
        updated_at: now,
      })
      .orIgnore()
      .execute();
  }

  return {
    /** Stores the dead letter inside the caller's transaction; call `announce` after commit. */
    record: (trx: Tx, letter: DeadLetter) => upsert(trx, letter),

    /** Puts the letter on its DLQ for the error handler and counts it. Best effort: the row is the truth. */
    async announce(letter: DeadLetter): Promise<void> {
      common.metrics.deadLetters.inc({ queue: letter.queue, code: letter.code });
      common.logger.warn(
        { withdrawalId: letter.withdrawalId, dlq: letter.queue, code: letter.code, attempts: letter.attempts, reason: letter.reason },
        'dead-lettered',
      );
      await deps.queues[letter.queue]
        .send({ withdrawalId: letter.withdrawalId, code: letter.code, reason: letter.reason, attempts: letter.attempts })
        .catch((err) => common.logger.error({ err, withdrawalId: letter.withdrawalId }, 'DLQ send failed'));
    },

    /** For letters that reach a DLQ without going through `record` (e.g. an SQS redrive): insert if missing. */
    ensure: (letter: DeadLetter) => insertIfMissing(db.kysely, letter),

    list(filter: { queue?: DeadLetterQueueName; status?: 'open' | 'retried' | 'discarded' } = {}) {
      let q = db.kysely.selectFrom('dead_letters').selectAll().orderBy('id', 'desc');
      if (filter.queue) q = q.where('queue', '=', filter.queue);
      if (filter.status) q = q.where('status', '=', filter.status);
      return q.execute();
    },
  };
}

export type DeadLetters = ReturnType<typeof createDeadLetters>;
