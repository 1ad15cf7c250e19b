import { type Kysely, sql } from 'kysely';
import type { SqlDialect } from '../connect.js';
import { columnTypes } from './column-types.js';

/**
 * Operator console (issue 8): console users get roles, sessions and a lockout record; pause
 * switches live in the database so every worker reads them without a restart; the indexes the
 * console's searches and the TX Status API need so that none of them scans the withdrawals table.
 */
export function consoleSchema(dialect: SqlDialect) {
  const { str, text, big, autoId, table } = columnTypes(dialect);

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      // Existing rows were created as the console's administrator (dev mode's `admin`).
      await db.schema.alterTable('admin_users').addColumn('role', str(16), (c) => c.notNull().defaultTo('viewer')).execute();
      await sql`update admin_users set role = 'admin'`.execute(db);
      await db.schema.alterTable('admin_users').addColumn('disabled_at', big).execute();
      await db.schema.alterTable('admin_users').addColumn('last_login_at', big).execute();
      await db.schema.alterTable('api_keys').addColumn('last_used_at', big).execute();

      // Only the sha256 of the session token is stored: a database read does not hand out sessions.
      await table(db, 'admin_sessions')
        .addColumn('token_hash', str(64), (c) => c.primaryKey())
        .addColumn('username', str(64), (c) => c.notNull())
        .addColumn('csrf_token', str(64), (c) => c.notNull())
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('last_seen_at', big, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('admin_sessions_user').on('admin_sessions').column('username').execute();

      // One row per failed login, keyed `user:<name>` and `ip:<address>`; counted over the lockout window.
      await table(db, 'admin_login_failures')
        .addColumn('id', autoId, (c) => c.primaryKey().autoIncrement())
        .addColumn('subject', str(128), (c) => c.notNull())
        .addColumn('created_at', big, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('admin_login_failures_subject').on('admin_login_failures').columns(['subject', 'created_at']).execute();

      // A row exists while its scope is paused: `global`, `chain:<id>` or `network:<asset>:<id>`.
      await table(db, 'pauses')
        .addColumn('scope_key', str(96), (c) => c.primaryKey())
        .addColumn('scope', str(16), (c) => c.notNull())
        .addColumn('chain_id', big)
        .addColumn('asset', str(16))
        .addColumn('reason', text, (c) => c.notNull())
        .addColumn('paused_by', str(100), (c) => c.notNull())
        .addColumn('paused_at', big, (c) => c.notNull())
        .execute();

      // Terminal rows never change again, so their counts are rolled up once and only the rows
      // settled since `counted_to` are counted per request (src/stats/status-counts.ts).
      await table(db, 'withdrawal_status_rollup')
        .addColumn('status', str(16), (c) => c.primaryKey())
        .addColumn('counted_to', big, (c) => c.notNull())
        .addColumn('count', big, (c) => c.notNull())
        .execute();

      // Console search and TX Status API: every query is an index range, never a table scan.
      await db.schema.createIndex('withdrawals_created').on('withdrawals').column('created_at').execute();
      await db.schema.createIndex('withdrawals_to_address').on('withdrawals').columns(['to_address', 'id']).execute();
      await db.schema.createIndex('withdrawals_status_id').on('withdrawals').columns(['status', 'id']).execute();
      await db.schema.createIndex('withdrawals_asset_chain').on('withdrawals').columns(['asset', 'chain_id', 'id']).execute();
      await db.schema.createIndex('withdrawal_events_stage').on('withdrawal_events').columns(['to_status', 'created_at']).execute();
      await db.schema.createIndex('dead_letters_status').on('dead_letters').columns(['status', 'queue']).execute();
      await db.schema.createIndex('ledger_entries_wd').on('ledger_entries').column('withdrawal_id').execute();
      await db.schema.createIndex('ledger_entries_user_id').on('ledger_entries').columns(['user_id', 'id']).execute();
      await db.schema.createIndex('audit_log_actor').on('audit_log').columns(['actor', 'id']).execute();
    },
  };
}
