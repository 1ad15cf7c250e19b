import type { Common } from '../common.js';
import type { Db } from '../db/connect.js';
import { withTransaction } from '../db/transaction.js';
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
   * Its own transaction, run again when MySQL picks it as a deadlock victim (repeating it is
   * harmless): signer and sender batches lock the same rows in their own orders, and a
   * `sluice cron reconcile` that lost one exited 1 after its messages had gone out.
   */
  const markRequeued = (ids: string[], now: number) => withTransaction(db, (trx) => trx.updateTable('withdrawals').set({ requeued_at: now }).where('id', 'in', ids).execute());

  /**
   * Paused withdrawals were let go by the signer (their messages done): queue the ones whose pause
   * is lifted now, instead of after the stuck-work timeout. Few rows: RECEIVED only, by index.
   */
  async function resumeUnpaused(now: number): Promise<number> {
    if (!deps.pauses) return 0;
    const waiting = await db.kysely
      .selectFrom('withdrawals')
      .select(['id', 'chain_id', 'asset', 'requeued_at'])
      .where('status', '=', 'RECEIVED')
      .where('failure_code', '=', PAUSED_CODE)
      .where('nonce', 'is', null)
      .limit(5000)
      .execute();
    if (waiting.length === 0) return 0;
    const state = await deps.pauses.read();
    const ready = waiting.filter((w) => pauseReason(state, Number(w.chain_id), w.asset) === null && (w.requeued_at === null || Number(w.requeued_at) <= now - RESUME_SPACING_MS));
    if (ready.length > 0) {
      await deps.requests.sendBatch(ready.map((w) => ({ body: { withdrawalId: w.id } })));
      await markRequeued(ready.map((r) => r.id), now);
      common.metrics.requeued.inc({ status: 'RECEIVED' }, ready.length);
      log.info({ count: ready.length }, 'queued withdrawals again after their pause was lifted');
    }
    return ready.length;
  }

  /**
   * Picks the stuck rows and marks them requeued in one transaction, so tracker replicas side by
   * side queue each row once, not once per replica. On MySQL the rows are read FOR UPDATE SKIP
   * LOCKED (a replica skips what another is claiming, and never waits behind a signer's batch) at
   * READ COMMITTED (no gap locks held against the API's inserts).
   */
  function claimStuck(cutoff: number, now: number): Promise<StuckRow[]> {
    return withTransaction(
      db,
      async (trx) => {
        const query = trx
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
          .limit(1000);
        const rows = await (db.dialect === 'mysql' ? query.forUpdate().skipLocked() : query).execute();
        if (rows.length > 0) await trx.updateTable('withdrawals').set({ requeued_at: now }).where('id', 'in', rows.map((r) => r.id)).execute();
        return rows;
      },
      { isolation: 'read committed' },
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
    try {
      await Promise.all([
        deps.requests.sendBatch(received.map((w) => ({ body: { withdrawalId: w.id } }))),
        deps.signed.sendBatch(signed.map((w) => ({ body: { withdrawalId: w.id, txHash: w.tx_hash! }, options: { groupId: `${w.chain_id}:${w.wallet}` } }))),
      ]);
    } catch (err) {
      // Claimed but not queued: eligible again at the next pass, not one timeout later.
      const ids = rows.map((r) => r.id);
      await withTransaction(db, (trx) => trx.updateTable('withdrawals').set({ requeued_at: null }).where('id', 'in', ids).where('requeued_at', '=', now).execute()).catch(() => undefined);
      throw err;
    }
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
