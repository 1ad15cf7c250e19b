import type SqliteDatabase from 'better-sqlite3';
import type { Db } from '../db/connect.js';
import { defineWriteTask, runWriteTask } from '../db/write-task.js';
import type { WithdrawalRow } from './repository.js';

/** What the database holds for one requested row after `insertWithdrawals`. */
export type InsertOutcome =
  /** This row (its own id) is stored with its RECEIVED event, by this call or by an earlier try of it. */
  | { kind: 'stored' }
  /** The API key already used this Idempotency-Key for another withdrawal: the stored one. */
  | { kind: 'existing'; row: WithdrawalRow };

/** Rows per multi-row INSERT: ~25 parameters each stays far below SQLite's and MySQL's limits. */
export const MAX_INSERT_ROWS = 500;

/**
 * Stores new RECEIVED withdrawals and their RECEIVED events in ONE transaction (one commit, one
 * fsync for the lot), skipping rows whose (api key, Idempotency-Key) is already taken.
 *
 * The existing keys are read first and only the others inserted, with a plain INSERT: no
 * conflict-silencing insert (MySQL's INSERT IGNORE would also swallow truncation and other data
 * errors). A row found with its own id was committed by an earlier try whose answer was lost (a
 * connection killed during COMMIT), so running this again after any failure is safe: nothing is
 * stored twice and no event is written twice. A key taken by another process between the read
 * and the insert fails the whole transaction with a unique violation; the caller retries.
 * Rows must have distinct (api_key_id, idempotency_key).
 */
export async function insertWithdrawals(db: Db, rows: WithdrawalRow[]): Promise<InsertOutcome[]> {
  if (rows.length === 0) return [];
  if (db.sqlite) return runWriteTask(db, insertSqliteTask, rows);
  return db.kysely.transaction().execute(async (trx) => {
    const byApiKey = new Map<string, string[]>();
    for (const r of rows) {
      const keys = byApiKey.get(r.api_key_id);
      if (keys) keys.push(r.idempotency_key);
      else byApiKey.set(r.api_key_id, [r.idempotency_key]);
    }
    const found = new Map<string, WithdrawalRow>();
    for (const [apiKeyId, keys] of byApiKey) {
      const existing = await trx
        .selectFrom('withdrawals')
        .selectAll()
        .where('api_key_id', '=', apiKeyId)
        .where('idempotency_key', 'in', keys)
        .execute();
      for (const e of existing) found.set(scopedKey(e.api_key_id, e.idempotency_key), e);
    }

    const fresh = rows.filter((r) => !found.has(scopedKey(r.api_key_id, r.idempotency_key)));
    for (let i = 0; i < fresh.length; i += MAX_INSERT_ROWS) {
      const chunk = fresh.slice(i, i + MAX_INSERT_ROWS);
      await trx.insertInto('withdrawals').values(chunk).execute();
      await trx
        .insertInto('withdrawal_events')
        .values(chunk.map((r) => ({ withdrawal_id: r.id, from_status: null, to_status: 'RECEIVED' as const, code: null, detail: null, created_at: r.created_at })))
        .execute();
    }

    return rows.map((r): InsertOutcome => {
      const stored = found.get(scopedKey(r.api_key_id, r.idempotency_key));
      return !stored || stored.id === r.id ? { kind: 'stored' } : { kind: 'existing', row: stored };
    });
  });
}

const COLUMNS = [
  'id', 'idempotency_key', 'request_hash', 'api_key_id', 'user_id', 'asset', 'chain_id', 'to_address', 'amount', 'fee', 'status',
  'wallet', 'nonce', 'tx_hash', 'block_number', 'block_hash', 'confirmations', 'failure_code', 'failure_reason', 'create_response',
  'cancel_reason', 'requeued_at', 'created_at', 'updated_at',
] as const satisfies ReadonlyArray<keyof WithdrawalRow>;

type SqliteStatements = { find: SqliteStatement; insert: SqliteStatement; event: SqliteStatement };
type SqliteStatement = SqliteDatabase.Statement;
const statements = new WeakMap<SqliteDatabase.Database, SqliteStatements>();

/**
 * The same steps as the Kysely path with statements prepared once per connection: at thousands of
 * rows a second, compiling and preparing each batch's SQL cost more than running it. Runs on the
 * write worker for files; the task's transaction holds the connection (see Db.sqlite).
 */
export const insertSqliteTask = defineWriteTask(import.meta.url, 'insertSqliteTask', ({ db }, rows: WithdrawalRow[]) => insertSqlite(db.sqlite!, rows));

function insertSqlite(sqlite: SqliteDatabase.Database, rows: WithdrawalRow[]): InsertOutcome[] {
  let s = statements.get(sqlite);
  if (!s) {
    s = {
      find: sqlite.prepare('select * from withdrawals where api_key_id = ? and idempotency_key = ?'),
      insert: sqlite.prepare(`insert into withdrawals (${COLUMNS.join(', ')}) values (${COLUMNS.map(() => '?').join(', ')})`),
      event: sqlite.prepare(`insert into withdrawal_events (withdrawal_id, from_status, to_status, code, detail, created_at) values (?, null, 'RECEIVED', null, null, ?)`),
    };
    statements.set(sqlite, s);
  }
  const outcomes: InsertOutcome[] = [];
  for (const r of rows) {
    const stored = s.find.get(r.api_key_id, r.idempotency_key) as WithdrawalRow | undefined;
    if (stored) {
      outcomes.push(stored.id === r.id ? { kind: 'stored' } : { kind: 'existing', row: stored });
      continue;
    }
    s.insert.run(COLUMNS.map((c) => r[c]));
    s.event.run(r.id, r.created_at);
    outcomes.push({ kind: 'stored' });
  }
  return outcomes;
}

/** One string per (api key, Idempotency-Key); the separator cannot occur in either part. */
export function scopedKey(apiKeyId: string, idempotencyKey: string): string {
  return `${apiKeyId}\n${idempotencyKey}`;
}
