import { CompiledQuery, type Insertable } from 'kysely';
import { insertChunks } from './insert-chunks.js';
import type { Database } from './schema.js';
import type { Tx } from './transaction.js';

type Row<T extends keyof Database> = Insertable<Database[T]>;

/** Lower-case words only: written into the SQL unquoted, the same on SQLite and MySQL. */
const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * A multi-row INSERT into `table` of exactly `columns`, for the hot write paths (a signer batch
 * writes a few hundred attempts, events and ledger entries per commit). Kysely builds an operation
 * node per value and compiles the whole statement again for every batch: ~17 µs of CPU per
 * 15-column row, against ~4 µs with the SQL text written once per row count and only the
 * parameters bound (SQLite, 256 rows per statement, rolled back). Rows go in chunks of
 * insertChunks' sizes, so each table has at most nine texts, and the prepared-statement cache
 * (sqlite-connection.ts) finds the same string object each time. Every column must be set in
 * every row (null where empty): a missing one is an error, not a silent default.
 */
export function defineInsert<T extends keyof Database & string>(table: T, columns: ReadonlyArray<keyof Row<T> & string>) {
  for (const name of [table, ...columns]) if (!IDENTIFIER.test(name)) throw new Error(`not a plain identifier: ${name}`);
  const head = `insert into ${table} (${columns.join(', ')}) values `;
  const tuple = `(${columns.map(() => '?').join(', ')})`;
  const sqlByCount = new Map<number, string>();

  function sqlFor(count: number): string {
    let text = sqlByCount.get(count);
    if (text === undefined) sqlByCount.set(count, (text = head + Array.from({ length: count }, () => tuple).join(', ')));
    return text;
  }

  return async function insertRows(trx: Tx, rows: ReadonlyArray<Row<T>>): Promise<void> {
    for (const chunk of insertChunks(rows as Row<T>[])) {
      const parameters: unknown[] = [];
      for (const row of chunk) {
        for (const column of columns) {
          const value = row[column];
          if (value === undefined) throw new Error(`${table}.${column} is not set in a row to insert`);
          parameters.push(value);
        }
      }
      await trx.executeQuery(CompiledQuery.raw(sqlFor(chunk.length), parameters));
    }
  };
}
