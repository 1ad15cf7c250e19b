import type { Address, Hash, Hex, TransactionReceipt } from 'viem';
import type { AssetRegistry } from '../assets/registry.js';
import type { Cache } from '../cache/types.js';
import type { ChainRpc } from '../chain/rpc.js';
import type { Common } from '../common.js';
import { isRetryable } from '../errors/base.js';
import type { Db } from '../db/connect.js';
import type { WithdrawalStatus } from '../db/schema.js';
import { withTransaction } from '../db/transaction.js';
import { timeDbBatch } from '../db/batch-timing.js';
import { preloadWriteTasks, runWriteTask } from '../db/write-task.js';
import { InsufficientBalanceError } from '../ledger/errors.js';
import { batchConcurrency, createMicroBatcher } from '../util/micro-batch.js';
import type { DeadLetters } from '../dlq/dead-letters.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Queue, RequestMessage, SignedMessage } from '../queue/types.js';
import { createSender } from '../sender/sender.js';
import { sleep } from '../util/sleep.js';
import { type AttemptRow, createAttempts, FILL_KIND, PAYOUT_KINDS } from '../withdrawals/attempts.js';
import { StaleTransitionError } from '../withdrawals/errors.js';
import { openTransitions, type TransitionPatch, type WithdrawalRepository } from '../withdrawals/repository.js';
import { settledViewKey } from '../withdrawals/settled-view-cache.js';
import { applyMoves, type Move, recordConfirmations, type Settlement } from './apply-moves.js';
import { inFlightWallets, LANE_COLUMNS, LANE_WINDOW, type LaneRow, lanesWindow, laneWindow, lowestNonces, splitLanes } from './lane-queries.js';
import { payoutInReceipt } from './payout-evidence.js';
import { createSettledWatch } from './settled-watch.js';

export type TrackerDeps = {
  common: Common;
  db: Db;
  ledger: Ledger;
  withdrawals: WithdrawalRepository;
  assets: AssetRegistry;
  chains: Map<number, ChainRpc>;
  /** The signer's queue: fee bumps, cancels and re-signs are asked for here. */
  requests: Queue<RequestMessage>;
  /** The senders' queue (a rebroadcast may lead to a cancel being signed and queued). */
  signed: Queue<SignedMessage>;
  deadLetters: DeadLetters;
  /** Where the API keeps settled withdrawals' views: a reopened one's is dropped. */
  cache: Cache;
};

export type TickResult = { checked: number; transitions: number };

/** Pending nonces past the lane's first unmined one that are rebroadcast (geth keeps ~16 pending per sender). */
const REBROADCAST_WINDOW = 16;
/** Pending rows of one lane handled at once (each may need a rebroadcast or a request). */
const ROW_PARALLELISM = 8;

/**
 * Transaction Tracker. Works per nonce lane (chain, hot wallet): one `eth_getTransactionCount`
 * tells which of the lane's nonces are used on chain, so only txs that just got mined need a
 * receipt lookup and pending ones cost nothing but their timers (bounded RPC calls per block,
 * whatever the number in flight; a stuck lane never crowds out another).
 *
 * - nonce used, no receipt yet known: find which of the withdrawal's txs mined (any attempt:
 *   first, bump or cancel, invariant 7) -> CONFIRMING with its block hash. If none of them did and
 *   the nonce is used at final depth, a foreign tx took it: re-sign at a fresh nonce (or, when it
 *   was being cancelled anyway, CANCELLED).
 * - CONFIRMING: confirmations count only while the block hash at that height is unchanged; a
 *   reorg sends it back to BROADCAST. At depth it settles from the receipt: a cancel -> CANCELLED,
 *   a payout -> COMPLETED only with evidence of the payment (invariant 10), a revert -> FAILED.
 * - pending: rebroadcast the newest tx's bytes after a while, ask for a fee bump when it stays
 *   unmined (the lane's head, or any tx priced below the base fee), ask for a cancel when the
 *   withdrawal's nonce is to be filled.
 * - settled, then its tx gone in a reorg deeper than the required confirmations (a nonce the chain
 *   no longer counts as used, or a settled payout's block replaced): back in flight (`reopen`).
 */
export function createTracker(deps: TrackerDeps) {
  const { common, db, ledger, withdrawals } = deps;
  const log = common.logger.child({ component: 'tracker' });
  const attempts = createAttempts(db);
  const settledWatch = createSettledWatch({ db, logger: log });
  const sender = createSender({ ...deps, signed: deps.signed, requests: deps.requests });
  /** When this process last asked for something about a tx, so one tick's request isn't repeated every tick. */
  const asked = new Map<string, number>();
  /**
   * Receipts seen when their tx was found mined, kept until it settles: a receipt is fixed by its
   * block, so while that block is still canonical at its height (checked each pass before
   * settling) it is the same evidence a second fetch would give. Bounded; a miss fetches again.
   */
  const minedReceipts = new Map<Hash, TransactionReceipt>();
  const MINED_RECEIPTS_LIMIT = 8_192;

  function rememberReceipt(receipt: TransactionReceipt): void {
    if (minedReceipts.size >= MINED_RECEIPTS_LIMIT) minedReceipts.delete(minedReceipts.keys().next().value!);
    minedReceipts.set(receipt.transactionHash, receipt);
  }

  async function receiptInBlock(ctx: LaneContext, txHash: Hash, blockHash: string | null): Promise<TransactionReceipt | null> {
    const seen = minedReceipts.get(txHash);
    if (seen && seen.blockHash === blockHash) return seen;
    return ctx.chain.receipt(txHash);
  }

  function askedRecently(key: string, withinMs: number): boolean {
    const at = asked.get(key);
    if (at !== undefined && Date.now() - at < withinMs) return true;
    asked.set(key, Date.now());
    if (asked.size > 50_000) for (const [k, t] of asked) if (Date.now() - t > 3_600_000) asked.delete(k);
    return false;
  }

  /** An RPC outage is expected and shows in the endpoint metrics; only other failures deserve a warning. */
  const retryLog = (err: unknown) => (isRetryable(err) ? log.debug.bind(log) : log.warn.bind(log));

  const count = (chainId: number, action: string) => common.metrics.trackerActions.inc({ chain_id: String(chainId), action });

  const moves = createMicroBatcher<Move, boolean>({
    maxSize: 256,
    concurrency: batchConcurrency(db),
    run: (items) => timeDbBatch(common.metrics, 'move', items.length, () => runWriteTask(db, applyMoves, items)),
  });
  const confirmations = createMicroBatcher<{ id: string; confirmations: number }, boolean>({
    maxSize: 256,
    concurrency: batchConcurrency(db),
    run: (items) => timeDbBatch(common.metrics, 'confirm', items.length, () => runWriteTask(db, recordConfirmations, items)),
  });

  async function move(w: LaneRow, path: WithdrawalStatus[], patch: TransitionPatch, settle: Settlement, event: { code?: string; detail?: string } = {}): Promise<boolean> {
    const moved = await moves.submit({ w, path, patch, settle, event });
    if (moved) for (let i = 0; i + 1 < path.length; i++) common.metrics.transitions.inc({ from: path[i]!, to: path[i + 1]! });
    return moved;
  }

  /** Path from the row's status into CONFIRMING (a tx may be mined before the sender saw it accepted). */
  function pathTo(status: WithdrawalStatus, target: WithdrawalStatus): WithdrawalStatus[] {
    if (status === 'SIGNED') return ['SIGNED', 'BROADCAST', 'CONFIRMING', ...(target === 'CONFIRMING' ? [] : [target])];
    if (status === 'BROADCAST') return ['BROADCAST', 'CONFIRMING', ...(target === 'CONFIRMING' ? [] : [target])];
    return ['CONFIRMING', target];
  }

  type LaneContext = {
    chain: ChainRpc;
    head: bigint;
    wallet: Address;
    /** Nonces below this are used on chain (the wallet's mined tx count). */
    mined: number;
    /** Canonical block hashes read in this pass (shared by the chain's lanes). */
    blockHashes: Map<bigint, Promise<Hash | null>>;
    /** Each pending row's own txs, oldest first, read in one query at the start of the lane's tick. */
    own: Map<string, AttemptRow[]>;
    finalMined?: Promise<number>;
    baseFee?: Promise<bigint>;
  };

  function canonicalHash(ctx: LaneContext, block: bigint): Promise<Hash | null> {
    let p = ctx.blockHashes.get(block);
    if (!p) ctx.blockHashes.set(block, (p = ctx.chain.blockHash(block).catch(() => null)));
    return p;
  }

  /** Nonces used at final depth (required confirmations): what a foreign tx must have reached before we act on it. */
  function finalMined(ctx: LaneContext): Promise<number> {
    const depth = BigInt(ctx.chain.chain.confirmations);
    const block = ctx.head - depth + 1n;
    ctx.finalMined ??= block < 0n ? Promise.resolve(0) : ctx.chain.transactionCount(ctx.wallet, block);
    return ctx.finalMined;
  }

  function baseFee(ctx: LaneContext): Promise<bigint> {
    ctx.baseFee ??= ctx.chain.suggestFees().then((f) => f.baseFee);
    return ctx.baseFee;
  }

  async function reorged(w: LaneRow, ctx: LaneContext, why: string): Promise<boolean> {
    const moved = await move(w, ['CONFIRMING', 'BROADCAST'], { block_number: null, block_hash: null, confirmations: 0 }, null, { code: 'reorged', detail: why });
    if (!moved) return false;
    count(w.chain_id, 'reorg');
    log.warn({ withdrawalId: w.id, chainId: w.chain_id, wallet: w.wallet, nonce: w.nonce, txHash: w.tx_hash, reason: why }, 'reorg: transaction left the chain; back to BROADCAST');
    // Its bytes may be in no mempool now: send them again at once.
    const latest = await attempts.latest(w.id);
    if (latest) await rebroadcast(w, latest, 0);
    return true;
  }

  /**
   * Sends the newest tx's stored bytes again, here and now, with the sender's own handling of what
   * the node says (bump, wait, cancel). Not through the senders' queue: a lane's FIFO group must
   * stay free for first broadcasts and replacements, and a flood of repeats would queue the one
   * that matters behind the ones that do not.
   */
  async function rebroadcast(w: LaneRow, latest: AttemptRow, withinMs: number): Promise<void> {
    if (askedRecently(`rb:${latest.tx_hash}`, withinMs)) return;
    count(w.chain_id, 'rebroadcast');
    await sender.sendWithdrawal({ withdrawalId: w.id, txHash: latest.tx_hash }).catch((err) => {
      retryLog(err)({ withdrawalId: w.id, chainId: w.chain_id, wallet: w.wallet, nonce: w.nonce, txHash: latest.tx_hash, err }, 'rebroadcast failed; will try again');
    });
  }

  /** A nonce that is used on chain: which of our txs is it, and how deep? */
  async function trackMined(w: LaneRow, ctx: LaneContext): Promise<boolean> {
    const required = ctx.chain.chain.confirmations;
    if (w.status === 'CONFIRMING' && w.block_hash && w.block_number !== null) {
      const block = BigInt(w.block_number);
      const canonical = await canonicalHash(ctx, block);
      if (canonical === null) return false; // cannot tell now; next tick
      if (canonical !== w.block_hash) return reorged(w, ctx, `block ${block} was replaced (${w.block_hash} -> ${canonical})`);
      const depth = Number(ctx.head - block + 1n);
      if (depth >= required) return settle(w, ctx);
      if (depth !== w.confirmations) await confirmations.submit({ id: w.id, confirmations: Math.max(depth, 0) });
      return false;
    }

    const ours = await attempts.of(w.id);
    const receipts = await Promise.all(ours.map((a) => ctx.chain.receipt(a.tx_hash as Hash)));
    const found = receipts.find((r): r is TransactionReceipt => r !== null);
    const paidBy = ours.filter((a, i) => PAYOUT_KINDS.includes(a.kind) && receipts[i]?.status === 'success');
    if (paidBy.length > 1 && !askedRecently(`alert:double:${w.id}`, 3_600_000)) {
      count(w.chain_id, 'double_payout');
      log.error({ alert: 'double_payout', withdrawalId: w.id, chainId: w.chain_id, wallet: w.wallet, nonce: w.nonce, txHashes: paidBy.map((a) => a.tx_hash) }, 'more than one payout of this withdrawal is mined (a re-signed payout and its old one after a reorg beyond finality)');
    }
    if (found) {
      const depth = Number(ctx.head - found.blockNumber + 1n);
      // Mined: a wait the row described (fee cap, hot wallet short) is over.
      const waitOver = WAITS_OVER_WHEN_MINED.includes(w.failure_code ?? '') ? { failure_code: null, failure_reason: null } : {};
      const patch = { tx_hash: found.transactionHash, block_number: Number(found.blockNumber), block_hash: found.blockHash, confirmations: Math.max(depth, 0), ...waitOver };
      rememberReceipt(found);
      const moved = await move(w, pathTo(w.status, 'CONFIRMING'), patch, null);
      if (moved) log.info({ withdrawalId: w.id, chainId: w.chain_id, wallet: w.wallet, nonce: w.nonce, txHash: found.transactionHash, block: Number(found.blockNumber) }, 'transaction included; confirming');
      return moved;
    }
    // Used, but by none of ours. Only a nonce used at final depth proves a foreign tx took it.
    if (w.nonce === null || Number(w.nonce) >= (await finalMined(ctx))) return false;
    // A second, independent look: any of ours in a block means its receipt is merely late. An
    // unreachable node throws here and the decision waits for the next tick.
    const seen = await Promise.all(
      ours.map((a) => ctx.chain.read((c) => c.request({ method: 'eth_getTransactionByHash', params: [a.tx_hash as Hash] })) as Promise<{ blockNumber: string | null } | null>),
    );
    if (seen.some((t) => t !== null && t.blockNumber !== null)) return false;
    count(w.chain_id, 'foreign_nonce');
    const fields = { withdrawalId: w.id, chainId: w.chain_id, wallet: w.wallet, nonce: w.nonce, alert: 'foreign_nonce' };
    // Only past what is final: a foreign tx above it may still be reorged out, and a next nonce
    // moved past it would leave that nonce owned by nobody, the lane stuck behind it.
    await resyncNonce(w.chain_id, ctx.wallet, await finalMined(ctx));
    if (w.cancel_reason !== null) {
      // It was to be cancelled: its nonce is used and nothing of ours was paid. That is a cancel.
      const moved = await move(w, w.status === 'SIGNED' ? ['SIGNED', 'BROADCAST', 'CANCELLED'] : ['BROADCAST', 'CANCELLED'], { failure_code: 'cancelled', failure_reason: w.cancel_reason }, 'release', { code: 'nonce_taken', detail: 'nonce used by a foreign transaction while a cancel was pending' });
      log.error(fields, 'nonce of a withdrawal being cancelled was used by a foreign tx; cancelled, hold released');
      return moved;
    }
    if (!askedRecently(`resign:${w.id}:${w.nonce}`, ctx.chain.chain.policy.rebroadcastAfterMs)) {
      log.error(fields, 'a transaction Sluice did not sign used this nonce and is final; asking the signer to re-sign at a fresh nonce');
      await deps.requests.send({ withdrawalId: w.id, action: 'resign', nonce: Number(w.nonce) });
    }
    return false;
  }

  /** Nonces used outside Sluice beyond what it assigned would make its next txs "nonce too low". */
  async function resyncNonce(chainId: number, wallet: Address, mined: number): Promise<void> {
    const r = await db.kysely.updateTable('wallets').set({ next_nonce: mined }).where('chain_id', '=', chainId).where('address', '=', wallet).where('next_nonce', '<', mined).executeTakeFirst();
    if (Number(r.numUpdatedRows) > 0) log.warn({ chainId, wallet, nextNonce: mined }, 'hot wallet next nonce resynced to the chain');
  }

  /** At depth on the surviving chain: settle from the receipt itself. */
  async function settle(w: LaneRow, ctx: LaneContext): Promise<boolean> {
    const receipt = await receiptInBlock(ctx, w.tx_hash as Hash, w.block_hash);
    if (!receipt) return false; // an endpoint without it; the block-hash check above decides reorgs
    if (receipt.blockHash !== w.block_hash) return reorged(w, ctx, `receipt now in block ${receipt.blockHash}`);
    minedReceipts.delete(receipt.transactionHash); // settled below (or asked again on a miss)
    const attempt = await attempts.byHash(receipt.transactionHash);
    const patch = { confirmations: Number(ctx.head - receipt.blockNumber + 1n) };
    const fields = { withdrawalId: w.id, chainId: w.chain_id, wallet: w.wallet, nonce: w.nonce, txHash: receipt.transactionHash, block: Number(receipt.blockNumber) };
    if (!attempt || !PAYOUT_KINDS.includes(attempt.kind)) {
      const moved = await move(w, ['CONFIRMING', 'CANCELLED'], { ...patch, failure_code: 'cancelled', failure_reason: w.cancel_reason }, 'release', { code: 'cancelled', detail: w.cancel_reason ?? undefined });
      if (moved) {
        log.warn(fields, 'cancel mined at the withdrawal nonce; cancelled and hold released');
        watchSettled(ctx, { ...w, status: 'CANCELLED' }, receipt);
      }
      return moved;
    }
    if (receipt.status !== 'success') {
      const moved = await move(w, ['CONFIRMING', 'FAILED'], { ...patch, failure_code: 'reverted', failure_reason: 'The transaction reverted on chain.' }, 'release', { code: 'reverted' });
      if (moved) {
        log.warn(fields, 'transaction reverted; withdrawal failed and hold released');
        watchSettled(ctx, { ...w, status: 'FAILED' }, receipt);
      }
      return moved;
    }
    const network = await deps.assets.find(w.asset, w.chain_id);
    if (!network || !payoutInReceipt(receipt, { network, wallet: ctx.wallet, to: w.to_address as Address, ledgerAmount: BigInt(w.amount) })) {
      count(w.chain_id, 'transfer_missing');
      const moved = await move(w, ['CONFIRMING', 'FAILED'], { ...patch, failure_code: 'transfer_not_executed', failure_reason: 'The transaction succeeded but its receipt shows no transfer of the amount to the recipient.' }, 'release', { code: 'transfer_not_executed' });
      if (moved) {
        log.error({ ...fields, alert: 'transfer_not_executed' }, 'mined without paying: no Transfer(wallet -> recipient, amount) in the receipt; withdrawal failed, hold released');
        watchSettled(ctx, { ...w, status: 'FAILED' }, receipt);
      }
      return moved;
    }
    const moved = await move(w, ['CONFIRMING', 'COMPLETED'], patch, 'complete');
    if (moved) {
      log.info(fields, 'withdrawal completed');
      watchSettled(ctx, { ...w, status: 'COMPLETED' }, receipt);
    }
    return moved;
  }

  function watchSettled(ctx: LaneContext, w: LaneRow, receipt: TransactionReceipt): void {
    settledWatch.watch(ctx.chain.chain.chainId, w, receipt.blockNumber, receipt.blockHash, ctx.head + BigInt(ctx.chain.chain.confirmations));
  }

  /** Settled withdrawals whose block was replaced and whose tx no longer says on chain what their status says: reopened. */
  async function checkSettledBlocks(chain: ChainRpc, head: bigint, blockHashes: LaneContext['blockHashes']): Promise<number> {
    let reopened = 0;
    await settledWatch.replaced(chain, head, blockHashes, async (w, replaced) => {
      // Mined again elsewhere in the new branch with the same outcome: still settled. Gone, or
      // mined with another outcome (a new state can make a payout revert, or pay): in flight
      // again, and the lane settles it from what the chain holds now.
      const receipt = await chain.receipt(w.tx_hash as Hash);
      if (receipt && w.status === 'CANCELLED') return; // its cancel is mined, and a cancel never pays
      const pays = receipt !== null && receipt.status === 'success' && (await paysOut(w, receipt));
      if (receipt && pays === (w.status === 'COMPLETED')) return;
      const lost = `${replaced}, beyond the ${chain.chain.confirmations} required confirmations, and ${w.tx_hash} ${receipt ? `${pays ? 'now pays' : 'no longer pays'} in the new branch` : 'is no longer on chain'}`;
      const how = await reopen(w, chain, lost);
      if (!how) return;
      await sendReopened(w, how);
      reopened++;
      count(chain.chain.chainId, 'finality_violation');
      log.error({ alert: 'finality_violation', withdrawalId: w.id, chainId: w.chain_id, wallet: w.wallet, nonce: w.nonce, txHash: w.tx_hash, status: w.status }, `a ${w.status} withdrawal's tx left the chain or changed outcome (its block was replaced beyond the required confirmations); back to BROADCAST, its amount a hold again`);
    });
    return reopened;
  }

  /** A nonce not used on chain yet. */
  async function trackPending(w: LaneRow, ctx: LaneContext): Promise<boolean> {
    if (w.status === 'CONFIRMING') return reorged(w, ctx, `nonce ${w.nonce} is no longer used on chain`);
    // As of the tick's start, like `w` itself: a replacement made since only makes a request stale,
    // and the signer drops stale requests (`replaces`).
    const own = ctx.own.get(w.id) ?? (await attempts.of(w.id));
    const latest = own.at(-1);
    if (!latest) return false;
    const policy = ctx.chain.chain.policy;
    const now = Date.now();
    // Re-signed at this nonce after a foreign tx took its first: should a reorg beyond finality
    // bring back a branch that mined its old payout, it is paid, and this tx must not be mined too.
    if (w.cancel_reason === null && own.some((a) => Number(a.nonce) !== Number(w.nonce)) && !askedRecently(`elsewhere:${w.id}`, policy.rebroadcastAfterMs)) {
      const paidAt = await paidElsewhere(w, ctx.chain, own);
      if (paidAt) {
        await cancelPaidElsewhere(w, paidAt);
        return false;
      }
    }
    if (w.cancel_reason !== null && latest.kind !== 'cancel') {
      if (!askedRecently(`cancel:${w.id}`, policy.rebroadcastAfterMs)) {
        await deps.requests.send({ withdrawalId: w.id, action: 'cancel', reason: w.cancel_reason });
        count(w.chain_id, 'cancel_requested');
      }
      return false;
    }
    const lastSent = Number(latest.last_broadcast_at ?? latest.created_at);
    // Only the lane's first nonces: nothing above them can be mined first anyway.
    const nearHead = Number(w.nonce) < ctx.mined + REBROADCAST_WINDOW;
    if (nearHead && now - lastSent >= policy.rebroadcastAfterMs) await rebroadcast(w, latest, policy.rebroadcastAfterMs);
    // Higher fees cannot help a wallet that cannot pay at all: it waits for a refill instead.
    if (now - Number(latest.created_at) >= policy.bumpAfterMs && w.failure_code !== 'hot_wallet_insufficient_funds') {
      // Bump the lane's head (it holds every later nonce back), and any tx the base fee has outgrown.
      const stuck = Number(w.nonce) === ctx.mined || BigInt(latest.max_fee_per_gas) < (await baseFee(ctx));
      if (stuck && !askedRecently(`bump:${latest.tx_hash}`, policy.bumpAfterMs)) {
        await deps.requests.send({ withdrawalId: w.id, action: 'bump', replaces: latest.tx_hash });
        count(w.chain_id, 'bump_requested');
        log.warn({ withdrawalId: w.id, chainId: w.chain_id, wallet: w.wallet, nonce: w.nonce, txHash: latest.tx_hash }, 'transaction not mined in time; fee bump requested');
      }
    }
    return false;
  }

  /**
   * Nonces below the lane's first in-flight one (or below the wallet's next nonce) that the chain
   * no longer counts as used: a reorg deeper than the required confirmations took settled txs
   * away. Beyond the finality Sluice was told to assume, so it is a P1 alert, and what can be
   * repaired is:
   * - a settled withdrawal at such a nonce is in flight again (`reopen`). Left settled, nothing
   *   would follow it once any other tx used its nonce (a cancelled one's payout, say), and its
   *   nonce might stall the lane.
   * - a nonce no withdrawal holds any more, emptied after a re-sign, is filled (`fillEmptiedNonces`).
   */
  async function refillSettledGap(chain: ChainRpc, wallet: Address, from: number, to: number): Promise<number> {
    const settled = await db.kysely
      .selectFrom('withdrawals')
      .select(LANE_COLUMNS)
      .where('chain_id', '=', chain.chain.chainId)
      .where('wallet', '=', wallet)
      .where('nonce', '>=', from)
      .where('nonce', '<', to)
      .where('status', 'in', ['COMPLETED', 'FAILED', 'CANCELLED'])
      .orderBy('nonce')
      .limit(LANE_WINDOW)
      .execute();
    const policy = chain.chain.policy;
    if (settled.length < Math.min(to - from, LANE_WINDOW) && !askedRecently(`alert:gap:${wallet}:${from}`, policy.rebroadcastAfterMs)) {
      log.error({ alert: 'nonce_gap', chainId: chain.chain.chainId, wallet, from, to }, 'nonces assigned by Sluice are unused on chain and belong to no settled withdrawal');
    }
    let reopened = 0;
    try {
      for (const w of settled) {
        const fields = { alert: 'finality_violation', withdrawalId: w.id, chainId: chain.chain.chainId, wallet, nonce: w.nonce, txHash: w.tx_hash, status: w.status };
        const lost = `nonce ${w.nonce} is no longer used on chain: a reorg deeper than the ${chain.chain.confirmations} required confirmations took ${w.tx_hash} away`;
        const how = await reopen(w, chain, lost);
        if (how) {
          reopened++;
          count(chain.chain.chainId, 'finality_violation');
          log.error(fields, REOPENED[how === 'resend' ? 'resend' : (w.status as 'COMPLETED' | 'FAILED' | 'CANCELLED')]);
          await sendReopened(w, how);
          continue;
        }
        if (askedRecently(`final:${w.tx_hash}`, policy.rebroadcastAfterMs)) continue;
        count(chain.chain.chainId, 'finality_violation');
        log.error(fields, "a settled withdrawal's tx left the chain (reorg beyond the required confirmations) and it could not be put back in flight (its user's balance no longer covers the hold it needs again, or it moved meanwhile); its nonce needs an operator");
        if (w.status !== 'CANCELLED') continue;
        // Its cancel can still fill the nonce, though its payout might be mined there instead.
        const attempt = w.tx_hash ? await attempts.byHash(w.tx_hash) : undefined;
        if (!attempt) continue;
        count(chain.chain.chainId, 'rebroadcast_settled');
        await chain.broadcast(attempt.raw_tx as Hex).catch((err) => log.warn({ ...fields, err }, 'rebroadcast of a settled cancel failed; will retry'));
      }
    } finally {
      // After the reopens, so whoever sees a fill sees the payout owed again too; but also when one throws.
      await fillEmptiedNonces(chain, wallet, from, to, new Set(settled.map((w) => Number(w.nonce)))).catch((err) => {
        retryLog(err)({ chainId: chain.chain.chainId, wallet, err }, 'filling emptied nonces failed; will retry');
      });
    }
    return reopened;
  }

  /**
   * Emptied nonces of a lane that were a withdrawal's before it was re-signed at a fresh nonce (a
   * foreign tx used them, was final, and a reorg beyond finality took it away). No row holds them,
   * so nothing else would ever use them and the lane would wait behind them for good. The signer
   * fills each with a 0-value self-send (`fill`) priced above every tx signed there; it is sent
   * again while the nonce stays empty, and replaced by a higher-priced one when it stays unmined.
   * Should the old payout be mined there after all, `trackPending` cancels the withdrawal's
   * current tx (`cancelPaidElsewhere`). A nonce no tx of Sluice's was ever signed at
   * (a foreign tx's, after a resync) keeps the `nonce_gap` alert: the runbook fills it by hand.
   */
  async function fillEmptiedNonces(chain: ChainRpc, wallet: Address, from: number, to: number, settledNonces: Set<number>): Promise<void> {
    const emptied: number[] = [];
    for (let n = from; n < to && emptied.length < REBROADCAST_WINDOW; n++) if (!settledNonces.has(n)) emptied.push(n);
    if (emptied.length === 0) return;
    const chainId = chain.chain.chainId;
    const policy = chain.chain.policy;
    const there = await attempts.atNonces(chainId, wallet, emptied);
    for (const nonce of emptied) {
      const signed = there.filter((a) => Number(a.nonce) === nonce);
      const owner = signed.filter((a) => a.kind !== FILL_KIND).at(-1)?.withdrawal_id;
      if (!owner) continue;
      const newestFill = signed.filter((a) => a.kind === FILL_KIND).at(-1);
      const fields = { alert: 'finality_violation', withdrawalId: owner, chainId, wallet, nonce, txHash: newestFill?.tx_hash };
      if (newestFill && Date.now() - Number(newestFill.created_at) < policy.bumpAfterMs) {
        if (askedRecently(`fill:rb:${newestFill.tx_hash}`, policy.rebroadcastAfterMs)) continue;
        count(chainId, 'rebroadcast_fill');
        await chain.broadcast(newestFill.raw_tx as Hex).catch((err) => retryLog(err)({ ...fields, err }, 'rebroadcast of a fill failed; will retry'));
        continue;
      }
      if (askedRecently(`fill:${chainId}:${wallet}:${nonce}`, policy.bumpAfterMs)) continue;
      count(chainId, 'fill_requested');
      log.error(fields, newestFill ? 'an emptied nonce is still unused; asking for a higher-priced fill' : "a reorg beyond finality emptied a nonce a re-signed withdrawal held before; asking the signer to fill it (the lane waits behind it)");
      await deps.requests.send({ withdrawalId: owner, action: 'fill', nonce });
    }
  }

  /**
   * A settled payout whose tx a reorg beyond finality took away, back to BROADCAST (event
   * `finality_violation`) and from there tracked like any in-flight withdrawal:
   * - COMPLETED: owed again, not paid. Its payout and fee become a hold again; it is sent again
   *   ('resend'), bumped, re-signed at a fresh nonce if a foreign tx takes its nonce, and settles
   *   anew at depth. Unless a payout it had at an earlier nonce (before a re-sign) is mined in the
   *   new branch: then it is paid, and a cancel is asked for at its nonce ('cancel'); it settles
   *   COMPLETED from that earlier payout once the nonce is used.
   * - FAILED: its bytes could be mined again and might not revert this time, while its hold was
   *   released. Its hold is taken back and a cancel asked for at its nonce (`cancel_reason`); it
   *   settles by whichever tx of it is mined ('cancel').
   * - CANCELLED: its payout's bytes could be mined where the cancel was, while its hold was
   *   released. Its hold is taken back and its cancel sent again; likewise it settles by whichever
   *   tx of it is mined ('cancel').
   * False when the user's available balance no longer covers that hold: then an operator decides.
   * The API's cached view of the settled withdrawal is dropped.
   */
  async function reopen(w: LaneRow, chain: ChainRpc, lost: string): Promise<false | 'resend' | 'cancel'> {
    const patch = { block_number: null, block_hash: null, confirmations: 0, failure_code: SETTLED_TX_REORGED };
    const event = { code: 'finality_violation', detail: lost };
    if (w.status === 'COMPLETED') {
      // Re-signed once (a foreign tx took its first nonce), the new branch may hold its old payout
      // instead: paid there, so its current nonce gets a cancel and nothing is sent again.
      const paidAt = await paidElsewhere(w, chain);
      const reopened = paidAt
        ? { ...patch, failure_reason: `A reorg deeper than the required confirmations took the completed payout off the chain, and the new branch holds its earlier payout ${paidAt.tx_hash} at nonce ${paidAt.nonce}; its nonce is being filled with a cancel.`, cancel_reason: `paid at nonce ${paidAt.nonce} by its earlier payout ${paidAt.tx_hash}` }
        : { ...patch, failure_reason: 'A reorg deeper than the required confirmations took the completed payout off the chain; it is being sent again.' };
      if (!(await move(w, ['COMPLETED', 'BROADCAST'], reopened, 'reopen', event))) return false;
      await dropSettledView(w.id);
      return paidAt ? 'cancel' : 'resend';
    }
    const from = w.status as 'FAILED' | 'CANCELLED';
    const again =
      from === 'FAILED'
        ? {
            ...patch,
            failure_reason: 'A reorg deeper than the required confirmations took the failed payout off the chain; its nonce is being filled with a cancel.',
            cancel_reason: 'its payout had failed on chain, and a reorg beyond the required confirmations took that tx away',
          }
        : {
            ...patch,
            failure_reason: 'A reorg deeper than the required confirmations took the cancel off the chain; it is being sent again, and the withdrawal settles from whichever of its txs is mined.',
            cancel_reason: w.cancel_reason ?? 'its cancel was taken off the chain by a reorg beyond the required confirmations',
          };
    try {
      // Not a batched move: a hold the balance cannot cover must fail this one alone.
      await withTransaction(db, async (trx) => {
        const transitions = openTransitions(trx);
        await transitions.move(w.id, from, 'BROADCAST', again, event);
        await ledger.hold(trx, { userId: w.user_id, asset: w.asset, amount: BigInt(w.amount) + BigInt(w.fee), withdrawalId: w.id });
        await transitions.flush();
      });
    } catch (err) {
      if (err instanceof StaleTransitionError || err instanceof InsufficientBalanceError) return false;
      throw err;
    }
    common.metrics.transitions.inc({ from, to: 'BROADCAST' });
    await dropSettledView(w.id);
    return 'cancel';
  }

  /** A reopened withdrawal's newest tx is in no pool now: sent again at once, the payout or the cancel (a failed one's cancel is yet to be signed). */
  async function sendReopened(w: LaneRow, how: 'resend' | 'cancel'): Promise<void> {
    if (how !== 'resend' && w.status !== 'CANCELLED') return;
    count(w.chain_id, 'rebroadcast_settled');
    const latest = await attempts.latest(w.id);
    if (latest) await rebroadcast(w, latest, 0);
  }

  async function dropSettledView(id: string): Promise<void> {
    await deps.cache.del(settledViewKey(id));
    // Again soon after: a read of the row from before the move may have cached its view meanwhile.
    setTimeout(() => void deps.cache.del(settledViewKey(id)).catch(() => {}), 1_000).unref();
  }

  /** Paid by a payout it had at an earlier nonce: its own nonce gets a cancel, and it settles COMPLETED from that payout (`trackMined` looks at every tx of it). */
  async function cancelPaidElsewhere(w: LaneRow, paidAt: AttemptRow): Promise<void> {
    const reason = `paid at nonce ${paidAt.nonce} by its earlier payout ${paidAt.tx_hash}, mined after a reorg beyond finality`;
    const r = await db.kysely
      .updateTable('withdrawals')
      .set({ cancel_reason: reason, updated_at: Date.now() })
      .where('id', '=', w.id)
      .where('status', 'in', ['SIGNED', 'BROADCAST'])
      .where('nonce', '=', w.nonce)
      .where('cancel_reason', 'is', null)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) return;
    count(w.chain_id, 'finality_violation');
    count(w.chain_id, 'cancel_requested');
    log.error({ alert: 'finality_violation', withdrawalId: w.id, chainId: w.chain_id, wallet: w.wallet, nonce: w.nonce, txHash: paidAt.tx_hash }, "a re-signed withdrawal's earlier payout is mined (reorg beyond finality); its current tx is being cancelled");
    await deps.requests.send({ withdrawalId: w.id, action: 'cancel', reason });
  }

  /** A payout of the withdrawal at another nonce than its own, mined and paying (one signed before a re-sign). */
  async function paidElsewhere(w: LaneRow, chain: ChainRpc, own?: AttemptRow[]): Promise<AttemptRow | undefined> {
    const earlier = (own ?? (await attempts.of(w.id))).filter((a) => PAYOUT_KINDS.includes(a.kind) && Number(a.nonce) !== Number(w.nonce));
    if (earlier.length === 0) return undefined;
    for (const a of earlier) {
      const receipt = await chain.receipt(a.tx_hash as Hash);
      if (receipt && receipt.status === 'success' && (await paysOut(w, receipt))) return a;
    }
    return undefined;
  }

  /** The receipt shows the withdrawal's payment: Transfer(wallet -> recipient, amount) or the native value (invariant 10). */
  async function paysOut(w: LaneRow, receipt: TransactionReceipt): Promise<boolean> {
    const network = await deps.assets.find(w.asset, w.chain_id);
    return !!network && payoutInReceipt(receipt, { network, wallet: w.wallet as Address, to: w.to_address as Address, ledgerAmount: BigInt(w.amount) });
  }

  /** A lane's window (its lowest unsettled nonces, in nonce order), read alone. */
  async function readLane(chainId: number, wallet: string): Promise<LaneRow[]> {
    return lowestNonces(await laneWindow(db.kysely, chainId, wallet).execute());
  }

  /** Every lane's window, by wallet: in one statement, or lane by lane when that one reached its limit. */
  async function readLanes(chainId: number, wallets: string[]): Promise<Map<string, LaneRow[]>> {
    if (wallets.length === 0) return new Map();
    const limit = wallets.length * LANE_WINDOW;
    const { rows } = await lanesWindow(db.dialect, chainId, wallets, limit).execute(db.kysely);
    return splitLanes(rows, wallets, limit) ?? new Map(await Promise.all(wallets.map(async (w) => [w, await readLane(chainId, w)] as const)));
  }

  async function tickLane(chain: ChainRpc, head: bigint, blockHashes: LaneContext['blockHashes'], wallet: Address, nextNonce: number | undefined, rows: LaneRow[]): Promise<TickResult> {
    const mined = await chain.transactionCount(wallet, 'latest');
    const lowest = rows.length > 0 ? Number(rows[0]!.nonce) : nextNonce;
    // Reopened payouts are in flight again: the lane is read anew and tracks them from this pass.
    const reopened = lowest !== undefined && mined < lowest ? await refillSettledGap(chain, wallet, mined, lowest) : 0;
    if (reopened > 0) {
      const again = await tickLane(chain, head, blockHashes, wallet, nextNonce, await readLane(chain.chain.chainId, wallet));
      return { checked: again.checked, transitions: again.transitions + reopened };
    }
    const inFlight = rows.filter((w) => w.status !== 'RECEIVED');
    if (inFlight.length === 0) return { checked: 0, transitions: 0 };
    const pendingIds = inFlight.filter((w) => w.status !== 'CONFIRMING' && Number(w.nonce) >= mined).map((w) => w.id);
    const ctx: LaneContext = { chain, head, wallet, mined, blockHashes, own: await attempts.ofMany(pendingIds) };
    let transitions = 0;
    const track = async (batch: LaneRow[], how: (w: LaneRow, ctx: LaneContext) => Promise<boolean>) => {
      const calls: Array<Promise<boolean>> = [];
      for (const w of batch) calls.push(how(w, ctx));
      const results = await Promise.allSettled(calls);
      for (const [j, r] of results.entries()) {
        if (r.status === 'fulfilled') transitions += r.value ? 1 : 0;
        else retryLog(r.reason)({ withdrawalId: batch[j]!.id, chainId: chain.chain.chainId, wallet, err: r.reason }, 'tracking failed; will retry next tick');
      }
    };
    // The mined ones all at once: their receipts share JSON-RPC batches and their moves commits, so
    // a block's worth of a lane settles in one round instead of one round per ROW_PARALLELISM.
    await track(inFlight.filter((w) => Number(w.nonce) < mined), trackMined);
    const pending = inFlight.filter((w) => Number(w.nonce) >= mined);
    for (let i = 0; i < pending.length; i += ROW_PARALLELISM) await track(pending.slice(i, i + ROW_PARALLELISM), trackPending);
    return { checked: inFlight.length, transitions };
  }

  /** The head each chain's last pass worked at: a newer one starts the next pass early. */
  const headAtPass = new Map<number, bigint>();

  async function tickChain(chain: ChainRpc): Promise<TickResult> {
    const endTimer = common.metrics.trackerPass.startTimer({ chain_id: String(chain.chain.chainId) });
    try {
      return await passChain(chain);
    } finally {
      endTimer();
    }
  }

  async function passChain(chain: ChainRpc): Promise<TickResult> {
    const head = await chain.blockNumber();
    headAtPass.set(chain.chain.chainId, head);
    common.metrics.chainHead.set({ chain_id: String(chain.chain.chainId) }, Number(head));
    // Every hot wallet is a lane, idle or not (an idle one can still lose settled txs to a reorg).
    const [inflight, registered] = await Promise.all([
      inFlightWallets(db.kysely)
        .execute()
        .then((rows) => rows.filter((r) => Number(r.chain_id) === chain.chain.chainId)),
      db.kysely.selectFrom('wallets').select(['address', 'next_nonce']).where('chain_id', '=', chain.chain.chainId).execute(),
    ]);
    const nextNonce = new Map(registered.map((r) => [r.address, Number(r.next_nonce)]));
    const lanes = [...new Set([...registered.map((r) => r.address), ...inflight.map((l) => l.wallet!)])].map((wallet) => ({ wallet }));
    await settledWatch.restore(
      chain,
      head,
      lanes.map((l) => l.wallet),
    ).catch((err) => retryLog(err)({ chainId: chain.chain.chainId, err }, 'restoring the watch of settled withdrawals failed; will retry'));
    const total = { checked: 0, transitions: 0 };
    // Canonical block hashes as read once in this pass, for every lane: a block holds txs of many
    // lanes, and one read per lane was most of a pass's RPC calls.
    const blockHashes: LaneContext['blockHashes'] = new Map();
    const windows = await readLanes(
      chain.chain.chainId,
      lanes.map((l) => l.wallet),
    );
    const results = await Promise.allSettled(lanes.map((l) => tickLane(chain, head, blockHashes, l.wallet as Address, nextNonce.get(l.wallet), windows.get(l.wallet) ?? [])));
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled') {
        total.checked += r.value.checked;
        total.transitions += r.value.transitions;
      } else retryLog(r.reason)({ chainId: chain.chain.chainId, wallet: lanes[i]!.wallet, err: r.reason }, 'lane tick failed; will retry');
    }
    // A reopened payout is tracked by its lane from the next pass on (which starts at once).
    total.transitions += await checkSettledBlocks(chain, head, blockHashes).catch((err) => {
      retryLog(err)({ chainId: chain.chain.chainId, err }, 'checking settled blocks failed; will retry');
      return 0;
    });
    return total;
  }

  /** Endpoint health as metrics, and one alert (at most every 30 s) while no endpoint of a chain answers. */
  function observeEndpoints(chain: ChainRpc, failed: unknown): void {
    const chainId = String(chain.chain.chainId);
    const statuses = chain.endpoints();
    for (const e of statuses) {
      common.metrics.rpcEndpointUp.set({ chain_id: chainId, endpoint: e.url, state: e.state }, e.state === 'up' ? 1 : 0);
      for (const other of ['up', 'lagging', 'open', 'half-open'] as const) {
        if (other !== e.state) common.metrics.rpcEndpointUp.remove({ chain_id: chainId, endpoint: e.url, state: other });
      }
      if (e.latencyMs !== null) common.metrics.rpcEndpointLatency.set({ chain_id: chainId, endpoint: e.url }, e.latencyMs / 1000);
      common.metrics.rpcEndpointErrorRate.set({ chain_id: chainId, endpoint: e.url }, e.errorRate);
      if (e.lagBlocks !== null) common.metrics.rpcEndpointHeadLag.set({ chain_id: chainId, endpoint: e.url }, e.lagBlocks);
    }
    if (failed && statuses.every((e) => e.state === 'open' || e.state === 'half-open') && !askedRecently(`alert:rpc_down:${chainId}`, 30_000)) {
      log.error({ alert: 'rpc_all_endpoints_down', chainId: chain.chain.chainId, endpoints: statuses.map((e) => e.url), err: failed }, 'no RPC endpoint of this chain answers; withdrawals wait');
    }
  }

  async function untilNewHead(intervalMs: number, pollMs: number, signal: AbortSignal): Promise<void> {
    const until = Date.now() + intervalMs;
    const deadline = sleep(intervalMs, signal).then(() => true);
    while (Date.now() < until && !signal.aborted) {
      if (await Promise.race([sleep(pollMs, signal).then(() => false), deadline])) return;
      // Chains asked side by side, never waited on past the interval: a hanging endpoint delays nothing.
      if (await Promise.race([anyHeadAdvanced(), deadline])) return;
    }
  }

  /** Whether some chain's head is past the one its last pass worked at (an unreachable chain: no; its pass reports it). */
  function anyHeadAdvanced(): Promise<boolean> {
    const chains = [...deps.chains.values()];
    return new Promise((resolve) => {
      let left = chains.length;
      if (left === 0) resolve(false);
      for (const chain of chains) {
        chain
          .blockNumber()
          .then((head) => {
            const seen = headAtPass.get(chain.chain.chainId);
            if (seen === undefined || head > seen) resolve(true);
          })
          .catch(() => {})
          .finally(() => {
            if (--left === 0) resolve(false);
          });
      }
    });
  }

  async function tick(): Promise<TickResult> {
    const total = { checked: 0, transitions: 0 };
    for (const chain of deps.chains.values()) {
      let failed: unknown;
      try {
        const r = await tickChain(chain);
        total.checked += r.checked;
        total.transitions += r.transitions;
      } catch (err) {
        failed = err;
        log.warn({ chainId: chain.chain.chainId, err }, 'tracker tick failed for chain');
      }
      observeEndpoints(chain, failed);
    }
    return total;
  }

  return {
    tick,
    /**
     * Loop until shutdown. A tick that moved something goes again at once; otherwise the next
     * waits for a new block on any chain (a receipt can only appear with one), at most the interval.
     */
    async run(): Promise<void> {
      const { signal } = common;
      preloadWriteTasks(db, applyMoves, recordConfirmations);
      while (!signal.aborted) {
        const r = await tick();
        if (r.transitions > 0) continue;
        await untilNewHead(common.config.trackerIntervalMs, common.config.trackerHeadPollMs, signal);
      }
    },
  };
}

/** What the tracker logs when a settled withdrawal whose tx left the chain is in flight again, by how. */
const REOPENED: Record<'resend' | 'COMPLETED' | 'FAILED' | 'CANCELLED', string> = {
  resend: 'a completed payout left the chain (reorg beyond the required confirmations); back to BROADCAST, its payout a hold again, its bytes sent again',
  COMPLETED: 'a completed payout left the chain (reorg beyond the required confirmations) but its earlier payout is mined; back to BROADCAST, its nonce to be filled with a cancel',
  FAILED: "a failed payout's tx left the chain (reorg beyond the required confirmations); back to BROADCAST with its hold taken again, its nonce to be filled with a cancel",
  CANCELLED: 'a settled cancel left the chain (reorg beyond the required confirmations); back to BROADCAST with its hold taken again, its cancel sent again',
};

/** failureCode of a COMPLETED withdrawal reopened because a reorg beyond finality took its payout away; cleared once a payout of it is mined again. */
export const SETTLED_TX_REORGED = 'settled_tx_reorged';

/** failureCodes that say why an in-flight withdrawal waits; a mined tx of it ends every one of them. */
const WAITS_OVER_WHEN_MINED = ['fee_cap_reached', 'hot_wallet_insufficient_funds', SETTLED_TX_REORGED];
