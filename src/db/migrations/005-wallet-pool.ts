import type { Kysely } from 'kysely';

/**
 * Hot-wallet pool: how many transactions one hot wallet may have in flight (signed, not yet
 * mined) on a chain. Nodes limit pending txs per sender (geth keeps 16 executable per account
 * before its global pool decides); past that a wallet's next txs are queued or dropped by the
 * node, so the signer sends new withdrawals to another lane instead.
 */
export function walletPool() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('chains').addColumn('max_pending_per_wallet', 'integer', (c) => c.notNull().defaultTo(16)).execute();
    },
  };
}
