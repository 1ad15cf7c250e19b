import type { Common } from '../common.js';
import type { Db } from '../db/connect.js';
import { type Tx, withTransaction } from '../db/transaction.js';
import type { Queue, RequestMessage, SignedMessage } from '../queue/types.js';
import { PAUSED_CODE, pauseReason, type Pauses } from '../settings/pause.js';
import { sleep } from '../util/sleep.js';

export type ReconcilerDeps = {
  common: Common;
  db: Db;
  requests: Queue<RequestMessage>;
  signed: Queue<SignedMessage>;
  /** With it, withdrawals that waited on a pause are queued again as soon as the pause is lifted. */
  pauses?: Pauses;
};

type StuckRow = { id: string; status: string; tx_hash: string | null; chain_id: number; wallet: string | null };

/** A withdrawal resumed after a pause is not queued again for this long (the signer may be busy). */
const RESUME_SPACING_MS = 5_000;

/**
 * Invariant 3: queues are triggers, the database is the truth. Withdrawals left in RECEIVED or
 * SIGNED longer than the timeout (a lost message, a crash between commit and enqueue, an
 * in-process queue that died with its process) are queued again. Those waiting on an operator
 * (open dead letter) are left alone. `requeued_at` spaces repeats one timeout apart.
 */
export function createReconciler(deps: ReconcilerDeps) {
  const { common, db } = deps;
  const log = common.logger.child({ component: 'reconciler' });

  /**
   * Claims rows in one transaction: `pick` reads them (through `lockedForClaim`) and they are
   * marked `requeued_at` before the commit, so tracker replicas side by side queue each row once,
   * not once per replica. Read committed on MySQL: no gap locks held against the API's inserts.
   */
  function claim<R extends { id: string }>(pick: (trx: Tx) => Promise<R[]>, now: number): Promise<R[]> {
    return withTransaction(
      db,
      async (trx) => {
        const rows = await pick(trx);
        if (rows.length > 0) await trx.updateTable('withdrawals').set({ requeued_at: now }).where('id', 'in', rows.map((r) => r.id)).execute();
        return rows;
      },
      { isolation: 'read committed' },
    );
  }

  /** On MySQL FOR UPDATE SKIP LOCKED: a replica skips what another is claiming, and never waits behind a signer's batch. */
  function lockedForClaim<Q extends { forUpdate(): { skipLocked(): Q } }>(query: Q): Q {
    return db.dialect === 'mysql' ? query.forUpdate().skipLocked() : query;
  }

  /**
   * Sends what was claimed. If the send fails, the rows are given back (`requeued_at` reset), so
   * the next pass takes them, not one timeout later.
   */
  async function sendClaimed(rows: Array<{ id: string }>, now: number, send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
    } catch (err) {
      const ids = rows.map((r) => r.id);
      await withTransaction(db, (trx) => trx.updateTable('withdrawals').set({ requeued_at: null }).where('id', 'in', ids).where('requeued_at', '=', now).execute()).catch(
        (giveBackErr: unknown) => log.warn({ err: giveBackErr, count: ids.length }, 'could not give back withdrawals whose requeue failed; they are queued again one timeout later'),
      );
      throw err;
    }
  }

  /**
   * Paused withdrawals were let go by the signer (their messages done): queue the ones whose pause
   * is lifted now, instead of after the stuck-work timeout. Few rows: RECEIVED only, by index.
   */
  async function resumeUnpaused(now: number): Promise<number> {
    if (!deps.pauses) return 0;
    const waitingOnPause = (q: Tx | Db['kysely']) =>
      q
        .selectFrom('withdrawals')
        .select(['id', 'chain_id', 'asset'])
        .where('status', '=', 'RECEIVED')
        .where('failure_code', '=', PAUSED_CODE)
        .where('nonce', 'is', null)
        .where((eb) => eb.or([eb('requeued_at', 'is', null), eb('requeued_at', '<=', now - RESUME_SPACING_MS)]));
    // Looked for first, outside the claim: most passes find none, and the pauses are read outside
    // its transaction (on SQLite the one connection is the transaction's until it ends).
    if (!(await waitingOnPause(db.kysely).limit(1).executeTakeFirst())) return 0;
    const state = await deps.pauses.read();
    const ready = await claim(async (trx) => {
      const waiting = await lockedForClaim(waitingOnPause(trx).limit(5000)).execute();
      return waiting.filter((w) => pauseReason(state, Number(w.chain_id), w.asset) === null);
    }, now);
    if (ready.length === 0) return 0;
    await sendClaimed(ready, now, () => deps.requests.sendBatch(ready.map((w) => ({ body: { withdrawalId: w.id } }))));
    common.metrics.requeued.inc({ status: 'RECEIVED' }, ready.length);
    log.info({ count: ready.length }, 'queued withdrawals again after their pause was lifted');
    return ready.length;
  }

  /** The rows left in RECEIVED or SIGNED past the cutoff, not waiting on an operator, oldest first. */
  function claimStuck(cutoff: number, now: number): Promise<StuckRow[]> {
    return claim(
      (trx) =>
        lockedForClaim(
          trx
            .selectFrom('withdrawals as w')
            .select(['w.id', 'w.status', 'w.tx_hash', 'w.chain_id', 'w.wallet'])
            .where('w.status', 'in', ['RECEIVED', 'SIGNED'])
            .where('w.updated_at', '<=', cutoff)
            .where((eb) => eb.or([eb('w.requeued_at', 'is', null), eb('w.requeued_at', '<=', cutoff)]))
            .where((eb) =>
              eb.not(
                eb.exists(
                  eb.selectFrom('dead_letters as d').select('d.id').whereRef('d.withdrawal_id', '=', 'w.id').where('d.status', '=', 'open'),
                ),
              ),
            )
            .orderBy('w.updated_at')
            .limit(1000),
        ).execute(),
      now,
    );
  }

  async function tick(olderThanMs = common.config.reconcileAfterSeconds * 1000): Promise<{ requeued: number }> {
    const now = Date.now();
    const resumed = await resumeUnpaused(now);
    const rows = await claimStuck(now - olderThanMs, now);
    if (rows.length === 0) return { requeued: resumed };

    // One batch per queue: a backlog of hundreds after an outage is a few dozen SQS calls, not one round trip each.
    const received = rows.filter((w) => w.status === 'RECEIVED');
    const signed = rows.filter((w) => w.status === 'SIGNED' && w.tx_hash);
    await sendClaimed(rows, now, () =>
      Promise.all([
        deps.requests.sendBatch(received.map((w) => ({ body: { withdrawalId: w.id } }))),
        deps.signed.sendBatch(signed.map((w) => ({ body: { withdrawalId: w.id, txHash: w.tx_hash! }, options: { groupId: `${w.chain_id}:${w.wallet}` } }))),
      ]),
    );
    for (const w of rows) common.metrics.requeued.inc({ status: w.status });
    log.info({ count: rows.length }, 're-enqueued stuck withdrawals');
    return { requeued: rows.length + resumed };
  }

  return {
    tick,
    async run(): Promise<void> {
      while (!common.signal.aborted) {
        try {
          await tick();
        } catch (err) {
          log.error({ err }, 'reconcile tick failed');
        }
        await sleep(common.config.reconcileIntervalMs, common.signal);
      }
    },
  };
}
