import { type Address, getAddress, type Hex, type TransactionSerializableEIP1559 } from 'viem';
import type { AssetNetwork } from '../assets/registry.js';
import { lockForUpdate, type Tx } from '../db/transaction.js';
import { defineWriteTask, type WriteContext } from '../db/write-task.js';
import { InsufficientBalanceError } from '../ledger/errors.js';
import { type BalanceKey, type LedgerBatch, openLedgerBatch } from '../ledger/ledger.js';
import { byBalanceRow } from '../util/lock-order.js';
import type { Wallet } from '../wallets/wallets.js';
import type { WithdrawalRow } from '../withdrawals/repository.js';
import { insertAttempts, type NewAttempt } from '../withdrawals/attempts.js';
import { openTransitions, type Transitions } from '../withdrawals/repository.js';
import { type LockedRowUpdate, updateLockedRows } from '../withdrawals/update-locked.js';
import { buildTransfer, type TransferIntent, type VerifiedTx, verifiedTransfer } from './build-tx.js';
import type { FeePair } from './fees.js';
import { attemptRow } from './store-signatures.js';
import { addToLoad, assertCovers, HotWalletShortError, type LaneLoad, laneLoads, type Payout, type WalletBalances } from './wallet-funds.js';

/**
 * The columns of a withdrawal that taking a nonce needs: the request crosses to the write worker
 * by structured clone, and the whole row (its stored 202 answer among them) cost the main thread
 * more to copy than the rest of the batch.
 */
export type ReserveRow = Pick<WithdrawalRow, 'id' | 'chain_id' | 'user_id' | 'asset' | 'amount' | 'fee'>;

export type ReserveRequest = {
  w: ReserveRow;
  network: AssetNetwork;
  to: Address;
  chainAmount: bigint;
  /** Set for a native payout to a contract recipient (estimated); otherwise the network's. */
  gasLimit?: bigint;
};

/**
 * A payout signed before the lane's lock, at the nonce the lane was expected to give it
 * (nonce-reservations.ts): built from the request and the batch's fees, verified against them,
 * and its signer recovered (invariant 9). Stored only if that is the nonce it gets.
 */
export type SignedAhead = { nonce: number; raw: Hex; txHash: Hex; gas: bigint };

/**
 * What the pool plan gave one wallet: its on-chain balances (read before the lock), its requests,
 * and where they were signed ahead, the signature of each (`signed[i]` for `items[i]`; null where
 * none could be made). Items signed ahead come in the order they take nonces (byBalanceRow).
 */
export type LaneShare = { lane: Wallet; balances: WalletBalances; items: ReserveRequest[]; signed?: Array<SignedAhead | null> };

export type ReserveLanesInput = {
  chainId: number;
  maxPendingPerWallet: number;
  fees: FeePair;
  networks: AssetNetwork[];
  shares: LaneShare[];
  /**
   * When the users' balance rows are locked (MySQL; see openLedgerBatch): 'at-flush' holds them
   * for the transaction's last statements only, and may end in BalancesMovedError, when the batch
   * is run again with 'now'.
   */
  balanceLock?: 'now' | 'at-flush';
};

/** One request's outcome on its lane; plain data, so it crosses from the write worker as it is. */
export type LaneOutcome =
  /** Signed ahead at exactly this nonce: SIGNED, its attempt stored, in this same commit. */
  | { kind: 'stored'; nonce: number; txHash: Hex }
  /** The nonce only (no signature made ahead is stored at it): `verified` is built from `intent` and checked against it, what the signer signs after commit. */
  | { kind: 'reserved'; nonce: number; intent: TransferIntent; verified: VerifiedTx }
  | { kind: 'skipped' }
  | { kind: 'insufficient_balance' }
  | { kind: 'short'; message: string }
  | { kind: 'busy' };

/** One lane's outcomes, and its next nonce as this transaction left it. */
export type LaneResult = { outcomes: LaneOutcome[]; next: number };

/**
 * The lanes' shares of a reservation batch, in one transaction (one commit): holds, nonces, and
 * every signature made ahead at exactly the nonce its request takes (stored, SIGNED); the other
 * requests are only reserved, to be signed after commit. All lanes' rows are read and written
 * by the same dozen statements, but for each lane's wallet row, locked and written by its key
 * (a transaction per lane, ~11 statements each, cost MariaDB a third more CPU per withdrawal:
 * bench signer). Lock order everywhere: withdrawal rows (by id), then wallet rows (by address),
 * then balance rows (user/asset), so batches side by side, here or in
 * another replica, wait on each other but never in a cycle. The pool plan was made outside the
 * lock; here it is checked again exactly: each lane's limit, what it has in flight, each user's
 * balance. A write task: on SQLite it runs on the write worker.
 */
export const reserveLanes = defineWriteTask(import.meta.url, 'reserveLanes', (ctx, input: ReserveLanesInput) => reserveLanesWith(ctx, input, buildTransfer));

type LockedWithdrawal = { id: string; status: WithdrawalRow['status']; nonce: number | null; cancel_reason: string | null };

/** What the lanes of one transaction write, gathered for one set of statements. */
type LaneWrites = { reserved: LockedRowUpdate[]; transitions: Transitions; attempts: NewAttempt[]; holds: LedgerBatch };

/**
 * reserveLanes with the transfer built by `build` (tests swap it to prove verification stops a bad
 * build); `lanesLocked` is called as soon as the wallet rows are locked (nonce-reservations.ts
 * starts the next batch's transaction then).
 */
export async function reserveLanesWith(
  ctx: WriteContext,
  input: ReserveLanesInput,
  build: (intent: TransferIntent) => TransactionSerializableEIP1559,
  lanesLocked?: () => void,
): Promise<LaneResult[]> {
  const { db, trx } = ctx;
  const { chainId } = input;
  // Loops, not map/filter callbacks: a callback made per batch loses its optimized code at every
  // full collection (ledger.ts), and this runs once per batch of up to 256.
  const ids: string[] = [];
  const wallets: Address[] = [];
  for (const share of input.shares) {
    wallets.push(getAddress(share.lane.address));
    for (const item of share.items) ids.push(item.w.id);
  }
  const rows = await lockForUpdate(db, trx.selectFrom('withdrawals').select(['id', 'status', 'nonce', 'cancel_reason']).where('id', 'in', ids).orderBy('id')).execute();
  const current = new Map<string, LockedWithdrawal>();
  for (const r of rows) current.set(r.id, r);
  const nextNonce = await lockWalletRows(ctx, chainId, wallets);
  lanesLocked?.();
  const loads = await laneLoads(trx, { networks: input.networks, chainId, wallets, maxFeePerGas: input.fees.maxFeePerGas });
  // Each lane's requests in the order they take its nonces; the balance rows of all that can take one, locked in one read.
  const ordered: ReserveRequest[][] = [];
  const open: BalanceKey[] = [];
  for (const share of input.shares) {
    const lane = [...share.items].sort(byRequestBalanceRow);
    ordered.push(lane);
    for (const r of lane) {
      const now = current.get(r.w.id);
      if (now?.status === 'RECEIVED' && now.nonce === null) open.push({ userId: r.w.user_id, asset: r.w.asset });
    }
  }
  const writes: LaneWrites = { reserved: [], transitions: openTransitions(trx), attempts: [], holds: await openLedgerBatch(db, trx, open, { lock: input.balanceLock ?? 'now' }) };
  const out: LaneResult[] = [];
  const moved: Array<{ wallet: Address; next: number }> = [];
  for (let s = 0; s < input.shares.length; s++) {
    const wallet = wallets[s]!;
    const from = nextNonce.get(wallet);
    if (from === undefined) throw new Error(`Hot wallet ${wallet} of chain ${chainId} has no wallet row`);
    const result = reserveOnLane(input, input.shares[s]!, wallet, { ordered: ordered[s]!, current, next: from, load: loads.get(wallet)! }, writes, build);
    if (result.next !== from) moved.push({ wallet, next: result.next });
    out.push(result);
  }
  // Locked above, so no compare-and-set can lose; if one ever does, nothing of this batch may commit.
  await updateLockedRows(trx, writes.reserved, { status: 'RECEIVED', nonceIsNull: true });
  await writes.transitions.flush();
  await insertAttempts(trx, writes.attempts);
  await updateNextNonces(trx, chainId, moved);
  // Last: with balanceLock 'at-flush', the users' rows are locked here, for the commit only.
  await writes.holds.flush();
  return out;
}

/**
 * One lane's share, walked in nonce order against its locked rows: what each request gets, with
 * the rows to write added to `writes`. No statement of its own.
 */
function reserveOnLane(
  input: ReserveLanesInput,
  { balances, items, signed }: LaneShare,
  wallet: Address,
  lane: { ordered: ReserveRequest[]; current: Map<string, LockedWithdrawal>; next: number; load: LaneLoad },
  writes: LaneWrites,
  build: (intent: TransferIntent) => TransactionSerializableEIP1559,
): LaneResult {
  const { chainId, fees } = input;
  const { current, load } = lane;
  let next = lane.next;
  const results = new Map<ReserveRequest, LaneOutcome>();
  const ahead = new Map<ReserveRequest, SignedAhead | null>();
  for (let i = 0; i < items.length; i++) ahead.set(items[i]!, signed?.[i] ?? null);
  for (const request of lane.ordered) {
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
    // Signed ahead at the nonce it takes now: stored with the hold (invariant 1, one commit). At
    // any other nonce (an earlier request of the lane failed, or the lane moved since the plan)
    // that signature is dropped unsent and the nonce is reserved, to be signed after commit.
    const signedAhead = ahead.get(request);
    const storing = signedAhead?.nonce === next && now.cancel_reason === null ? signedAhead : null;
    let toSign: { intent: TransferIntent; verified: VerifiedTx } | null = null;
    if (!storing) {
      const intent = intentAt(chainId, request, next, fees);
      // Verified before anything is reserved, so a tx that could never be signed reserves nothing;
      // the signer signs exactly these bytes.
      toSign = { intent, verified: verifiedTransfer(intent, build) };
    }
    try {
      writes.holds.hold({ userId: request.w.user_id, asset: request.w.asset, amount: BigInt(request.w.amount) + BigInt(request.w.fee), withdrawalId: request.w.id });
    } catch (err) {
      if (!(err instanceof InsufficientBalanceError)) throw err;
      results.set(request, { kind: 'insufficient_balance' });
      continue;
    }
    if (storing) {
      writes.transitions.moveLocked(request.w.id, 'RECEIVED', 'SIGNED', { wallet, nonce: next, tx_hash: storing.txHash, failure_code: null, failure_reason: null });
      writes.attempts.push(attemptRow(request.w, wallet, next, storing.txHash, storing.raw, 'transfer', fees, storing.gas));
      results.set(request, { kind: 'stored', nonce: next, txHash: storing.txHash });
    } else {
      writes.reserved.push({ id: request.w.id, set: { wallet, nonce: next, failure_code: null, failure_reason: null } });
      results.set(request, { kind: 'reserved', nonce: next, ...toSign! });
    }
    current.set(request.w.id, { ...now, nonce: next });
    addToLoad(load, payout);
    next += 1;
  }
  const outcomes: LaneOutcome[] = [];
  for (const r of items) outcomes.push(results.get(r)!);
  return { outcomes, next };
}

/**
 * The batch's wallet rows, locked one by one by primary key in address order: exactly these rows.
 * One `address IN (…)` read over a chain's handful of wallets is planned by MariaDB as a scan of
 * the chain's rows, which locks every lane, and batches planned on other lanes (nonce-reservations.ts)
 * would wait for each other.
 */
async function lockWalletRows({ db, trx }: WriteContext, chainId: number, wallets: Address[]): Promise<Map<string, number>> {
  const nextNonce = new Map<string, number>();
  // Code-unit order: the binary collation's (column-types.ts), the order a whole-table lock takes them in (deployment-config).
  for (const wallet of [...wallets].sort()) {
    const row = await lockForUpdate(db, trx.selectFrom('wallets').select('next_nonce').where('chain_id', '=', chainId).where('address', '=', wallet)).executeTakeFirst();
    if (row) nextNonce.set(wallet, Number(row.next_nonce));
  }
  return nextNonce;
}

/**
 * The wallet rows (locked above) at the next nonce their lanes left, each by its primary key: an
 * UPDATE over `address IN (…)` is planned as a scan of the chain's wallet rows and would wait
 * for (and lock) lanes of other batches.
 */
async function updateNextNonces(trx: Tx, chainId: number, moved: Array<{ wallet: Address; next: number }>): Promise<void> {
  for (const m of moved) await trx.updateTable('wallets').set({ next_nonce: m.next }).where('chain_id', '=', chainId).where('address', '=', m.wallet).execute();
}

/** The order a lane's requests take nonces in: their balance rows' lock order. */
export function byRequestBalanceRow(a: ReserveRequest, b: ReserveRequest): number {
  return byBalanceRow(a.w, b.w);
}

export function payoutOf(request: ReserveRequest, fees: FeePair): Payout {
  return { network: request.network, chainAmount: request.chainAmount, gasLimit: request.gasLimit ?? BigInt(request.network.gasLimit), maxFeePerGas: fees.maxFeePerGas };
}

export function intentAt(chainId: number, request: ReserveRequest, nonce: number, fees: FeePair): TransferIntent {
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
