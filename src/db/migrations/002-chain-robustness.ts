import type { Kysely } from 'kysely';
import type { SqlDialect } from '../connect.js';
import { columnTypes } from './column-types.js';

/**
 * Chain robustness: where a mined tx sits (block hash, for reorgs), why a nonce is being
 * cancelled, when each attempt was last broadcast, how dead letters were resolved, and the audit
 * log of operator actions.
 */
export function chainRobustness(dialect: SqlDialect) {
  const { str, text, autoId, table } = columnTypes(dialect);

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('withdrawals').addColumn('block_hash', str(66)).execute();
      // Set when the withdrawal's nonce is to be filled with a cancel (operator discard, node refusal).
      await db.schema.alterTable('withdrawals').addColumn('cancel_reason', text).execute();
      await db.schema.createIndex('withdrawals_lane').on('withdrawals').columns(['chain_id', 'wallet', 'status', 'nonce']).execute();

      await db.schema.alterTable('tx_attempts').addColumn('broadcast_count', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('tx_attempts').addColumn('last_broadcast_at', 'bigint').execute();
      await db.schema.createIndex('tx_attempts_lane').on('tx_attempts').columns(['chain_id', 'wallet', 'nonce']).execute();

      await db.schema.alterTable('dead_letters').addColumn('resolved_by', str(100)).execute();
      await db.schema.alterTable('dead_letters').addColumn('resolution_reason', text).execute();
      await db.schema.alterTable('dead_letters').addColumn('resolved_at', 'bigint').execute();

      await table(db, 'audit_log')
        .addColumn('id', autoId, (c) => c.primaryKey().autoIncrement())
        .addColumn('actor', str(100), (c) => c.notNull())
        .addColumn('action', str(64), (c) => c.notNull())
        .addColumn('target_type', str(32), (c) => c.notNull())
        .addColumn('target_id', str(64), (c) => c.notNull())
        .addColumn('reason', text)
        .addColumn('before_state', text)
        .addColumn('after_state', text)
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_log_target').on('audit_log').columns(['target_type', 'target_id']).execute();
    },
  };
}
