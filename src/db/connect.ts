import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type SqliteDatabase from 'better-sqlite3';
import { Kysely, MysqlDialect, type MysqlPool, type MysqlPoolConnection, type MysqlQueryResult } from 'kysely';
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

export type OpenDatabaseOptions = {
  /** MySQL connections in the pool. */
  poolSize?: number;
  /**
   * MySQL: a statement without an answer after this long fails (transient, like a lost connection)
   * and its connection is dropped; unset or 0 waits as long as the socket lives. See openMysql.
   */
  queryTimeoutMs?: number;
};

/**
 * Opens `sqlite:<file>` (embedded dev mode; one process owns the file) or `mysql://…`
 * (MySQL/Aurora/MariaDB; any number of processes).
 */
export function openDatabase(url: string, options: OpenDatabaseOptions = {}): Db {
  if (url.startsWith('sqlite:')) return openSqlite(url.slice('sqlite:'.length));
  if (url.startsWith('mysql://')) return openMysql(url, options.poolSize ?? 10, options.queryTimeoutMs ?? 0);
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

function openMysql(url: string, connectionLimit: number, queryTimeoutMs: number): Db {
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
  const kysely = new Kysely<Database>({ dialect: new MysqlDialect({ pool: queryTimeoutMs > 0 ? withQueryTimeout(pool, queryTimeoutMs) : pool }) });
  return { kysely, dialect: 'mysql', close: () => kysely.destroy() };
}

/**
 * A pool whose connections give every statement `timeoutMs` to be answered. mysql2 waits as long
 * as the socket lives, and a server that vanished without a reset (a network partition, a
 * failover that blackholes the old primary) keeps a socket alive for the kernel's retransmission
 * timeout, about 15 minutes: every lane's transaction would hang that long, with no error to alert
 * on. mysql2's own `timeout` fails the statement but leaves its connection busy with it, so the
 * connection is destroyed too; the pool opens a fresh one. Whether a COMMIT that timed out took
 * effect is unknown, as after any lost connection: callers re-read the database (DESIGN §3).
 * Streams (`.stream()`, no callback) are left unbounded: an export may rightly take minutes.
 */
function withQueryTimeout(pool: Mysql2.Pool, timeoutMs: number): MysqlPool {
  const wrapped = new WeakMap<Mysql2.PoolConnection, MysqlPoolConnection>();
  const wrap = (conn: Mysql2.PoolConnection): MysqlPoolConnection => {
    let w = wrapped.get(conn);
    if (!w) {
      const query = (sql: string, values: unknown[], callback?: (error: unknown, result: MysqlQueryResult) => void) => {
        if (!callback) return conn.query(sql, values);
        conn.query({ sql, values, timeout: timeoutMs }, (err, result) => {
          if (err?.code === 'PROTOCOL_SEQUENCE_TIMEOUT') conn.destroy();
          callback(err, result as MysqlQueryResult);
        });
      };
      w = { query: query as MysqlPoolConnection['query'], release: () => conn.release() };
      wrapped.set(conn, w);
    }
    return w;
  };
  return {
    getConnection: (callback) => pool.getConnection((err, conn) => callback(err, err ? (conn as never) : wrap(conn))),
    end: (callback) => pool.end(callback),
  };
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
