import { type Kysely, sql } from 'kysely';
import type { SqlDialect } from '../connect.js';

/**
 * Idempotency keys are scoped per API key: two clients that happen to pick the same key string get
 * two withdrawals and never see each other's. The unique index moves from `idempotency_key` to
 * `(api_key_id, idempotency_key)`, which is also the index every create and replay looks up by.
 */
export function idempotencyPerApiKey(dialect: SqlDialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect === 'mysql') await upMysql(db);
      else await upSqlite(db);
    },
  };
}

async function upMysql(db: Kysely<unknown>): Promise<void> {
  // MySQL DDL is not transactional: each step checks whether it already happened, so a migration
  // interrupted half-way can simply run again.
  const indexes = async () =>
    new Set(
      (
        await sql<{ name: string }>`select distinct index_name as name from information_schema.statistics where table_schema = database() and table_name = 'withdrawals'`.execute(db)
      ).rows.map((r) => r.name),
    );
  if (!(await indexes()).has('withdrawals_idempotency')) {
    await db.schema.createIndex('withdrawals_idempotency').on('withdrawals').columns(['api_key_id', 'idempotency_key']).unique().execute();
  }
  // The column-level UNIQUE of 001 is an index named after the column.
  if ((await indexes()).has('idempotency_key')) await sql`alter table withdrawals drop index idempotency_key`.execute(db);
}

/**
 * SQLite cannot drop a column's UNIQUE constraint: the table is rebuilt the way SQLite documents
 * (new table, copy, drop, rename, indexes again), from its own stored definition minus that one
 * word, so every column any earlier migration added comes along in order.
 */
async function upSqlite(db: Kysely<unknown>): Promise<void> {
  const table = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = 'withdrawals'`.execute(db);
  const definition = table.rows[0]?.sql;
  const unique = /"idempotency_key" text not null unique/g;
  if (!definition || (definition.match(unique) ?? []).length !== 1) {
    throw new Error('withdrawals table definition is not the one migration 001 created; refusing to rebuild it');
  }
  const rebuilt = definition.replace(unique, '"idempotency_key" text not null').replace(/^create table "withdrawals"/i, 'create table "withdrawals_rebuild"');
  const indexes = await sql<{ sql: string }>`select sql from sqlite_master where type = 'index' and tbl_name = 'withdrawals' and sql is not null`.execute(db);

  await sql.raw(rebuilt).execute(db);
  await sql`insert into withdrawals_rebuild select * from withdrawals`.execute(db);
  await sql`drop table withdrawals`.execute(db);
  await sql`alter table withdrawals_rebuild rename to withdrawals`.execute(db);
  for (const index of indexes.rows) await sql.raw(index.sql).execute(db);
  await db.schema.createIndex('withdrawals_idempotency').on('withdrawals').columns(['api_key_id', 'idempotency_key']).unique().execute();
}
