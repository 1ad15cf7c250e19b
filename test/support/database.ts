import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createConnection } from 'mysql2/promise';
import { type Db, openDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';

/** MariaDB as provisioned by scripts/provision-test-services.sh. */
export const MYSQL_SERVER_URL = 'mysql://sluice:sluice@127.0.0.1:3306';

export type TestDatabase = { url: string; drop(): Promise<void> };

/**
 * A fresh, empty database for one test file: a temp SQLite file, or a new sluice_t_* database on
 * the local MariaDB. Fails loudly if MariaDB is not there; it is never skipped.
 */
export async function createTestDatabase(kind: 'sqlite' | 'mysql'): Promise<TestDatabase> {
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-db-'));
    return { url: `sqlite:${path.join(dir, 'sluice.db')}`, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `sluice_t_${randomBytes(6).toString('hex')}`;
  let conn;
  try {
    conn = await createConnection(MYSQL_SERVER_URL);
  } catch (err) {
    throw new Error(`MariaDB is required for this test at ${MYSQL_SERVER_URL}; run scripts/provision-test-services.sh. (${(err as Error).message})`);
  }
  await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  await conn.end();
  return {
    url: `${MYSQL_SERVER_URL}/${name}`,
    drop: async () => {
      const c = await createConnection(MYSQL_SERVER_URL);
      await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await c.end();
    },
  };
}

export type MigratedDatabase = { db: Db; url: string; close(): Promise<void> };

/**
 * A fresh database (createTestDatabase) opened and migrated to the latest schema; `url` is for
 * more connections to it; `close` closes the connection and drops the database.
 */
export async function openMigratedDatabase(kind: 'sqlite' | 'mysql', options: { poolSize?: number } = {}): Promise<MigratedDatabase> {
  const database = await createTestDatabase(kind);
  const db = openDatabase(database.url, options);
  await migrateToLatest(db);
  return {
    db,
    url: database.url,
    close: async () => {
      await db.close();
      await database.drop();
    },
  };
}
