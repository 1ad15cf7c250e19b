import fs from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, MysqlDialect, SqliteDialect } from 'kysely';
import { createPool } from 'mysql2';
import type { Database } from './schema.js';
import { configureSqlite } from './sqlite-pragmas.js';
import { createSqliteWriteWorker, type SqliteWriteWorker } from './sqlite-write-worker.js';

export type SqlDialect = 'sqlite' | 'mysql';

export type Db = {
  kysely: Kysely<Database>;
  dialect: SqlDialect;
  /**
   * SQLite only: the one connection Kysely also uses, for prepared statements on hot paths. Use it
   * ONLY inside a Kysely transaction callback (which holds Kysely's connection lock), or the
   * statements would land in whatever transaction another caller has open.
   */
  sqlite?: SqliteDatabase.Database;
  /** SQLite file (not `:memory:`) only: a second connection in a worker thread, for hot write paths. */
  sqliteWriter?: SqliteWriteWorker;
  close(): Promise<void>;
};

/**
 * Opens `sqlite:<file>` (embedded dev mode; one process owns the file) or `mysql://…`
 * (MySQL/Aurora/MariaDB; any number of processes).
 */
export function openDatabase(url: string, options: { poolSize?: number } = {}): Db {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length));
  if (url.startsWith('mysql://')) return openMysql(url, options.poolSize ?? 10);
  throw new Error(`Unsupported database url (want sqlite:<path> or mysql://…): ${redactUrl(url)}`);
}

function openSqlite(file: string): Db {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = openSqliteConnection(file);
  if (file === ':memory:') return db;
  const sqliteWriter = createSqliteWriteWorker(file);
  return {
    ...db,
    sqliteWriter,
    close: async () => {
      await sqliteWriter.close();
      await db.close();
    },
  };
}

/** One connection to a SQLite file and its Kysely, without a write worker (the worker's own uses this). */
export function openSqliteConnection(file: string): Db {
  const sqlite = new SqliteDatabase(file);
  configureSqlite(sqlite);
  cachePreparedStatements(sqlite);
  const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { kysely, dialect: 'sqlite', sqlite, close: () => kysely.destroy() };
}

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
    let statement = cache.get(source);
    if (!statement) {
      statement = prepare(source);
      if (cache.size >= max) cache.delete(cache.keys().next().value!);
      cache.set(source, statement);
    }
    return statement;
  }) as typeof sqlite.prepare;
}

function openMysql(url: string, connectionLimit: number): Db {
  const pool = createPool({
    uri: url,
    connectionLimit,
    // DECIMAL stays a string (mysql2's default); big integers beyond 2^53 come back as strings too.
    supportBigNumbers: true,
    bigNumberStrings: false,
    dateStrings: true,
    charset: 'utf8mb4',
  });
  const kysely = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) });
  return { kysely, dialect: 'mysql', close: () => kysely.destroy() };
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
