import { createRequire } from 'node:module';
import type SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Db } from './connect.js';
import type { Database } from './schema.js';
import { configureSqlite } from './sqlite-pragmas.js';

/**
 * One connection to a SQLite file and its Kysely, without a write worker (the worker's own uses
 * this, as the `writer`).
 */
export function openSqliteConnection(file: string, options: { writer?: boolean } = {}): Db {
  // Loaded on first use, like mysql2 in connect.ts: a process on MySQL never opens SQLite.
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof SqliteDatabase;
  const sqlite = new Sqlite(file);
  configureSqlite(sqlite, options);
  cachePreparedStatements(sqlite);
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { kysely, dialect: 'sqlite', sqlite, close: () => kysely.destroy() };
}

/** Longer SQL is prepared per use, not cached (see below). */
const MAX_CACHED_SQL_LENGTH = 16_000;

/**
 * Kysely prepares every query anew; parsing and planning the SQL was the largest share of the
 * signer's SQLite time. The hot paths run a few dozen distinct statements, so a small cache keeps
 * them all. Safe because better-sqlite3 runs one statement at a time on the one connection.
 *
 * Kysely opens transactions with a deferred BEGIN. With the write worker's connection beside this
 * one, a deferred transaction that reads and then writes after the worker committed fails at once
 * with SQLITE_BUSY_SNAPSHOT; BEGIN IMMEDIATE takes the write lock first and waits for it instead.
 */
function cachePreparedStatements(sqlite: SqliteDatabase.Database, max = 1000): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, SqliteDatabase.Statement>();
  sqlite.prepare = ((sql: string) => {
    const source = sql === 'begin' ? 'begin immediate' : sql;
    // Multi-row inserts come in a few sizes (insert-chunks.ts) and are kept; SQL longer still is
    // a one-off whose large program would only crowd the cache (any-size batches kept here once
    // cost sluice dev 40 MB of RSS).
    if (source.length > MAX_CACHED_SQL_LENGTH) return prepare(source);
    let statement = cache.get(source);
    if (!statement) {
      statement = prepare(source);
      if (cache.size >= max) cache.delete(cache.keys().next().value!);
      cache.set(source, statement);
    }
    return statement;
  }) as typeof sqlite.prepare;
}
