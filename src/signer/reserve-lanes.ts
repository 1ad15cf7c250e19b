import { type Address, getAddress, type TransactionSerializableEIP1559 } from 'viem';
import type { AssetNetwork } from '../assets/registry.js';
import { lockForUpdate } from '../db/transaction.js';
import { defineWriteTask, type WriteContext } from '../db/write-task.js';
import { InsufficientBalanceError } from '../ledger/errors.js';
import { createLedger } from '../ledger/ledger.js';
import { byBalanceRow } from '../util/lock-order.js';
import type { Wallet } from '../wallets/wallets.js';
import type { WithdrawalRow } from '../withdrawals/repository.js';
import { type LockedRowUpdate, updateLockedRows } from '../withdrawals/update-locked.js';
import { buildTransfer, serializeUnsigned, type TransferIntent, verifyTransfer } from './build-tx.js';
import type { FeePair } from './fees.js';
import { addToLoad, assertCovers, HotWalletShortError, laneLoad, type Payout, type WalletBalances } from './wallet-funds.js';

/** A RECEIVED withdrawal, checked and ready to take a nonce. */
export type ReserveRequest = {
  w: WithdrawalRow;
  network: AssetNetwork;
  to: Address;
  chainAmount: bigint;
  /** Set for a native payout to a contract recipient (estimated); otherwise the network's. */
  gasLimit?: bigint;
};

/** What the pool plan gave one wallet: its on-chain balances (read before the lock) and its requests. */
export type LaneShare = { lane: Wallet; balances: WalletBalances; items: ReserveRequest[] };

export type ReserveLanesInput = { chainId: number; maxPendingPerWallet: number; fees: FeePair; networks: AssetNetwork[]; shares: LaneShare[] };

/** One request's outcome on its lane; plain data, so it crosses from the write worker as it is. */
export type LaneOutcome =
  /** `tx` is built from `intent` and verified against it: what gets signed. */
  | { kind: 'reserved'; nonce: number; intent: TransferIntent; tx: TransactionSerializableEIP1559 }
  | { kind: 'skipped' }
  | { kind: 'insufficient_balance' }
  | { kind: 'short'; message: string }
  | { kind: 'busy' };

/**
 * The lanes' shares of a reservation batch, in one transaction (one commit). Lock order
 * everywhere: withdrawal rows, then the wallet row, then balance rows (taken in user/asset order,
 * so two replicas' batches over the same users cannot deadlock). The pool plan was made outside the
 * lock; here it is checked again exactly: the lane's limit, what it has in flight, each user's
 * balance. A write task: on SQLite it runs on the write worker.
 */
export const reserveLanes = defineWriteTask(import.meta.url, 'reserveLanes', (ctx, input: ReserveLanesInput) => reserveLanesWith(ctx, input, buildTransfer));

/** reserveLanes with the transfer built by `build` (tests swap it to prove verification stops a bad build). */
export async function reserveLanesWith(ctx: WriteContext, input: ReserveLanesInput, build: (intent: TransferIntent) => TransactionSerializableEIP1559): Promise<LaneOutcome[][]> {
  const out: LaneOutcome[][] = [];
  for (const share of input.shares) out.push(await reserveOnLane(ctx, input, share, build));
  return out;
}

async function reserveOnLane(
  { db, trx }: WriteContext,
  input: ReserveLanesInput,
  { lane, balances, items }: LaneShare,
  build: (intent: TransferIntent) => TransactionSerializableEIP1559,
): Promise<LaneOutcome[]> {
  const { chainId, fees, networks } = input;
  const ledger = createLedger(db);
  const wallet = getAddress(lane.address);
  const results = new Map<ReserveRequest, LaneOutcome>();
  const ids = items.map((r) => r.w.id);
  const rows = await lockForUpdate(db, trx.selectFrom('withdrawals').select(['id', 'status', 'nonce']).where('id', 'in', ids).orderBy('id')).execute();
  const current = new Map(rows.map((r) => [r.id, r]));
  const row = await lockForUpdate(db, trx.selectFrom('wallets').select('next_nonce').where('chain_id', '=', chainId).where('address', '=', wallet)).executeTakeFirstOrThrow();
  let next = Number(row.next_nonce);
  const load = await laneLoad(trx, { networks, chainId, wallet, maxFeePerGas: fees.maxFeePerGas });
  const ordered = [...items].sort((a, b) => byBalanceRow(a.w, b.w));
  const open = ordered.filter((r) => current.get(r.w.id)?.status === 'RECEIVED' && current.get(r.w.id)?.nonce === null);
  const reserved: LockedRowUpdate[] = [];
  const holds = await ledger.openBatch(trx, open.map((r) => ({ userId: r.w.user_id, asset: r.w.asset })));
  for (const request of ordered) {
    const now = current.get(request.w.id);
    if (now?.status !== 'RECEIVED' || now.nonce !== null) {
      results.set(request, { kind: 'skipped' });
      continue;
    }
    if (load.pending >= input.maxPendingPerWallet) {
      results.set(request, { kind: 'busy' });
      continue;
    }
    const payout = payoutOf(request, fees);
    try {
      assertCovers(wallet, balances, load, payout);
    } catch (err) {
      if (!(err instanceof HotWalletShortError)) throw err;
      results.set(request, { kind: 'short', message: err.shortMessage });
      continue;
    }
    const intent = intentAt(chainId, request, next, fees);
    // Verified before anything is reserved, so a tx that could never be signed reserves nothing;
    // the signer signs exactly this object.
    const tx = build(intent);
    verifyTransfer(serializeUnsigned(tx), intent);
    try {
      holds.hold({ userId: request.w.user_id, asset: request.w.asset, amount: BigInt(request.w.amount) + BigInt(request.w.fee), withdrawalId: request.w.id });
    } catch (err) {
      if (!(err instanceof InsufficientBalanceError)) throw err;
      results.set(request, { kind: 'insufficient_balance' });
      continue;
    }
    reserved.push({ id: request.w.id, set: { wallet, nonce: next, failure_code: null, failure_reason: null } });
    current.set(request.w.id, { ...now, nonce: next });
    addToLoad(load, payout);
    results.set(request, { kind: 'reserved', nonce: next, intent, tx });
    next += 1;
  }
  // Locked above, so no compare-and-set can lose; if one ever does, nothing of this batch may commit.
  await updateLockedRows(trx, reserved, { status: 'RECEIVED', nonceIsNull: true });
  await holds.flush();
  if (next !== Number(row.next_nonce)) {
    await trx.updateTable('wallets').set({ next_nonce: next }).where('chain_id', '=', chainId).where('address', '=', wallet).execute();
  }
  return items.map((r) => results.get(r)!);
}

export function payoutOf(request: ReserveRequest, fees: FeePair): Payout {
  return { network: request.network, chainAmount: request.chainAmount, gasLimit: request.gasLimit ?? BigInt(request.network.gasLimit), maxFeePerGas: fees.maxFeePerGas };
}

function intentAt(chainId: number, request: ReserveRequest, nonce: number, fees: FeePair): TransferIntent {
  return {
    chainId,
    network: request.network,
    to: request.to,
    chainAmount: request.chainAmount,
    nonce,
    ...fees,
    ...(request.gasLimit !== undefined ? { gasLimit: request.gasLimit } : {}),
  };
}
