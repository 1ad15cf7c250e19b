import type { WithdrawalStatus } from '../db/schema.js';
import { formatUnits } from '../money/decimal.js';
import type { AttemptRow } from '../withdrawals/attempts.js';
import type { WithdrawalRow } from '../withdrawals/repository.js';

/** How withdrawals and their tx attempts look in API answers: one schema and one renderer each. */
export const WITHDRAWAL_STATUSES: WithdrawalStatus[] = ['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING', 'COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];

const time = { type: 'string', format: 'date-time' } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;

export const iso = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export const withdrawalProperties = {
  id: { type: 'string' },
  userId: { type: 'string' },
  asset: { type: 'string' },
  chainId: { type: 'integer' },
  toAddress: { type: 'string' },
  amount: { type: 'string' },
  fee: { type: 'string' },
  status: { type: 'string', enum: WITHDRAWAL_STATUSES },
  txHash: { type: ['string', 'null'], description: 'the tx that mined once one has; before that the newest one signed' },
  confirmations: { type: 'integer' },
  failureCode: { type: ['string', 'null'], description: 'why it failed, or on a non-terminal withdrawal why it waits (hot_wallet_insufficient_funds, hot_wallets_busy, hot_wallet_key_unusable, fee_cap_reached, settled_tx_reorged)' },
  failureReason: { type: ['string', 'null'] },
  createdAt: time,
  updatedAt: time,
} as const;

export const withdrawalSchema = { type: 'object', properties: withdrawalProperties } as const;

/** What operators see on top: the nonce lane and a pending cancel. */
export const adminWithdrawalSchema = {
  type: 'object',
  properties: {
    ...withdrawalProperties,
    wallet: { type: ['string', 'null'], description: 'hot wallet (nonce lane) once signed' },
    nonce: { type: ['integer', 'null'] },
    cancelReason: { type: ['string', 'null'], description: 'set while the nonce is to be filled with a cancel (node refusal, operator discard, a failed payout reorged away, or a payout already made at an earlier nonce)' },
  },
} as const;

export const attemptSchema = {
  type: 'object',
  properties: {
    txHash: { type: 'string' },
    nonce: { type: 'integer' },
    kind: { type: 'string', enum: ['transfer', 'bump', 'cancel', 'fill'], description: 'transfer: the payout; bump: the payout again with higher fees; cancel: a 0-value self-transfer filling the nonce; fill: a 0-value self-transfer filling a nonce it held before it was re-signed elsewhere (after a reorg beyond finality emptied it)' },
    maxFeePerGas: { type: 'string', description: 'wei' },
    maxPriorityFeePerGas: { type: 'string', description: 'wei' },
    gasLimit: { type: 'integer' },
    createdAt: time,
    broadcastAt: nullableTime,
    lastBroadcastAt: nullableTime,
    broadcastCount: { type: 'integer' },
    lastError: { type: ['string', 'null'] },
  },
} as const;

export function withdrawalView(row: WithdrawalRow, ledgerDecimals: number) {
  return {
    id: row.id,
    userId: row.user_id,
    asset: row.asset,
    chainId: Number(row.chain_id),
    toAddress: row.to_address,
    amount: formatUnits(BigInt(row.amount), ledgerDecimals),
    fee: formatUnits(BigInt(row.fee), ledgerDecimals),
    status: row.status,
    txHash: row.tx_hash,
    confirmations: Number(row.confirmations),
    failureCode: row.failure_code,
    failureReason: row.failure_reason,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
  };
}

export function adminWithdrawalView(row: WithdrawalRow, ledgerDecimals: number) {
  return {
    ...withdrawalView(row, ledgerDecimals),
    wallet: row.wallet,
    nonce: row.nonce === null ? null : Number(row.nonce),
    cancelReason: row.cancel_reason,
  };
}

export function attemptView(a: AttemptRow) {
  return {
    txHash: a.tx_hash,
    nonce: Number(a.nonce),
    kind: a.kind,
    maxFeePerGas: String(a.max_fee_per_gas),
    maxPriorityFeePerGas: String(a.max_priority_fee_per_gas),
    gasLimit: Number(a.gas_limit),
    createdAt: iso(a.created_at)!,
    broadcastAt: iso(a.broadcast_at),
    lastBroadcastAt: iso(a.last_broadcast_at),
    broadcastCount: Number(a.broadcast_count),
    lastError: a.last_error,
  };
}
