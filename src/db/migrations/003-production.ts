import type { Kysely } from 'kysely';
import type { SqlDialect } from '../connect.js';
import { columnTypes } from './column-types.js';

/**
 * Production: chains live in the database (the runtime truth, bootstrapped by `sluice config
 * apply`) instead of being built from environment variables. `asset_networks.chain_name` stays,
 * since existing readers use it; config apply keeps it equal to `chains.name`.
 */
export function production(dialect: SqlDialect) {
  const { amount, str, text, big, table } = columnTypes(dialect);

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await table(db, 'chains')
        // bigint like every other chain_id column: EIP-155 ids go past 2^31.
        .addColumn('chain_id', big, (c) => c.primaryKey())
        .addColumn('name', str(64), (c) => c.notNull())
        // JSON `[{ "url": …, "weight": … }]`: a list whose length varies, read whole, never queried into.
        .addColumn('rpc_endpoints', text, (c) => c.notNull())
        .addColumn('confirmations', 'integer', (c) => c.notNull())
        // Wei, like every amount: DECIMAL(65,0) / TEXT, never a float.
        .addColumn('max_fee_per_gas', amount, (c) => c.notNull())
        .addColumn('priority_fee', amount, (c) => c.notNull())
        .addColumn('explorer_url', str(255))
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', big, (c) => c.notNull())
        .addColumn('updated_at', big, (c) => c.notNull())
        .execute();
    },
  };
}
