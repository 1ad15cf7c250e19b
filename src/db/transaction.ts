import type { SelectQueryBuilder, Transaction } from 'kysely';
import type { Db } from './connect.js';
import { isTransientLockError } from './errors.js';
import type { Database } from './schema.js';

export type Tx = Transaction<Database>;

/**
 * Runs `fn` in a transaction, retrying a few times when MySQL picks it as a deadlock victim.
 * `fn` must therefore be free of outside side effects that cannot be repeated. `isolation` is for
 * MySQL (SQLite runs every transaction alone).
 */
export async function withTransaction<T>(db: Db, fn: (trx: Tx) => Promise<T>, options: { attempts?: number; isolation?: 'read committed' } = {}): Promise<T> {
  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      const begin = db.kysely.transaction();
      return await (options.isolation && db.dialect === 'mysql' ? begin.setIsolationLevel(options.isolation) : begin).execute(fn);
    } catch (err) {
      if (attempt >= attempts || !isTransientLockError(err)) throw err;
      await new Promise((r) => setTimeout(r, 5 * attempt + Math.random() * 20));
    }
  }
}

/**
 * Row lock for read-modify-write. MySQL needs FOR UPDATE; SQLite has no such clause and needs none,
 * because its one connection runs each transaction alone.
 */
export function lockForUpdate<DB, TB extends keyof DB, O>(
  db: Db,
  query: SelectQueryBuilder<DB, TB, O>,
): SelectQueryBuilder<DB, TB, O> {
  return db.dialect === 'mysql' ? query.forUpdate() : query;
}
