import { type Address, getAddress, type TransactionSerializableEIP1559 } from 'viem';
import type { AssetNetwork, AssetRegistry } from '../assets/registry.js';
import type { ChainRpc } from '../chain/rpc.js';
import type { Db } from '../db/connect.js';
import { withTransaction } from '../db/transaction.js';
import { runWriteTask } from '../db/write-task.js';
import { batchConcurrency, createMicroBatcher } from '../util/micro-batch.js';
import type { Wallet, Wallets } from '../wallets/wallets.js';
import { buildTransfer, type TransferIntent } from './build-tx.js';
import type { FeeOracle, FeePair } from './fees.js';
import { type LaneOutcome, type LaneShare, payoutOf, type ReserveLanesInput, type ReserveRequest, reserveLanes, reserveLanesWith } from './reserve-lanes.js';
import { pickLane } from './pick-lane.js';
import { addToLoad, HotWalletShortError, type LaneLoad, laneLoads, walletBalances } from './wallet-funds.js';

export type { ReserveRequest } from './reserve-lanes.js';

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
 * How long the pool plan reuses its read of every lane's in-flight load: one query over all the
 * lanes' in-flight rows, 3.8 ms of the main thread at 32 lanes × 64 in flight, asked ~9 times a
 * second at 400 payouts/s. Each plan adds its own picks to what it reuses, so a reused read only
 * over-counts (txs mined since it was taken still count): a request may go to a lane that is not
 * the least busy by now, never past a limit, since each lane's share is checked again exactly under
 * its lock (reserve-lanes.ts). A plan that would answer "busy" or "short" from a reused read is
 * made again from a fresh one, so neither is ever reported from an old read.
 */
const LOADS_REUSE_MS = 1_000;

/**
 * Reserves nonces for many withdrawals of one chain at once: the hot-wallet pool's scheduler.
 * Each withdrawal goes to the wallet with the fewest txs in flight that is under the chain's
 * per-wallet limit and can cover it; then a short transaction holds the users' funds and takes a
 * run of each lane's nonces (reserve-lanes.ts: one per lane on MySQL, one for the batch on SQLite,
 * on its write worker). Signatures are made after commit, outside any lock (signer.ts).
 */
export function createNonceReservations(deps: {
  db: Db;
  assets: AssetRegistry;
  wallets: Wallets;
  chain: ChainRpc;
  fees: FeeOracle;
  build: (intent: TransferIntent) => TransactionSerializableEIP1559;
}) {
  const { db, assets, wallets, chain } = deps;
  const chainId = chain.chain.chainId;
  // Read at use: an operator may change it while Sluice runs (chain-settings.ts).
  const limit = () => chain.chain.maxPendingPerWallet;

  let loadsRead: { at: number; maxFeePerGas: bigint; loads: Map<Address, LaneLoad> } | undefined;

  /** Every lane's load, from the last read if it is recent, priced alike and covers these lanes. */
  async function loadsOf(lanes: Address[], fees: FeePair, networks: AssetNetwork[], fresh: boolean) {
    const last = loadsRead;
    if (!fresh && last && Date.now() - last.at < LOADS_REUSE_MS && last.maxFeePerGas === fees.maxFeePerGas && lanes.every((l) => last.loads.has(l))) {
      return { loads: last.loads, reused: true };
    }
    const at = Date.now();
    const loads = await laneLoads(db.kysely, { networks, chainId, wallets: lanes, maxFeePerGas: fees.maxFeePerGas });
    loadsRead = { at, maxFeePerGas: fees.maxFeePerGas, loads };
    return { loads, reused: false };
  }

  async function plan(requests: ReserveRequest[], fees: FeePair, networks: AssetNetwork[], fresh: boolean) {
    const lanes = (await wallets.forChain(chainId)).map((lane) => ({ lane, address: getAddress(lane.address) }));
    const { loads, reused } = await loadsOf(lanes.map((l) => l.address), fees, networks, fresh);
    const open = lanes.map((l) => ({ ...l, load: loads.get(l.address)! })).filter((l) => l.load.pending < limit());
    const tokens = requests.filter((r) => r.network.kind === 'erc20').map((r) => r.network.contract!);
    const balances = await Promise.all(open.map((l) => walletBalances(chain, l.address, tokens)));
    const candidates = open.map((l, i) => ({ ...l, balances: balances[i]! }));
    const byWallet = new Map<string, LaneShare>();
    const outcome = new Map<ReserveRequest, Reservation>();
    for (const request of requests) {
      const payout = payoutOf(request, fees);
      const chosen = pickLane(candidates, payout, limit());
      if (chosen === 'busy' || chosen instanceof HotWalletShortError) {
        outcome.set(request, chosen === 'busy' ? { kind: 'busy' } : { kind: 'short', error: chosen });
        continue;
      }
      addToLoad(chosen.load, payout);
      const group = byWallet.get(chosen.lane.address) ?? { lane: chosen.lane, balances: chosen.balances, items: [] };
      group.items.push(request);
      byWallet.set(chosen.lane.address, group);
    }
    return { byWallet, outcome, reused };
  }

  /**
   * One transaction per lane where lanes can commit side by side (MySQL); SQLite has one writer,
   * so there the whole batch is one transaction and one commit.
   */
  async function reserveShares(input: ReserveLanesInput): Promise<LaneOutcome[][]> {
    const reserve = (one: ReserveLanesInput): Promise<LaneOutcome[][]> =>
      deps.build === buildTransfer ? runWriteTask(db, reserveLanes, one) : withTransaction(db, (trx) => reserveLanesWith({ db, trx }, one, deps.build));
    if (db.dialect === 'sqlite') return reserve(input);
    return (await Promise.all(input.shares.map((share) => reserve({ ...input, shares: [share] })))).map((r) => r[0]!);
  }

  function reservationOf(lane: Wallet, outcome: LaneOutcome): Reservation {
    switch (outcome.kind) {
      case 'reserved':
        return { kind: 'reserved', wallet: lane, nonce: outcome.nonce, intent: outcome.intent, tx: Object.freeze(outcome.tx) };
      case 'short':
        return { kind: 'short', error: new HotWalletShortError(outcome.message, { code: 'hot_wallet_insufficient_funds' }) };
      default:
        return outcome;
    }
  }

  async function run(requests: ReserveRequest[]): Promise<Reservation[]> {
    // The same withdrawal twice in one batch (a duplicate delivery): the first one decides.
    const seen = new Set<string>();
    const unique = requests.filter((r) => !seen.has(r.w.id) && seen.add(r.w.id));
    const [fees, networks] = await Promise.all([deps.fees.current(), assets.all()]);
    let { byWallet, outcome, reused } = await plan(unique, fees, networks, false);
    if (reused && [...outcome.values()].some((o) => o.kind === 'busy' || o.kind === 'short')) ({ byWallet, outcome } = await plan(unique, fees, networks, true));
    const shares = [...byWallet.values()];
    if (shares.length > 0) {
      const results = await reserveShares({ chainId, maxPendingPerWallet: limit(), fees, networks, shares });
      shares.forEach((share, s) => share.items.forEach((item, i) => outcome.set(item, reservationOf(share.lane, results[s]![i]!))));
    }
    return requests.map((r) => outcome.get(r) ?? { kind: 'skipped' });
  }

  // Two batches at once on SQLite too, though its one writer runs their transactions one after
  // the other: the next batch's plan and transaction are then ready while the main thread signs
  // the last one's withdrawals, instead of the worker waiting for it (bench signer: 2,150 ->
  // 2,600/s with the signer's concurrency at 1,024). A plan made beside another is checked again
  // under the lock (reserve-lanes.ts), as with several replicas or on MySQL.
  const concurrency = db.dialect === 'sqlite' ? 2 : batchConcurrency(db);
  const batcher = createMicroBatcher<ReserveRequest, Reservation>({ run, maxSize: MAX_BATCH, concurrency });
  return { reserve: (request: ReserveRequest) => batcher.submit(request) };
}

export type NonceReservations = ReturnType<typeof createNonceReservations>;
