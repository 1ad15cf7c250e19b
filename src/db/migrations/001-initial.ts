import type { Kysely } from 'kysely';
import type { SqlDialect } from '../connect.js';
import { columnTypes } from './column-types.js';

/** The initial schema. Written once for both dialects; only column types differ. */
export function initialSchema(dialect: SqlDialect) {
  const { amount, str, text, big, autoId, table } = columnTypes(dialect);

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await table(db, 'api_keys')
        .addColumn('id', str(40), (c) => c.primaryKey())
        .addColumn('name', str(100), (c) => c.notNull())
        .addColumn('key_hash', str(64), (c) => c.notNull().unique())
        .addColumn('prefix', str(16), (c) => c.notNull())
        .addColumn('scopes', str(255), (c) => c.notNull())
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('revoked_at', big)
        .execute();

      await table(db, 'admin_users')
        .addColumn('username', str(64), (c) => c.primaryKey())
        .addColumn('password_hash', str(255), (c) => c.notNull())
        .addColumn('created_at', big, (c) => c.notNull())
        .execute();

      await table(db, 'assets')
        .addColumn('symbol', str(16), (c) => c.primaryKey())
        .addColumn('ledger_decimals', 'integer', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .execute();

      await table(db, 'asset_networks')
        .addColumn('asset', str(16), (c) => c.notNull())
        .addColumn('chain_id', big, (c) => c.notNull())
        .addColumn('chain_name', str(64), (c) => c.notNull())
        .addColumn('kind', str(16), (c) => c.notNull())
        .addColumn('contract', str(42))
        .addColumn('decimals', 'integer', (c) => c.notNull())
        .addColumn('withdrawal_fee', amount, (c) => c.notNull())
        .addColumn('min_amount', amount, (c) => c.notNull())
        .addColumn('max_amount', amount, (c) => c.notNull())
        .addColumn('gas_limit', 'integer', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addPrimaryKeyConstraint('asset_networks_pk', ['asset', 'chain_id'])
        .execute();

      await table(db, 'balances')
        .addColumn('user_id', str(64), (c) => c.notNull())
        .addColumn('asset', str(16), (c) => c.notNull())
        .addColumn('available', amount, (c) => c.notNull())
        .addColumn('held', amount, (c) => c.notNull())
        .addColumn('updated_at', big, (c) => c.notNull())
        .addPrimaryKeyConstraint('balances_pk', ['user_id', 'asset'])
        .execute();

      await table(db, 'ledger_entries')
        .addColumn('id', autoId, (c) => c.primaryKey().autoIncrement())
        .addColumn('journal_id', str(40), (c) => c.notNull())
        .addColumn('account', str(100), (c) => c.notNull())
        .addColumn('user_id', str(64))
        .addColumn('asset', str(16), (c) => c.notNull())
        .addColumn('amount', amount, (c) => c.notNull())
        .addColumn('kind', str(16), (c) => c.notNull())
        .addColumn('reference', str(128), (c) => c.notNull())
        .addColumn('withdrawal_id', str(40))
        .addColumn('created_at', big, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ledger_entries_user').on('ledger_entries').columns(['user_id', 'asset']).execute();
      await db.schema.createIndex('ledger_entries_journal').on('ledger_entries').column('journal_id').execute();

      await table(db, 'ledger_references')
        .addColumn('kind', str(16), (c) => c.notNull())
        .addColumn('reference', str(128), (c) => c.notNull())
        .addColumn('user_id', str(64), (c) => c.notNull())
        .addColumn('asset', str(16), (c) => c.notNull())
        .addColumn('amount', amount, (c) => c.notNull())
        .addColumn('journal_id', str(40), (c) => c.notNull())
        .addColumn('created_at', big, (c) => c.notNull())
        .addPrimaryKeyConstraint('ledger_references_pk', ['kind', 'reference'])
        .execute();

      await table(db, 'withdrawals')
        .addColumn('id', str(40), (c) => c.primaryKey())
        .addColumn('idempotency_key', str(255), (c) => c.notNull().unique())
        .addColumn('request_hash', str(64), (c) => c.notNull())
        .addColumn('api_key_id', str(40), (c) => c.notNull())
        .addColumn('user_id', str(64), (c) => c.notNull())
        .addColumn('asset', str(16), (c) => c.notNull())
        .addColumn('chain_id', big, (c) => c.notNull())
        .addColumn('to_address', str(42), (c) => c.notNull())
        .addColumn('amount', amount, (c) => c.notNull())
        .addColumn('fee', amount, (c) => c.notNull())
        .addColumn('status', str(16), (c) => c.notNull())
        .addColumn('wallet', str(42))
        .addColumn('nonce', big)
        .addColumn('tx_hash', str(66))
        .addColumn('block_number', big)
        .addColumn('confirmations', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('failure_code', str(64))
        .addColumn('failure_reason', text)
        .addColumn('create_response', text, (c) => c.notNull())
        .addColumn('requeued_at', big)
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('updated_at', big, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('withdrawals_status').on('withdrawals').columns(['status', 'updated_at']).execute();
      await db.schema.createIndex('withdrawals_user').on('withdrawals').columns(['user_id', 'id']).execute();
      await db.schema.createIndex('withdrawals_wallet_nonce').on('withdrawals').columns(['chain_id', 'wallet', 'nonce']).unique().execute();

      await table(db, 'withdrawal_events')
        .addColumn('id', autoId, (c) => c.primaryKey().autoIncrement())
        .addColumn('withdrawal_id', str(40), (c) => c.notNull())
        .addColumn('from_status', str(16))
        .addColumn('to_status', str(16), (c) => c.notNull())
        .addColumn('code', str(64))
        .addColumn('detail', text)
        .addColumn('created_at', big, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('withdrawal_events_wd').on('withdrawal_events').column('withdrawal_id').execute();

      await table(db, 'wallets')
        .addColumn('chain_id', big, (c) => c.notNull())
        .addColumn('address', str(42), (c) => c.notNull())
        .addColumn('key_ref', str(255), (c) => c.notNull())
        .addColumn('next_nonce', big, (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', big, (c) => c.notNull())
        .addPrimaryKeyConstraint('wallets_pk', ['chain_id', 'address'])
        .execute();

      await table(db, 'tx_attempts')
        .addColumn('id', autoId, (c) => c.primaryKey().autoIncrement())
        .addColumn('withdrawal_id', str(40), (c) => c.notNull())
        .addColumn('chain_id', big, (c) => c.notNull())
        .addColumn('wallet', str(42), (c) => c.notNull())
        .addColumn('nonce', big, (c) => c.notNull())
        .addColumn('tx_hash', str(66), (c) => c.notNull().unique())
        .addColumn('raw_tx', text, (c) => c.notNull())
        .addColumn('kind', str(16), (c) => c.notNull())
        .addColumn('max_fee_per_gas', amount, (c) => c.notNull())
        .addColumn('max_priority_fee_per_gas', amount, (c) => c.notNull())
        .addColumn('gas_limit', 'integer', (c) => c.notNull())
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('broadcast_at', big)
        .addColumn('last_error', text)
        .execute();
      await db.schema.createIndex('tx_attempts_wd').on('tx_attempts').column('withdrawal_id').execute();

      await table(db, 'dead_letters')
        .addColumn('id', autoId, (c) => c.primaryKey().autoIncrement())
        .addColumn('queue', str(16), (c) => c.notNull())
        .addColumn('withdrawal_id', str(40), (c) => c.notNull())
        .addColumn('code', str(64), (c) => c.notNull())
        .addColumn('reason', text, (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('status', str(16), (c) => c.notNull())
        .addColumn('payload', text, (c) => c.notNull())
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('updated_at', big, (c) => c.notNull())
        .addUniqueConstraint('dead_letters_queue_wd', ['queue', 'withdrawal_id'])
        .execute();

      await table(db, 'chain_state')
        .addColumn('chain_id', big, (c) => c.primaryKey())
        .addColumn('genesis_hash', str(66), (c) => c.notNull())
        .addColumn('last_block', big, (c) => c.notNull())
        .addColumn('updated_at', big, (c) => c.notNull())
        .execute();
    },
  };
}
