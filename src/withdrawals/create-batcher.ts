import { timeDbBatch } from '../db/batch-timing.js';
import type { Db } from '../db/connect.js';
import { isTransientDbError, isUniqueViolation } from '../db/errors.js';
import { RetryableError } from '../errors/base.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { sleep } from '../util/sleep.js';
import { IdempotencyKeyReusedError } from './errors.js';
import { insertWithdrawals, MAX_INSERT_ROWS, scopedKey } from './insert-batch.js';
import { type CreateResult, type NewWithdrawal, newWithdrawalRow, replayOrCreated, type WithdrawalRow } from './repository.js';

/** The database could not store the request now (outage, lost connection, locked file): retry later, same key. */
export class DatabaseUnavailableError extends RetryableError {
  override name = 'DatabaseUnavailableError';
  constructor(cause: unknown) {
    super('The database is unavailable; nothing was stored.', { code: 'database_unavailable', cause });
  }
}

type Item = {
  row: WithdrawalRow;
  response: unknown;
  requestHash: string;
  resolve: (result: CreateResult) => void;
  reject: (err: unknown) => void;
};

export type WithdrawalIntakeOptions = {
  db: Db;
  logger: Logger;
  metrics: Pick<Metrics, 'dbBatchSeconds' | 'dbBatchRows'>;
  /** Called once per committed batch with the rows it created (not replays), before their callers are answered. */
  afterCommit?: (created: WithdrawalRow[]) => Promise<void>;
  /** Rows per transaction. */
  maxBatch?: number;
  /** Transactions in flight at once (intakeConcurrency). */
  concurrency?: number;
};

/**
 * Batches stored at once. On a SQLite file, two: the write worker runs them one after the other,
 * but the next batch is already waiting there when a commit returns, instead of after the main
 * thread has answered the last batch's callers (bench api-sqlite with wrk, alternated runs:
 * 6,939, 6,635 and 7,222/s against 6,089 and 5,437/s with one). Without a write worker (`:memory:`)
 * one. On MySQL up to four, two pool connections left for everything else.
 */
export function intakeConcurrency(db: Pick<Db, 'dialect' | 'sqliteWriter'>, poolSize: number): number {
  if (db.dialect === 'sqlite') return db.sqliteWriter ? 2 : 1;
  return Math.max(1, Math.min(4, poolSize - 2));
}

/**
 * Group commit for POST /v1/withdrawals. Requests that arrive while a commit is running are
 * gathered and stored together by the next one: one transaction, one commit (one fsync) per batch,
 * and each caller is answered only once its own row and RECEIVED event are committed.
 *
 * - Idempotency: a request whose (API key, Idempotency-Key) is already waiting or being stored in
 *   this process waits for that one and gets its outcome as a replay (same body) or
 *   IdempotencyKeyReusedError (other body); other processes are covered by the unique index,
 *   which insertWithdrawals reads before it inserts.
 * - A failing batch fails no innocent request: a transient database error (lost connection,
 *   busy file) retries the batch a few times (safe: a row already committed is recognised by its
 *   id), then answers DatabaseUnavailableError; any other error (a unique violation from a
 *   racing process, one bad row) stores the batch's rows one by one, so only the bad one fails.
 */
export function createWithdrawalIntake(options: WithdrawalIntakeOptions) {
  const { db, logger, metrics, afterCommit } = options;
  const maxBatch = Math.min(options.maxBatch ?? 256, MAX_INSERT_ROWS);
  const concurrency = options.concurrency ?? intakeConcurrency(db, 6);
  let waiting: Item[] = [];
  let running = 0;
  let scheduled = false;
  /** (API key, Idempotency-Key) -> the request being stored under it. */
  const inFlight = new Map<string, Promise<CreateResult>>();

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    // setImmediate, not a microtask: every request the event loop has parsed this turn joins the batch.
    setImmediate(() => {
      scheduled = false;
      while (running < concurrency && waiting.length > 0) {
        const batch = waiting.length <= maxBatch ? waiting : waiting.slice(0, maxBatch);
        waiting = waiting.length <= maxBatch ? [] : waiting.slice(maxBatch);
        running += 1;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          running -= 1;
          if (waiting.length > 0) schedule();
        };
        void flush(batch, release).finally(release);
      }
    });
  }

  type Settled = { item: Item; outcome: Awaited<ReturnType<typeof insertWithdrawals>>[number] };

  /**
   * Stores one batch, then answers its callers. `release` frees the batch's slot once its
   * transaction is over: the next batch is stored while this one's rows go to the signer's queue
   * (an SQS send in production) and its callers are answered, instead of after.
   */
  async function flush(batch: Item[], release: () => void): Promise<void> {
    try {
      // Loops, not callbacks made per batch: V8 drops such callbacks' optimized code at every full
      // collection and compiles it again (see ledger.ts).
      const rows: WithdrawalRow[] = [];
      for (const item of batch) rows.push(item.row);
      const outcomes = await timeDbBatch(metrics, 'intake', rows.length, () => withTransientRetry(() => insertWithdrawals(db, rows)));
      const done: Settled[] = [];
      for (let n = 0; n < batch.length; n++) done.push({ item: batch[n]!, outcome: outcomes[n]! });
      release();
      await settle(done);
    } catch (err) {
      if (isTransientDbError(err)) {
        for (const item of batch) item.reject(new DatabaseUnavailableError(err));
        return;
      }
      if (batch.length > 1) logger.warn({ err, batch: batch.length }, 'withdrawal batch failed; storing its rows one by one');
      await Promise.all(batch.map((item) => storeAlone(item)));
    }
  }

  async function storeAlone(item: Item): Promise<void> {
    try {
      const [outcome] = await timeDbBatch(metrics, 'intake', 1, () =>
        withTransientRetry(async () => {
          try {
            return await insertWithdrawals(db, [item.row]);
          } catch (err) {
            // Taken by another process between read and insert: the next read finds it.
            if (isUniqueViolation(err)) return insertWithdrawals(db, [item.row]);
            throw err;
          }
        }),
      );
      await settle([{ item, outcome: outcome! }]);
    } catch (err) {
      item.reject(asUnavailable(err));
    }
  }

  async function settle(done: Settled[]): Promise<void> {
    const created: WithdrawalRow[] = [];
    for (const d of done) if (d.outcome.kind === 'stored') created.push(d.item.row);
    if (created.length > 0 && logger.isLevelEnabled('info')) logger.info({ withdrawalIds: created.map((r) => r.id), count: created.length }, 'withdrawals received');
    if (created.length > 0 && afterCommit) {
      await afterCommit(created).catch((err) => logger.error({ err, count: created.length }, 'after-commit step failed; the reconciler covers it'));
    }
    for (const { item, outcome } of done) {
      try {
        item.resolve(replayOrCreated(outcome, item.row, item.response, item.requestHash));
      } catch (err) {
        item.reject(err);
      }
    }
  }

  async function withTransientRetry<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= 3 || !isTransientDbError(err)) throw err;
        await sleep(25 * attempt);
      }
    }
  }

  function enqueue(input: NewWithdrawal, render: (row: WithdrawalRow) => unknown): Promise<CreateResult> {
    const { row, response } = newWithdrawalRow(input, render);
    return new Promise<CreateResult>((resolve, reject) => {
      waiting.push({ row, response, requestHash: input.requestHash, resolve, reject });
      if (running < concurrency) schedule();
    });
  }

  return {
    /**
     * Stores the withdrawal (or finds the one stored under its key) and resolves once it is
     * committed. Throws IdempotencyKeyReusedError, DatabaseUnavailableError, or a database error.
     */
    async create(input: NewWithdrawal, render: (row: WithdrawalRow) => unknown): Promise<CreateResult> {
      const key = scopedKey(input.apiKeyId, input.idempotencyKey);
      for (;;) {
        const earlier = inFlight.get(key);
        if (!earlier) break;
        const first = await earlier.catch(() => undefined);
        if (!first) {
          // The first one failed: this request gets its own try (below, or behind another retry).
          if (inFlight.get(key) === earlier) inFlight.delete(key);
          continue;
        }
        if (first.row.request_hash !== input.requestHash) throw new IdempotencyKeyReusedError();
        return { row: first.row, response: first.response, replayed: true };
      }
      const mine = enqueue(input, render);
      inFlight.set(key, mine);
      try {
        return await mine;
      } finally {
        if (inFlight.get(key) === mine) inFlight.delete(key);
      }
    },
  };
}

export type WithdrawalIntake = ReturnType<typeof createWithdrawalIntake>;

function asUnavailable(err: unknown): unknown {
  return isTransientDbError(err) ? new DatabaseUnavailableError(err) : err;
}
