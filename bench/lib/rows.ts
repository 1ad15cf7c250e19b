import { randomBytes } from 'node:crypto';
import type { Db } from '../../src/db/connect.js';
import type { TxAttemptsTable, WithdrawalsTable } from '../../src/db/schema.js';
import { newId } from '../../src/util/ids.js';

/** A withdrawals row of the exact shape the API stores (the schema type keeps it honest). */
export function withdrawalRow(input: {
  keyPrefix: string;
  n: number;
  userId: string;
  asset: string;
  chainId: number;
  toAddress: string;
  amount: string;
  fee: string;
  status?: WithdrawalsTable['status'];
  wallet?: string;
  nonce?: number;
  txHash?: string;
  createdAt?: number;
}): WithdrawalsTable {
  const now = input.createdAt ?? Date.now();
  const id = newId('wd', now);
  const mined = input.status === 'COMPLETED';
  return {
    id,
    idempotency_key: `${input.keyPrefix}-${input.n}`,
    request_hash: randomBytes(32).toString('hex'),
    api_key_id: 'bench',
    user_id: input.userId,
    asset: input.asset,
    chain_id: input.chainId,
    to_address: input.toAddress,
    amount: input.amount,
    fee: input.fee,
    status: input.status ?? 'RECEIVED',
    wallet: input.wallet ?? null,
    nonce: input.nonce ?? null,
    tx_hash: input.txHash ?? null,
    block_number: mined ? 1 + Math.floor(input.n / 100) : null,
    block_hash: mined ? `0x${randomBytes(32).toString('hex')}` : null,
    confirmations: mined ? 2 : 0,
    failure_code: null,
    failure_reason: null,
    create_response: JSON.stringify({ id, status: 'RECEIVED', userId: input.userId, asset: input.asset, chainId: input.chainId, toAddress: input.toAddress }),
    cancel_reason: null,
    requeued_at: null,
    created_at: now,
    updated_at: now,
  };
}

export function attemptRow(w: WithdrawalsTable): Omit<TxAttemptsTable, 'id'> {
  return {
    withdrawal_id: w.id,
    chain_id: w.chain_id,
    wallet: w.wallet!,
    nonce: w.nonce!,
    tx_hash: w.tx_hash!,
    raw_tx: `0x02f8${randomBytes(100).toString('hex')}`,
    kind: 'transfer',
    max_fee_per_gas: '2000000000',
    max_priority_fee_per_gas: '1000000000',
    gas_limit: 21_000,
    created_at: w.created_at,
    broadcast_at: w.created_at,
    last_broadcast_at: w.created_at,
    broadcast_count: 1,
    last_error: null,
  };
}

/** Multi-row inserts, `perStatement` rows each, `statementsPerTx` statements per transaction. */
export async function insertWithdrawals(
  db: Db,
  rows: WithdrawalsTable[],
  options: { perStatement?: number; attempts?: boolean } = {},
): Promise<void> {
  const per = options.perStatement ?? 500;
  await db.kysely.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += per) {
      const chunk = rows.slice(i, i + per);
      await trx.insertInto('withdrawals').values(chunk).execute();
      const attempts = options.attempts ? chunk.filter((r) => r.tx_hash).map(attemptRow) : [];
      if (attempts.length > 0) await trx.insertInto('tx_attempts').values(attempts).execute();
    }
  });
}
