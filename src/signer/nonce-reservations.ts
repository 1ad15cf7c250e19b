import { type Address, getAddress, type Hex, type TransactionSerializableEIP1559 } from 'viem';
import type { AssetNetwork, AssetRegistry } from '../assets/registry.js';
import type { ChainRpc } from '../chain/rpc.js';
import { type Common, crashIfAsked } from '../common.js';
import { timeDbBatch } from '../db/batch-timing.js';
import type { Db } from '../db/connect.js';
import { withTransaction } from '../db/transaction.js';
import { runWriteTask } from '../db/write-task.js';
import { BalancesMovedError } from '../ledger/errors.js';
import { batchConcurrency, createMicroBatcher } from '../util/micro-batch.js';
import type { Wallet, Wallets } from '../wallets/wallets.js';
import { buildTransfer, type TransferIntent, type VerifiedTx, verifiedTransfer } from './build-tx.js';
import type { FeeOracle, FeePair } from './fees.js';
import {
  intentAt,
  type LaneOutcome,
  type LaneResult,
  type LaneShare,
  byRequestBalanceRow,
  payoutOf,
  type ReserveLanesInput,
  type ReserveRequest,
  reserveLanes,
  reserveLanesWith,
  type SignedAhead,
} from './reserve-lanes.js';
import { createLaneKeys, type HotWalletKeysUnusableError, keysUnusable } from './lane-keys.js';
import { type Candidate, pickLane } from './pick-lane.js';
import { addToLoad, HotWalletShortError, type LaneLoad, laneLoads, walletBalances } from './wallet-funds.js';

export type { ReserveRequest } from './reserve-lanes.js';

export type Reservation =
  /** Signed ahead and stored at this nonce (SIGNED): only the signed queue's message is left to send. */
  | { kind: 'stored'; wallet: Wallet; nonce: number; txHash: Hex }
  /** The nonce only: `verified` is built from `intent` and checked against it, what the signer signs after commit. */
  | { kind: 'reserved'; wallet: Wallet; nonce: number; intent: TransferIntent; verified: VerifiedTx }
  /** Someone else reserved or moved it meanwhile (a duplicate delivery). */
  | { kind: 'skipped' }
  | { kind: 'insufficient_balance' }
  /** No wallet of the chain can cover it now (the error says which and by how much). */
  | { kind: 'short'; error: HotWalletShortError }
  /** Every wallet of the chain has its limit of txs in flight: wait for blocks. */
  | { kind: 'busy' }
  /** Every wallet of the chain is left out because its key is not usable (lane-keys.ts): wait for an operator. */
  | { kind: 'keys'; error: HotWalletKeysUnusableError };

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
 * per-wallet limit and can cover it, first among the lanes its batch is planned on (a share of
 * the pool that no other batch here holds: batches side by side then lock different wallet rows
 * and commit side by side; MariaDB signer bench ~4,300 -> 4,500-4,750/s); then a short transaction holds
 * the users' funds and takes a run of each lane's nonces, one for all lanes of the batch
 * (reserve-lanes.ts; on SQLite, on its write worker).
 *
 * Where this process knows a lane's next nonce (the lane's last batch here left it so), its
 * payouts are signed before that transaction, outside any lock, at the nonces they are expected
 * to take, and the transaction stores each signature whose nonce is the one it takes: the nonce,
 * the hold and the signed bytes in one commit (invariant 1), one commit per batch instead of two.
 * The rest (the first batch of a lane after a start, a lane another batch or replica moved, every
 * payout after one that failed its hold) only reserves, and the signer signs and stores those
 * after commit (signer.ts). A signature that is not stored is dropped unsent: only stored bytes
 * are ever broadcast.
 */
export function createNonceReservations(deps: {
  common: Common;
  db: Db;
  assets: AssetRegistry;
  wallets: Wallets;
  chain: ChainRpc;
  fees: FeeOracle;
  build: (intent: TransferIntent) => TransactionSerializableEIP1559;
  /** Signs the verified bytes as the lane's wallet and checks the signature is that wallet's (invariant 9). */
  sign: (lane: Wallet, verified: VerifiedTx) => Promise<{ raw: Hex; txHash: Hex }>;
  /** The address the lane's key signs for (throws when the key cannot be read). */
  keyAddress: (lane: Wallet) => Promise<Address>;
}) {
  const { db, assets, wallets, chain } = deps;
  const chainId = chain.chain.chainId;
  const log = deps.common.logger.child({ component: 'signer', chainId });
  const laneKeys = createLaneKeys({ common: deps.common, chainId, keyAddress: deps.keyAddress });
  // Read at use: an operator may change it while Sluice runs (chain-settings.ts).
  const limit = () => chain.chain.maxPendingPerWallet;

  /**
   * Per lane: the next nonce its batches in flight here will leave it at, if all of them store
   * what they planned; and how many of them are in flight. Only a guess for signing ahead: the
   * wallet row, read under its lock, decides.
   */
  const expectedNext = new Map<string, number>();
  const batchesInFlight = new Map<string, number>();
  /**
   * Per lane, the turn of the last batch that planned on it. Batches lock a lane in the order they
   * guessed its nonces in: a batch whose signatures came back first (KMS), or whose withdrawal
   * rows were locked first, must not take a lane ahead of the one guessed before it, which would
   * make both miss their guesses and sign every payout again. A batch's turn ends once it holds
   * its wallet rows; batches on other lanes do not wait for it. Turns are taken in one order
   * (the order batches are planned in), so they never wait in a cycle.
   */
  const laneTurns = new Map<string, Promise<void>>();
  function takeTurns(lanes: string[]): { ready: Promise<unknown>; done: () => void } {
    let resolve!: () => void;
    const mine = new Promise<void>((r) => (resolve = r));
    const before: Array<Promise<void>> = [];
    for (const lane of lanes) {
      const last = laneTurns.get(lane);
      if (last) before.push(last);
      laneTurns.set(lane, mine);
    }
    const done = () => {
      resolve();
      for (const lane of lanes) if (laneTurns.get(lane) === mine) laneTurns.delete(lane);
    };
    return { ready: Promise.all(before), done };
  }

  /**
   * Per lane, the batches of this process planned on it whose transaction has not ended. A batch
   * holds its lanes' rows from its lock to its commit, so batches on the same lanes run their
   * transactions one after the other; the plan gives each batch lanes no other batch holds, as
   * far as it can, so that batches side by side commit side by side.
   */
  const lanesInUse = new Map<string, number>();
  function lanesOf(byWallet: Map<string, LaneShare>): string[] {
    const lanes: string[] = [];
    for (const share of byWallet.values()) lanes.push(getAddress(share.lane.address));
    return lanes;
  }
  function useLanes(lanes: string[], by: 1 | -1): void {
    for (const lane of lanes) {
      const n = (lanesInUse.get(lane) ?? 0) + by;
      if (n > 0) lanesInUse.set(lane, n);
      else lanesInUse.delete(lane);
    }
  }

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
    const { usable, refused } = await laneKeys.usable(await wallets.forChain(chainId));
    const byWallet = new Map<string, LaneShare>();
    const outcome = new Map<ReserveRequest, Reservation>();
    if (usable.length === 0 && refused.length > 0) {
      const error = keysUnusable(chainId, refused);
      for (const request of requests) outcome.set(request, { kind: 'keys', error });
      return { byWallet, outcome, reused: false };
    }
    const lanes = usable.map((lane) => ({ lane, address: getAddress(lane.address) }));
    const { loads, reused } = await loadsOf(lanes.map((l) => l.address), fees, networks, fresh);
    const open = lanes.map((l) => ({ ...l, load: loads.get(l.address)! })).filter((l) => l.load.pending < limit());
    const tokens: Address[] = [];
    for (const r of requests) if (r.network.kind === 'erc20') tokens.push(r.network.contract!);
    const balances = await Promise.all(open.map((l) => walletBalances(chain, l.address, tokens)));
    const candidates = open.map((l, i) => ({ ...l, balances: balances[i]! }));
    const preferred = preferredLanes(candidates);
    const slack = Math.ceil(limit() / 4);
    for (const request of requests) {
      const payout = payoutOf(request, fees);
      const best = pickLane(candidates, payout, limit());
      const own = preferred.length > 0 && preferred.length < candidates.length ? pickLane(preferred, payout, limit()) : best;
      const chosen = isLane(own) && isLane(best) && own.load.pending <= best.load.pending + slack ? own : best;
      if (!isLane(chosen)) {
        outcome.set(request, chosen === 'busy' ? { kind: 'busy' } : { kind: 'short', error: chosen });
        continue;
      }
      addToLoad(chosen.load, payout);
      const group = byWallet.get(chosen.lane.address) ?? { lane: chosen.lane, balances: chosen.balances, items: [] };
      group.items.push(request);
      byWallet.set(chosen.lane.address, group);
    }
    // In use from here, with no await between the choice and the mark: a plan made beside this
    // one sees these lanes taken.
    useLanes(lanesOf(byWallet), 1);
    return { byWallet, outcome, reused };
  }

  /**
   * The lanes a batch is planned on first: the least busy of those no other batch of this
   * process holds (else of those the fewest hold), a share of the pool per batch running now (at
   * least per batch that always may: a backlog's extra batches split it finer only while they
   * run). A payout goes to the least busy of them that can take it, unless that one has more
   * than a quarter of the per-wallet limit in flight beyond the least busy lane of all: then to
   * that one (after the batch that holds it), so a burst still spreads over the pool and a lane
   * left out here never makes a payout wait.
   */
  function preferredLanes<C extends { address: Address; load: LaneLoad }>(candidates: C[]): C[] {
    let fewest = Infinity;
    for (const c of candidates) fewest = Math.min(fewest, lanesInUse.get(c.address) ?? 0);
    const free = candidates.filter((c) => (lanesInUse.get(c.address) ?? 0) === fewest).sort((a, b) => a.load.pending - b.load.pending);
    return free.slice(0, Math.ceil(candidates.length / Math.max(concurrency, batchesRunning)));
  }

  /**
   * The batch's lanes in one transaction, on both databases (reserve-lanes.ts). `lanesLocked` is
   * called once its wallet rows are locked; the SQLite write worker runs transactions in the order
   * it is handed them, so there at once.
   */
  async function reserveShares(input: ReserveLanesInput, lanesLocked: () => void): Promise<LaneResult[]> {
    if (deps.build === buildTransfer && db.sqliteWriter) {
      const reserved = runWriteTask(db, reserveLanes, input);
      lanesLocked();
      return reserved;
    }
    // Users' balance rows locked for the last statements only: batches side by side share users
    // (the bench's 500), and each waited for the other's whole transaction. If a balance moved
    // in between, the batch runs again with them locked first, which cannot end so.
    const run = (balanceLock: 'now' | 'at-flush') => withTransaction(db, (trx) => reserveLanesWith({ db, trx }, { ...input, balanceLock }, deps.build, lanesLocked));
    try {
      return await run('at-flush');
    } catch (err) {
      if (!(err instanceof BalancesMovedError)) throw err;
      log.info({ err }, 'a balance moved under the batch; running it again with the balance rows locked first');
      return run('now');
    }
  }

  /**
   * Signs the share's payouts at the nonces the lane is expected to give them, in the order it
   * gives them (byBalanceRow, as reserve-lanes.ts walks them). A payout that cannot be built,
   * verified or signed goes without: it is reserved, and signing it after commit fails visibly
   * as it always did. Returns where the share was expected to start, or undefined.
   */
  async function signAhead(share: LaneShare, fees: FeePair): Promise<number | undefined> {
    const address = getAddress(share.lane.address);
    batchesInFlight.set(address, (batchesInFlight.get(address) ?? 0) + 1);
    const from = expectedNext.get(address);
    if (from === undefined) return undefined;
    share.items.sort(byRequestBalanceRow);
    expectedNext.set(address, from + share.items.length);
    const signing: Array<Promise<SignedAhead | null>> = [];
    for (let i = 0; i < share.items.length; i++) signing.push(signOneAhead(share, share.items[i]!, from + i, fees));
    share.signed = await Promise.all(signing);
    return from;
  }

  /** One payout of signAhead's; a function of the factory, not a callback per batch (see ledger.ts on V8's optimized code). */
  async function signOneAhead(share: LaneShare, request: ReserveRequest, nonce: number, fees: FeePair): Promise<SignedAhead | null> {
    try {
      const verified = verifiedTransfer(intentAt(chainId, request, nonce, fees), deps.build);
      const { raw, txHash } = await deps.sign(share.lane, verified);
      return { nonce, raw, txHash, gas: verified.tx.gas! };
    } catch (err) {
      log.debug({ withdrawalId: request.w.id, wallet: share.lane.address, err }, 'not signed ahead; reserved, to be signed after commit');
      return null;
    }
  }

  /** How many signatures made ahead were stored, and how many dropped unsent (another nonce, or the withdrawal not taken). */
  function countSignedAhead(share: LaneShare, outcomes: LaneOutcome[]): void {
    if (!share.signed) return;
    let stored = 0;
    for (const o of outcomes) if (o.kind === 'stored') stored += 1;
    const made = share.signed.filter((x) => x !== null).length;
    const labels = { chain_id: String(chainId) };
    if (stored > 0) deps.common.metrics.signedAhead.inc({ ...labels, outcome: 'stored' }, stored);
    if (made > stored) deps.common.metrics.signedAhead.inc({ ...labels, outcome: 'dropped' }, made - stored);
  }

  /** After the lane's transaction: the next nonce it left, if this batch was the lane's last in flight. */
  function settleExpected(share: LaneShare, from: number | undefined, next: number | undefined): void {
    const address = getAddress(share.lane.address);
    const left = (batchesInFlight.get(address) ?? 1) - 1;
    if (left > 0) batchesInFlight.set(address, left);
    else batchesInFlight.delete(address);
    if (next !== undefined && from !== undefined && next === from + share.items.length) return; // as planned
    // Another batch planned on the guess is in flight: it finds out under the lock and ends as the last.
    if (next === undefined || left > 0) expectedNext.delete(address);
    else expectedNext.set(address, next);
  }

  function reservationOf(lane: Wallet, outcome: LaneOutcome): Reservation {
    switch (outcome.kind) {
      case 'stored':
        return { kind: 'stored', wallet: lane, nonce: outcome.nonce, txHash: outcome.txHash };
      case 'reserved':
        return { kind: 'reserved', wallet: lane, nonce: outcome.nonce, intent: outcome.intent, verified: outcome.verified };
      case 'short':
        return { kind: 'short', error: new HotWalletShortError(outcome.message, { code: 'hot_wallet_insufficient_funds' }) };
      default:
        return outcome;
    }
  }

  /** The batch's shares signed ahead where the lanes' nonces are known, then reserved in one transaction once it is their turn. */
  async function reserveOnLanes(shares: LaneShare[], laneAddresses: string[], fees: FeePair, networks: AssetNetwork[], outcome: Map<ReserveRequest, Reservation>): Promise<void> {
    const turn = takeTurns(laneAddresses);
    let starts: Array<number | undefined> = [];
    let results: LaneResult[];
    try {
      starts = await Promise.all(shares.map((share) => signAhead(share, fees)));
      if (shares.some((share) => share.signed)) crashIfAsked(deps.common, 'signed-ahead');
      await turn.ready;
      let payouts = 0;
      for (const share of shares) payouts += share.items.length;
      results = await timeDbBatch(deps.common.metrics, 'reserve', payouts, () => reserveShares({ chainId, maxPendingPerWallet: limit(), fees, networks, shares }, turn.done));
    } catch (err) {
      shares.forEach((share, s) => settleExpected(share, starts[s], undefined));
      throw err;
    } finally {
      turn.done();
    }
    for (let s = 0; s < shares.length; s++) {
      const share = shares[s]!;
      settleExpected(share, starts[s], results[s]!.next);
      for (let i = 0; i < share.items.length; i++) outcome.set(share.items[i]!, reservationOf(share.lane, results[s]!.outcomes[i]!));
      countSignedAhead(share, results[s]!.outcomes);
    }
  }

  async function run(requests: ReserveRequest[]): Promise<Reservation[]> {
    // The same withdrawal twice in one batch (a duplicate delivery): the first one decides.
    const seen = new Set<string>();
    const unique: ReserveRequest[] = [];
    for (const r of requests) {
      if (seen.has(r.w.id)) continue;
      seen.add(r.w.id);
      unique.push(r);
    }
    const [fees, networks] = await Promise.all([deps.fees.current(), assets.all()]);
    let { byWallet, outcome, reused } = await plan(unique, fees, networks, false);
    if (reused && [...outcome.values()].some((o) => o.kind === 'busy' || o.kind === 'short')) {
      useLanes(lanesOf(byWallet), -1);
      ({ byWallet, outcome } = await plan(unique, fees, networks, true));
    }
    const shares = [...byWallet.values()];
    const laneAddresses = lanesOf(byWallet);
    try {
      if (shares.length > 0) await reserveOnLanes(shares, laneAddresses, fees, networks, outcome);
    } finally {
      useLanes(laneAddresses, -1);
    }
    const out: Reservation[] = [];
    for (const r of requests) out.push(outcome.get(r) ?? { kind: 'skipped' });
    return out;
  }

  // Two batches at once on SQLite too, though its one writer runs their transactions one after
  // the other: the next batch's plan and transaction are then ready while the main thread signs
  // the last one's withdrawals, instead of the worker waiting for it (bench signer: 2,150 ->
  // 2,600/s with the signer's concurrency at 1,024). Under a backlog (full batches waiting) up to
  // four: with two, the main thread waited for a commit after signing each batch (76-78% busy);
  // with four, one is signed while another waits for the worker and a third commits (81-84%
  // busy; bench signer, SQLite, alternated: 4,586 and 4,697/s against 4,271/s). Only for full
  // batches: at a steady load (e2e, 400/s) more, smaller batches each waited behind the others'
  // commits (request->broadcast P99 317-432 against 169-287 ms). A plan made beside another is
  // checked again under the lock (reserve-lanes.ts), as with several replicas or on MySQL.
  const concurrency = db.dialect === 'sqlite' ? 2 : batchConcurrency(db);
  let batchesRunning = 0;
  const batcher = createMicroBatcher<ReserveRequest, Reservation>({
    run: async (requests) => {
      batchesRunning++;
      try {
        return await run(requests);
      } finally {
        batchesRunning--;
      }
    },
    maxSize: MAX_BATCH,
    concurrency,
    concurrencyWhenFull: Math.max(concurrency, 4),
  });
  return { reserve: (request: ReserveRequest) => batcher.submit(request) };
}

export type NonceReservations = ReturnType<typeof createNonceReservations>;

function isLane(picked: ReturnType<typeof pickLane>): picked is Candidate {
  return picked !== 'busy' && !(picked instanceof HotWalletShortError);
}
