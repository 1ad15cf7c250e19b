import { type Address, getAddress, type TransactionSerializableEIP1559 } from 'viem';
import type { AssetNetwork, AssetRegistry } from '../assets/registry.js';
import type { ChainRpc } from '../chain/rpc.js';
import type { Db } from '../db/connect.js';
import { lockForUpdate, type Tx, withTransaction } from '../db/transaction.js';
import { InsufficientBalanceError } from '../ledger/errors.js';
import type { Ledger } from '../ledger/ledger.js';
import { byBalanceRow } from '../util/lock-order.js';
import { batchConcurrency, createMicroBatcher } from '../util/micro-batch.js';
import type { Wallet, Wallets } from '../wallets/wallets.js';
import { StaleTransitionError } from '../withdrawals/errors.js';
import type { WithdrawalRow } from '../withdrawals/repository.js';
import { serializeUnsigned, type TransferIntent, verifyTransfer } from './build-tx.js';
import type { FeeOracle, FeePair } from './fees.js';
import { addToLoad, assertCovers, HotWalletShortError, type LaneLoad, laneLoad, type Payout, type WalletBalances, walletBalances } from './wallet-funds.js';

/** A RECEIVED withdrawal, checked and ready to take a nonce. */
export type ReserveRequest = {
  w: WithdrawalRow;
  network: AssetNetwork;
  to: Address;
  chainAmount: bigint;
  /** Set for a native payout to a contract recipient (estimated); otherwise the network's. */
  gasLimit?: bigint;
};

export type Reservation =
  /** `tx` is built from `intent` and verified against it: what gets signed. */
  | { kind: 'reserved'; wallet: Wallet; nonce: number; intent: TransferIntent; tx: TransactionSerializableEIP1559 }
  /** Someone else reserved or moved it meanwhile (a duplicate delivery). */
  | { kind: 'skipped' }
  | { kind: 'insufficient_balance' }
  /** No wallet of the chain can cover it now (the error says which and by how much). */
  | { kind: 'short'; error: HotWalletShortError }
  /** Every wallet of the chain has its limit of txs in flight: wait for blocks. */
  | { kind: 'busy' };

const MAX_BATCH = 256;

/**
 * Reserves nonces for many withdrawals of one chain at once: the hot-wallet pool's scheduler.
 * Each withdrawal goes to the wallet with the fewest txs in flight that is under the chain's
 * per-wallet limit and can cover it; then, per wallet, one short transaction holds the users'
 * funds and takes a run of the lane's nonces (one commit for the lot). Signatures are made after
 * commit, outside any lock (signer.ts).
 */
export function createNonceReservations(deps: {
  db: Db;
  ledger: Ledger;
  assets: AssetRegistry;
  wallets: Wallets;
  chain: ChainRpc;
  fees: FeeOracle;
  build: (intent: TransferIntent) => TransactionSerializableEIP1559;
}) {
  const { db, ledger, assets, wallets, chain } = deps;
  const chainId = chain.chain.chainId;
  // Read at use: an operator may change it while Sluice runs (chain-settings.ts).
  const limit = () => chain.chain.maxPendingPerWallet;

  async function plan(requests: ReserveRequest[], fees: FeePair, networks: AssetNetwork[]) {
    const lanes = await wallets.forChain(chainId);
    const loads = await Promise.all(lanes.map((l) => laneLoad(db.kysely, { networks, chainId, wallet: getAddress(l.address), maxFeePerGas: fees.maxFeePerGas })));
    const open = lanes.map((lane, i) => ({ lane, load: loads[i]! })).filter((l) => l.load.pending < limit());
    const tokens = requests.filter((r) => r.network.kind === 'erc20').map((r) => r.network.contract!);
    const balances = await Promise.all(open.map((l) => walletBalances(chain, getAddress(l.lane.address), tokens)));
    const byWallet = new Map<string, { lane: Wallet; balances: WalletBalances; items: ReserveRequest[] }>();
    const outcome = new Map<ReserveRequest, Reservation>();
    for (const request of requests) {
      if (open.length === 0) {
        outcome.set(request, { kind: 'busy' });
        continue;
      }
      const payout = payoutOf(request, fees);
      // Fewest in flight first; the first that can cover it takes it.
      const order = open.map((l, i) => ({ ...l, balances: balances[i]! })).filter((l) => l.load.pending < limit()).sort((a, b) => a.load.pending - b.load.pending);
      if (order.length === 0) {
        outcome.set(request, { kind: 'busy' });
        continue;
      }
      let shortError: HotWalletShortError | undefined;
      const chosen = order.find((l) => {
        try {
          assertCovers(getAddress(l.lane.address), l.balances, l.load, payout);
          return true;
        } catch (err) {
          if (!(err instanceof HotWalletShortError)) throw err;
          shortError ??= err;
          return false;
        }
      });
      if (!chosen) {
        outcome.set(request, { kind: 'short', error: shortError! });
        continue;
      }
      addToLoad(chosen.load, payout);
      const group = byWallet.get(chosen.lane.address) ?? { lane: chosen.lane, balances: chosen.balances, items: [] };
      group.items.push(request);
      byWallet.set(chosen.lane.address, group);
    }
    return { byWallet, outcome };
  }

  function payoutOf(request: ReserveRequest, fees: FeePair): Payout {
    return { network: request.network, chainAmount: request.chainAmount, gasLimit: request.gasLimit ?? BigInt(request.network.gasLimit), maxFeePerGas: fees.maxFeePerGas };
  }

  function intentAt(request: ReserveRequest, nonce: number, fees: FeePair): TransferIntent {
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

  /**
   * One wallet's share of the batch, in one transaction. Lock order everywhere: withdrawal rows,
   * then the wallet row, then balance rows (taken in user/asset order, so two replicas' batches
   * over the same users cannot deadlock). The pool plan was made outside the lock; here it is
   * checked again exactly: the lane's limit, what it has in flight, each user's balance.
   */
  async function reserveOnLane(lane: Wallet, balances: WalletBalances, items: ReserveRequest[], fees: FeePair, networks: AssetNetwork[]): Promise<Reservation[]> {
    const wallet = getAddress(lane.address);
    return withTransaction(db, async (trx) => {
      const results = new Map<ReserveRequest, Reservation>();
      const ids = items.map((r) => r.w.id);
      const rows = await lockForUpdate(db, trx.selectFrom('withdrawals').select(['id', 'status', 'nonce']).where('id', 'in', ids).orderBy('id')).execute();
      const current = new Map(rows.map((r) => [r.id, r]));
      const row = await lockForUpdate(db, trx.selectFrom('wallets').select('next_nonce').where('chain_id', '=', chainId).where('address', '=', wallet)).executeTakeFirstOrThrow();
      let next = Number(row.next_nonce);
      const load = await laneLoad(trx, { networks, chainId, wallet, maxFeePerGas: fees.maxFeePerGas });
      const ordered = [...items].sort((a, b) => byBalanceRow(a.w, b.w));
      for (const request of ordered) {
        const now = current.get(request.w.id);
        if (now?.status !== 'RECEIVED' || now.nonce !== null) {
          results.set(request, { kind: 'skipped' });
          continue;
        }
        if (load.pending >= limit()) {
          results.set(request, { kind: 'busy' });
          continue;
        }
        const payout = payoutOf(request, fees);
        try {
          assertCovers(wallet, balances, load, payout);
        } catch (err) {
          if (!(err instanceof HotWalletShortError)) throw err;
          results.set(request, { kind: 'short', error: err });
          continue;
        }
        const intent = intentAt(request, next, fees);
        // Verified before anything is reserved, so a tx that could never be signed reserves nothing;
        // the signer signs exactly this object.
        const tx = Object.freeze(deps.build(intent));
        verifyTransfer(serializeUnsigned(tx), intent);
        try {
          await holdFunds(trx, request.w);
        } catch (err) {
          if (!(err instanceof InsufficientBalanceError)) throw err;
          results.set(request, { kind: 'insufficient_balance' });
          continue;
        }
        const reserved = await trx
          .updateTable('withdrawals')
          .set({ wallet, nonce: next, failure_code: null, failure_reason: null, updated_at: Date.now() })
          .where('id', '=', request.w.id)
          .where('status', '=', 'RECEIVED')
          .where('nonce', 'is', null)
          .executeTakeFirst();
        // Locked above, so this cannot lose; if it ever does, nothing of this batch may commit.
        if (Number(reserved.numUpdatedRows) !== 1) throw new StaleTransitionError(request.w.id, 'RECEIVED', 'RECEIVED');
        current.set(request.w.id, { ...now, nonce: next });
        addToLoad(load, payout);
        results.set(request, { kind: 'reserved', wallet: lane, nonce: next, intent, tx });
        next += 1;
      }
      if (next !== Number(row.next_nonce)) {
        await trx.updateTable('wallets').set({ next_nonce: next }).where('chain_id', '=', chainId).where('address', '=', wallet).execute();
      }
      return items.map((r) => results.get(r)!);
    });
  }

  function holdFunds(trx: Tx, w: WithdrawalRow): Promise<void> {
    return ledger.hold(trx, { userId: w.user_id, asset: w.asset, amount: BigInt(w.amount) + BigInt(w.fee), withdrawalId: w.id });
  }

  async function run(requests: ReserveRequest[]): Promise<Reservation[]> {
    // The same withdrawal twice in one batch (a duplicate delivery): the first one decides.
    const seen = new Set<string>();
    const unique = requests.filter((r) => !seen.has(r.w.id) && seen.add(r.w.id));
    const [fees, networks] = await Promise.all([deps.fees.current(), assets.all()]);
    const { byWallet, outcome } = await plan(unique, fees, networks);
    // Lanes are independent: on MySQL their transactions run side by side.
    await Promise.all(
      [...byWallet.values()].map(async ({ lane, balances, items }) => {
        const results = await reserveOnLane(lane, balances, items, fees, networks);
        items.forEach((item, i) => outcome.set(item, results[i]!));
      }),
    );
    return requests.map((r) => outcome.get(r) ?? { kind: 'skipped' });
  }

  const batcher = createMicroBatcher<ReserveRequest, Reservation>({ run, maxSize: MAX_BATCH, concurrency: batchConcurrency(db) });
  return { reserve: (request: ReserveRequest) => batcher.submit(request) };
}

export type NonceReservations = ReturnType<typeof createNonceReservations>;
