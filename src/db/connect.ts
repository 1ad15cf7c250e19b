import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type SqliteDatabase from 'better-sqlite3';
import { Kysely, MysqlDialect } from 'kysely';
import type * as Mysql2 from 'mysql2';
import type { Database } from './schema.js';
import { openSqliteConnection } from './sqlite-connection.js';
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
  // Booting the thread (its own V8, Kysely, the task modules) takes a few hundred ms: done now,
  // beside whatever the caller does next, rather than under the first request's batch.
  sqliteWriter.start();
  return {
    ...db,
    sqliteWriter,
    close: async () => {
      await sqliteWriter.close();
      await db.close();
    },
  };
}

// The drivers are loaded by the dialect that needs them (openDatabase stays synchronous, so by
// require: both are CommonJS, the same instance an import would give): a process on SQLite does not
// carry mysql2 (~10 MB of memory), nor one on MySQL better-sqlite3.
const require = createRequire(import.meta.url);

function openMysql(url: string, connectionLimit: number): Db {
  const { createPool } = require('mysql2') as typeof Mysql2;
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
