import { type Address, getAddress, type Hex, type TransactionSerializableEIP1559 } from 'viem';
import type { AssetNetwork, AssetRegistry } from '../assets/registry.js';
import type { Cache } from '../cache/types.js';
import { InsufficientFundsError } from '../chain/errors.js';
import type { ChainRpc } from '../chain/rpc.js';
import { type Common, crashIfAsked } from '../common.js';
import { timeDbBatch } from '../db/batch-timing.js';
import type { Db } from '../db/connect.js';
import { lockForUpdate, type Tx, withTransaction } from '../db/transaction.js';
import type { DeadLetters } from '../dlq/dead-letters.js';
import { errorCode, isRetryable, RetryableError, SluiceError } from '../errors/base.js';
import { keccak256Hex, keccakBackend } from '../keys/keccak.js';
import { secp256k1Backend } from '../keys/secp256k1.js';
import type { KeyStore } from '../keys/types.js';
import { InsufficientBalanceError } from '../ledger/errors.js';
import type { Ledger } from '../ledger/ledger.js';
import { formatUnits, rescale } from '../money/decimal.js';
import { runConsumer } from '../queue/consumer.js';
import type { Queue, QueueMessage, RequestMessage, SignedMessage } from '../queue/types.js';
import { type AttemptRow, createAttempts, FILL_KIND } from '../withdrawals/attempts.js';
import { StaleTransitionError } from '../withdrawals/errors.js';
import type { WithdrawalRepository, WithdrawalRow } from '../withdrawals/repository.js';
import { checkAddress, checkAmount, isProblem, type WithdrawalProblem } from '../withdrawals/validate.js';
import { type Pauses, waitIfPaused } from '../settings/pause.js';
import type { Wallets } from '../wallets/wallets.js';
import { buildTransfer, type CancelIntent, type TransferIntent, type VerifiedTx, verifiedCancel, verifiedTransfer, verifySigner } from './build-tx.js';
import { createFeeOracle, type FeeOracle, type FeePair, replacementFees } from './fees.js';
import { recipientGas } from './recipient-gas.js';
import { reserveLanes } from './reserve-lanes.js';
import { attemptRow, type StoreRequest, storeSignatures } from './store-signatures.js';
import { preloadWriteTasks, runWriteTask } from '../db/write-task.js';
import { createNonceReservations, type NonceReservations, type Reservation, type ReserveRequest } from './nonce-reservations.js';
import { HotWalletShortError } from './wallet-funds.js';
import { HotWalletKeysUnusableError } from './lane-keys.js';
import { warmKeys } from './warm-keys.js';
import { batchConcurrency, createMicroBatcher } from '../util/micro-batch.js';
import { sleep } from '../util/sleep.js';

export type SignerDeps = {
  common: Common;
  db: Db;
  ledger: Ledger;
  withdrawals: WithdrawalRepository;
  assets: AssetRegistry;
  wallets: Wallets;
  keys: KeyStore;
  chains: Map<number, ChainRpc>;
  requests: Queue<RequestMessage>;
  signed: Queue<SignedMessage>;
  deadLetters: DeadLetters;
  cache: Cache;
  /** The operators' kill switch; without it nothing is ever paused. */
  pauses?: Pauses;
  /** Tests only: replaces how the transfer is built, to prove nothing unverified gets signed. */
  buildTransfer?: (intent: TransferIntent) => TransactionSerializableEIP1559;
};

export type SignOutcome = 'signed' | 'rejected' | 'skipped' | 'at-fee-cap';

/** Every hot wallet of the chain has its limit of txs in flight: the withdrawal waits for blocks. */
export class HotWalletsBusyError extends RetryableError {
  override name = 'HotWalletsBusyError';
}

/** How long a request waits in the signer for a free lane before it becomes a visible, retried wait. */
const LANE_WAIT_MS = 10_000;
const LANE_RETRY_MS = 100;

/** The configuration a signing needs is gone (chain, asset network or wallet removed): an operator must act. */
export class SignerSetupError extends SluiceError {
  override name = 'SignerSetupError';
}

/**
 * Validation & Signing TX — the only holder of keys. For a RECEIVED withdrawal: re-check it, sign
 * it at the nonce its lane is expected to give it, outside any lock (a KMS call must not hold the
 * lane's lock), then in one short transaction hold amount + fee, take the wallet's next nonce and
 * store the signed bytes if they are for that nonce (nonce-reservations.ts). Otherwise that
 * transaction only reserves the nonce, and the payout is signed after commit and stored with a
 * compare-and-set on that reservation (invariant 1: one nonce per withdrawal; a reserved nonce is
 * either signed with the payout or filled with a cancel). For a withdrawal that owns a nonce,
 * on request of the tracker or an operator: replace its newest tx at the same nonce with higher
 * fees (a bump, or a cancel when the nonce is to be filled), or move it to a fresh nonce once a
 * foreign tx provably took its old one. Only after commit is the signed tx queued for the senders.
 */
export function createSigner(deps: SignerDeps) {
  const { common, db, ledger, withdrawals, assets, wallets, keys } = deps;
  const log = common.logger.child({ component: 'signer' });
  const attempts = createAttempts(db);
  const build = deps.buildTransfer ?? buildTransfer;
  const feeOracles = new Map<number, FeeOracle>();
  const reservations = new Map<number, NonceReservations>();

  const signatures = createMicroBatcher<StoreRequest, boolean>({
    maxSize: 256,
    concurrency: batchConcurrency(db),
    run: (items) => timeDbBatch(common.metrics, 'store', items.length, () => runWriteTask(db, storeSignatures, items)),
  });

  function feesFor(chain: ChainRpc): FeeOracle {
    let oracle = feeOracles.get(chain.chain.chainId);
    if (!oracle) feeOracles.set(chain.chain.chainId, (oracle = createFeeOracle(chain, { cache: deps.cache })));
    return oracle;
  }

  async function reject(w: WithdrawalRow, problem: WithdrawalProblem, attemptsSoFar: number): Promise<SignOutcome> {
    const letter = { queue: 'invalid' as const, withdrawalId: w.id, code: problem.code, reason: problem.message, attempts: attemptsSoFar };
    const moved = await withTransaction(db, async (trx) => {
      await withdrawals.transition(trx, w.id, 'RECEIVED', 'REJECTED', { failure_code: problem.code, failure_reason: problem.message }, { code: problem.code, detail: problem.message });
      await deps.deadLetters.record(trx, letter);
      return true;
    }).catch((err) => {
      if (err instanceof StaleTransitionError) return false; // another delivery got there first
      throw err;
    });
    if (!moved) return 'skipped';
    common.metrics.transitions.inc({ from: 'RECEIVED', to: 'REJECTED' });
    log.info({ withdrawalId: w.id, code: problem.code }, 'withdrawal rejected');
    await deps.deadLetters.announce(letter);
    return 'rejected';
  }

  async function enqueueSigned(w: { id: string; chain_id: number; wallet: string | null }, txHash: string) {
    await deps.signed.send({ withdrawalId: w.id, txHash }, { groupId: `${w.chain_id}:${w.wallet}`, dedupId: txHash });
  }

  /** Signs the verified bytes and checks that the signature really is the wallet's (invariant 9). */
  async function signAs(keyRef: string, wallet: string, { tx, unsigned }: VerifiedTx): Promise<{ raw: Hex; txHash: Hex }> {
    const signer = await keys.signer(keyRef);
    const raw = await signer.signTransaction(tx, unsigned);
    await verifySigner(raw, wallet);
    return { raw, txHash: keccak256Hex(raw) };
  }

  /** A visible wait, not a failure: the row says why, an alert fires, the message is retried. */
  async function markWaiting(w: WithdrawalRow, err: HotWalletShortError | HotWalletsBusyError | HotWalletKeysUnusableError): Promise<never> {
    await db.kysely
      .updateTable('withdrawals')
      .set({ failure_code: err.code, failure_reason: err.shortMessage })
      .where('id', '=', w.id)
      .where('status', '=', w.status)
      .execute();
    if (err instanceof HotWalletsBusyError) {
      common.metrics.hotWalletsBusy.inc({ chain_id: String(w.chain_id) });
      log.warn({ alert: 'hot_wallets_busy', withdrawalId: w.id, chainId: w.chain_id, err: err.shortMessage }, 'every hot wallet is at its in-flight limit; waiting for blocks');
    } else if (err instanceof HotWalletKeysUnusableError) {
      // Counted and alerted per wallet where the lanes are left out (lane-keys.ts).
      log.warn({ withdrawalId: w.id, chainId: w.chain_id, err: err.shortMessage }, 'no hot wallet of the chain has a usable key; waiting for an operator');
    } else {
      common.metrics.hotWalletShort.inc({ chain_id: String(w.chain_id) });
      log.error({ alert: 'hot_wallet_insufficient_funds', withdrawalId: w.id, chainId: w.chain_id, wallet: w.wallet, err: err.shortMessage }, 'hot wallet cannot cover withdrawal; waiting for a refill');
    }
    throw err;
  }

  function reservationsFor(chain: ChainRpc): NonceReservations {
    let r = reservations.get(chain.chain.chainId);
    if (!r) {
      r = createNonceReservations({
        common,
        db,
        assets,
        wallets,
        chain,
        fees: feesFor(chain),
        build,
        sign: (lane, verified) => signAs(lane.key_ref, lane.address, verified),
        keyAddress: async (lane) => (await keys.signer(lane.key_ref)).address,
      });
      reservations.set(chain.chain.chainId, r);
    }
    return r;
  }

  async function signNew(w: WithdrawalRow, receives: number): Promise<SignOutcome> {
    if (w.nonce !== null) return signReserved(w);
    // Kill switch (src/settings/pause.ts): a paused withdrawal waits RECEIVED, it is not rejected.
    if (deps.pauses && (await waitIfPaused({ db, pauses: deps.pauses, logger: log }, w))) return 'skipped';
    const network = await assets.find(w.asset, w.chain_id);
    if (!network || !network.enabled) {
      return reject(w, { code: 'network_disabled', message: `${w.asset} withdrawals on chain ${w.chain_id} are not enabled.` }, receives);
    }
    const addressProblem = checkAddress(w.to_address);
    if (addressProblem) return reject(w, addressProblem, receives);
    const checked = checkAmount(formatUnits(BigInt(w.amount), network.ledgerDecimals), network);
    if (isProblem(checked)) return reject(w, checked, receives);

    const chain = deps.chains.get(w.chain_id);
    const pool = await wallets.forChain(w.chain_id);
    if (!chain || pool.length === 0) {
      return reject(w, { code: 'no_hot_wallet', message: `No RPC endpoint or hot wallet configured for chain ${w.chain_id}.` }, receives);
    }
    let chainAmount: bigint;
    try {
      chainAmount = rescale(BigInt(w.amount), network.ledgerDecimals, network.decimals);
    } catch {
      return reject(w, { code: 'too_many_decimals', message: 'amount cannot be expressed in the token decimals.' }, receives);
    }
    const to = getAddress(w.to_address);

    let gasLimit: bigint | undefined;
    if (network.kind === 'native') {
      // The estimate's sender only matters to a recipient that looks at msg.sender; any pool wallet will do.
      const gas = await recipientGas(chain, { wallet: getAddress(pool[0]!.address), to, value: chainAmount, defaultGas: BigInt(network.gasLimit) });
      if ('problem' in gas) return reject(w, gas.problem, receives);
      gasLimit = gas.gasLimit;
    }

    // Batched per wallet lane: hold the funds and take a nonce of the pool wallet with the fewest
    // txs in flight, storing the payout signed ahead at that nonce, or else only reserving it. No
    // signature (tens of ms on KMS) is made under a lane's lock (invariant 1 holds either way:
    // from here on, every tx signed for this withdrawal uses this nonce, or a cancel fills it).
    const row = { id: w.id, chain_id: w.chain_id, user_id: w.user_id, asset: w.asset, amount: w.amount, fee: w.fee };
    const request = { w: row, network, to, chainAmount, ...(gasLimit !== undefined ? { gasLimit } : {}) };
    const reservation = await reserveWaitingForLane(chain, request);
    switch (reservation.kind) {
      case 'skipped':
        return 'skipped'; // another delivery reserved it and signs it
      case 'insufficient_balance':
        return reject(w, { code: 'insufficient_balance', message: `Available ${w.asset} balance does not cover amount + fee.` }, receives);
      case 'short':
      case 'keys':
        return markWaiting(w, reservation.error);
      case 'busy':
        return markWaiting(w, new HotWalletsBusyError(`Every hot wallet of chain ${w.chain_id} has ${chain.chain.maxPendingPerWallet} transactions in flight.`, { code: 'hot_wallets_busy' }));
    }
    const walletAddress = getAddress(reservation.wallet.address);
    if (reservation.kind === 'stored') return announceStored(w, walletAddress, reservation.nonce, reservation.txHash, 'transfer');
    crashIfAsked(common, 'after-reserve');
    log.debug({ withdrawalId: w.id, chainId: w.chain_id, wallet: walletAddress, nonce: reservation.nonce }, 'nonce reserved');
    return signAndStore({ ...w, wallet: walletAddress, nonce: reservation.nonce }, reservation.wallet.key_ref, reservation.intent, 'transfer', reservation.verified);
  }

  /**
   * A full pool is back-pressure, not a failure: the request keeps its place (its queue message
   * stays hidden) and tries again as blocks free the lanes. Only a pool full for long becomes a
   * visible wait with an alert (markWaiting), retried by the queue.
   */
  async function reserveWaitingForLane(chain: ChainRpc, request: ReserveRequest): Promise<Reservation> {
    const giveUpAt = Date.now() + LANE_WAIT_MS;
    for (;;) {
      const reservation = await reservationsFor(chain).reserve(request);
      if (reservation.kind !== 'busy' || Date.now() >= giveUpAt || common.signal.aborted) return reservation;
      await sleep(LANE_RETRY_MS, common.signal).catch(() => {});
    }
  }

  /**
   * A withdrawal whose nonce was reserved but whose signature never got stored (a crash, a key
   * store outage): sign the payout at that same nonce now, or fill the nonce with a cancel when
   * the payout can no longer be made (to be cancelled, or the recipient now refuses the gas).
   */
  async function signReserved(w: WithdrawalRow): Promise<SignOutcome> {
    if (w.status !== 'RECEIVED' || w.nonce === null || !w.wallet || w.tx_hash !== null) return 'skipped';
    const chain = deps.chains.get(w.chain_id);
    const network = await assets.find(w.asset, w.chain_id);
    const walletAddress = getAddress(w.wallet);
    const keyRef = (await wallets.get(w.chain_id, walletAddress))?.key_ref;
    if (!chain || !network || !keyRef) {
      throw new SignerSetupError(`Withdrawal ${w.id} holds nonce ${w.nonce} of ${walletAddress} on chain ${w.chain_id}, but that chain, asset network or wallet is no longer configured.`, { code: 'reserved_lane_unconfigured' });
    }
    const fees = await feesFor(chain).current();
    if (w.cancel_reason !== null) return signReservedCancel(w, keyRef, fees);
    const to = getAddress(w.to_address);
    const chainAmount = rescale(BigInt(w.amount), network.ledgerDecimals, network.decimals);
    let gasLimit: bigint | undefined;
    if (network.kind === 'native') {
      const gas = await recipientGas(chain, { wallet: walletAddress, to, value: chainAmount, defaultGas: BigInt(network.gasLimit) });
      if ('problem' in gas) {
        const reason = `${gas.problem.code}: ${gas.problem.message}`.slice(0, 1000);
        await db.kysely.updateTable('withdrawals').set({ cancel_reason: reason, updated_at: Date.now() }).where('id', '=', w.id).where('status', '=', 'RECEIVED').where('nonce', '=', w.nonce).execute();
        log.warn({ withdrawalId: w.id, chainId: w.chain_id, wallet: walletAddress, nonce: w.nonce, code: gas.problem.code }, 'payout at a reserved nonce can no longer be made; filling the nonce with a cancel');
        return signReservedCancel({ ...w, cancel_reason: reason }, keyRef, fees);
      }
      gasLimit = gas.gasLimit;
    }
    const intent: TransferIntent = { chainId: w.chain_id, network, to, chainAmount, nonce: Number(w.nonce), ...fees, ...(gasLimit !== undefined ? { gasLimit } : {}) };
    return signAndStore(w, keyRef, intent, 'transfer');
  }

  function signReservedCancel(w: WithdrawalRow, keyRef: string, fees: FeePair): Promise<SignOutcome> {
    return signAndStore(w, keyRef, { chainId: w.chain_id, wallet: getAddress(w.wallet!), nonce: Number(w.nonce), ...fees }, 'cancel');
  }

  /**
   * Phase 2: build, verify and sign outside any transaction, then store the signature only if the
   * withdrawal still holds exactly this reservation and has no signed tx yet (compare-and-set). A
   * concurrent delivery that lost the race drops its signature unsent: both were for the same
   * nonce, and only stored bytes are ever broadcast.
   */
  async function signAndStore(
    w: WithdrawalRow,
    keyRef: string,
    intent: TransferIntent | CancelIntent,
    kind: 'transfer' | 'cancel',
    /** Already built from `intent` and verified against it (the reservation did): not done twice. */
    verified?: VerifiedTx,
  ): Promise<SignOutcome> {
    const wallet = getAddress(w.wallet!);
    const nonce = Number(w.nonce);
    const checked = verified ?? (kind === 'cancel' ? verifiedCancel(intent as CancelIntent) : verifiedTransfer(intent as TransferIntent, build));
    const { tx } = checked;
    const { raw, txHash } = await signAs(keyRef, wallet, checked);
    const fees = { maxFeePerGas: tx.maxFeePerGas!, maxPriorityFeePerGas: tx.maxPriorityFeePerGas! };
    const stored = await signatures.submit({ id: w.id, wallet, nonce, txHash, raw, kind, fees, gas: tx.gas! });
    if (!stored) {
      log.debug({ withdrawalId: w.id, wallet, nonce, txHash }, 'signature not stored: the withdrawal moved on meanwhile; dropped unsent');
      return 'skipped';
    }
    return announceStored(w, wallet, nonce, txHash, kind);
  }

  /** A signature is committed (SIGNED): count it and hand it to the senders. */
  async function announceStored(w: WithdrawalRow, wallet: Address, nonce: number, txHash: Hex, kind: 'transfer' | 'cancel'): Promise<SignOutcome> {
    common.metrics.signed.inc({ chain_id: String(w.chain_id) });
    common.metrics.transitions.inc({ from: 'RECEIVED', to: 'SIGNED' });
    log.info({ withdrawalId: w.id, chainId: w.chain_id, wallet, nonce, txHash, kind }, kind === 'cancel' ? 'cancel signed at the reserved nonce' : 'withdrawal signed');
    crashIfAsked(common, 'after-sign');
    await enqueueSigned({ id: w.id, chain_id: w.chain_id, wallet }, txHash);
    return 'signed';
  }

  async function lockNextNonce(trx: Tx, chainId: number, wallet: Address): Promise<number> {
    const row = await lockForUpdate(
      db,
      trx.selectFrom('wallets').select('next_nonce').where('chain_id', '=', chainId).where('address', '=', wallet),
    ).executeTakeFirstOrThrow();
    return Number(row.next_nonce);
  }

  async function takeNonce(trx: Tx, chainId: number, wallet: Address, nonce: number): Promise<void> {
    await trx.updateTable('wallets').set({ next_nonce: nonce + 1 }).where('chain_id', '=', chainId).where('address', '=', wallet).execute();
  }

  /** The transfer this withdrawal pays, rebuilt from the row (the truth), at `nonce` with `fees`. */
  function transferIntent(w: WithdrawalRow, network: AssetNetwork, nonce: number, fees: FeePair, gasLimit: bigint): TransferIntent {
    return {
      chainId: w.chain_id,
      network,
      to: getAddress(w.to_address),
      chainAmount: rescale(BigInt(w.amount), network.ledgerDecimals, network.decimals),
      nonce,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      gasLimit,
    };
  }

  /**
   * Replaces the newest tx of a withdrawal at the same nonce: a fee bump of what it intends (the
   * payout, or the cancel once `cancel_reason` is set). `replaces` names the attempt the caller
   * saw; if a newer one exists, someone already replaced it and this request is stale.
   */
  async function replace(w: WithdrawalRow, replaces: string | undefined): Promise<SignOutcome> {
    if (w.status !== 'SIGNED' && w.status !== 'BROADCAST') return 'skipped';
    const chain = deps.chains.get(w.chain_id);
    const network = await assets.find(w.asset, w.chain_id);
    if (!chain || !network || !w.wallet || w.nonce === null) return 'skipped';
    const wallet = getAddress(w.wallet);
    const keyRef = (await wallets.get(w.chain_id, wallet))?.key_ref;
    if (!keyRef) return 'skipped';
    const networkFees = await feesFor(chain).current();

    const result = await withTransaction(db, async (trx) => {
      const current = await lockForUpdate(db, trx.selectFrom('withdrawals').selectAll().where('id', '=', w.id)).executeTakeFirst();
      if (!current || (current.status !== 'SIGNED' && current.status !== 'BROADCAST') || current.nonce === null) return 'skipped' as const;
      const latest = await attempts.latest(w.id, trx);
      if (!latest) return 'skipped' as const;
      const cancelling = current.cancel_reason !== null;
      const wantKind = cancelling ? 'cancel' : latest.kind === 'cancel' ? 'transfer' : 'bump';
      // Stale request: the attempt it wanted replaced is already replaced, and by the right kind.
      if (replaces && latest.tx_hash !== replaces && (latest.kind === 'cancel') === cancelling) return 'skipped' as const;
      const previous = { maxFeePerGas: BigInt(latest.max_fee_per_gas), maxPriorityFeePerGas: BigInt(latest.max_priority_fee_per_gas) };
      const fees = replacementFees(previous, networkFees, chain.chain.maxFeePerGas, chain.chain.policy.bumpPercent);
      if (!fees) return 'at-fee-cap' as const;
      const nonce = Number(current.nonce);
      const verified =
        wantKind === 'cancel'
          ? verifiedCancel({ chainId: w.chain_id, wallet, nonce, ...fees })
          : verifiedTransfer(transferIntent(current, network, nonce, fees, BigInt(latest.kind === 'cancel' ? network.gasLimit : latest.gas_limit)), build);
      const { raw, txHash } = await signAs(keyRef, wallet, verified);
      await attempts.insert(trx, attemptRow(current, wallet, nonce, txHash, raw, wantKind === 'cancel' ? 'cancel' : wantKind, fees, verified.tx.gas!));
      await trx.updateTable('withdrawals').set({ tx_hash: txHash, updated_at: Date.now() }).where('id', '=', w.id).where('status', '=', current.status).execute();
      return { txHash, nonce, kind: wantKind, fees };
    });

    const fields = { withdrawalId: w.id, chainId: w.chain_id, wallet, nonce: w.nonce };
    if (result === 'skipped') return 'skipped';
    if (result === 'at-fee-cap') {
      await db.kysely.updateTable('withdrawals').set({ failure_code: 'fee_cap_reached', failure_reason: 'A replacement would exceed the fee cap; rebroadcasting until the base fee drops.' }).where('id', '=', w.id).where('status', 'in', ['SIGNED', 'BROADCAST']).execute();
      common.metrics.feeCapReached.inc({ chain_id: String(w.chain_id) });
      log.error({ ...fields, alert: 'fee_cap_reached' }, 'cannot bump: fee cap reached; keeps rebroadcasting');
      return 'at-fee-cap';
    }
    common.metrics.replacements.inc({ chain_id: String(w.chain_id), kind: result.kind });
    log.warn({ ...fields, txHash: result.txHash, kind: result.kind, maxFeePerGas: result.fees.maxFeePerGas.toString() }, result.kind === 'cancel' ? 'signed a cancel at the withdrawal nonce' : 'signed a fee bump');
    await enqueueSigned({ id: w.id, chain_id: w.chain_id, wallet }, result.txHash);
    return 'signed';
  }

  /**
   * Invariant 1's one exception: a foreign tx used this withdrawal's nonce and is final, so none
   * of its own txs can ever be mined. The tracker asks; the signer checks the chain itself before
   * it signs the payout again at a fresh nonce (a stale or mistaken request must not pay twice).
   */
  async function resign(w: WithdrawalRow, takenNonce: number | undefined): Promise<SignOutcome> {
    if ((w.status !== 'SIGNED' && w.status !== 'BROADCAST') || w.nonce === null || w.cancel_reason !== null) return 'skipped';
    const chain = deps.chains.get(w.chain_id);
    const network = await assets.find(w.asset, w.chain_id);
    if (!chain || !network || !w.wallet) return 'skipped';
    const wallet = getAddress(w.wallet);
    const keyRef = (await wallets.get(w.chain_id, wallet))?.key_ref;
    if (!keyRef) return 'skipped';

    const head = await chain.blockNumber();
    const finalBlock = head - BigInt(chain.chain.confirmations) + 1n;
    const usedAtFinal = finalBlock < 0n ? 0 : await chain.transactionCount(wallet, finalBlock);
    if (Number(w.nonce) >= usedAtFinal) return 'skipped'; // not provably used (yet)
    const ours = await attempts.of(w.id);
    const receipts = await Promise.all(ours.map((a) => chain.receipt(a.tx_hash as Hex)));
    if (receipts.some((r) => r !== null)) return 'skipped'; // one of ours mined: the tracker settles it
    const fees = await feesFor(chain).current();

    const result = await withTransaction(db, async (trx) => {
      const current = await lockForUpdate(db, trx.selectFrom('withdrawals').selectAll().where('id', '=', w.id)).executeTakeFirst();
      if (!current || (current.status !== 'SIGNED' && current.status !== 'BROADCAST') || current.cancel_reason !== null) return null;
      // Checked on chain above for this nonce only; if it moved meanwhile, this request is stale.
      if (Number(current.nonce) !== Number(w.nonce) || (takenNonce !== undefined && takenNonce !== Number(w.nonce))) return null;
      const latest = await attempts.latest(w.id, trx);
      const nonce = await lockNextNonce(trx, w.chain_id, wallet);
      const gas = BigInt(latest && latest.kind !== 'cancel' ? latest.gas_limit : network.gasLimit);
      const verified = verifiedTransfer(transferIntent(current, network, nonce, fees, gas), build);
      const { raw, txHash } = await signAs(keyRef, wallet, verified);
      await takeNonce(trx, w.chain_id, wallet, nonce);
      await attempts.insert(trx, attemptRow(current, wallet, nonce, txHash, raw, 'transfer', fees, verified.tx.gas!));
      await withdrawals.transition(trx, w.id, current.status, 'SIGNED', { nonce, tx_hash: txHash, block_number: null, block_hash: null, confirmations: 0 }, {
        code: 'nonce_taken',
        detail: `nonce ${current.nonce} was used by a transaction Sluice did not sign; re-signed at nonce ${nonce}`,
      });
      return { txHash, nonce, from: current.status };
    });
    if (!result) return 'skipped';
    common.metrics.transitions.inc({ from: result.from, to: 'SIGNED' });
    common.metrics.replacements.inc({ chain_id: String(w.chain_id), kind: 'resign' });
    log.warn({ withdrawalId: w.id, chainId: w.chain_id, wallet, nonce: result.nonce, oldNonce: w.nonce, txHash: result.txHash }, 'nonce taken by a foreign tx; re-signed at a fresh nonce');
    await enqueueSigned({ id: w.id, chain_id: w.chain_id, wallet }, result.txHash);
    return 'signed';
  }

  /**
   * A reorg beyond finality emptied a nonce this withdrawal held before it was re-signed at a fresh
   * one (a foreign tx had used it and that tx is gone now): nothing of Sluice's owns the nonce and
   * every later tx of the lane waits behind it. Fills it with a 0-value self-send priced above
   * every tx ever signed there, so that one outbids the withdrawal's old payout wherever both are
   * seen: that payout must not be mined as well as the withdrawal's current one. Checks the chain
   * and the lane itself: a stale request signs nothing.
   */
  async function fill(w: WithdrawalRow, nonce: number | undefined): Promise<SignOutcome> {
    const chain = deps.chains.get(w.chain_id);
    if (nonce === undefined || !chain || !w.wallet || Number(w.nonce) === nonce) return 'skipped';
    const wallet = getAddress(w.wallet);
    const keyRef = (await wallets.get(w.chain_id, wallet))?.key_ref;
    if (!keyRef) return 'skipped';
    if ((await chain.transactionCount(wallet, 'latest')) > nonce) return 'skipped'; // used again meanwhile
    const holder = await db.kysely.selectFrom('withdrawals').select('id').where('chain_id', '=', w.chain_id).where('wallet', '=', wallet).where('nonce', '=', nonce).executeTakeFirst();
    if (holder) return 'skipped'; // a withdrawal holds it: the tracker follows that one
    const there = await attempts.atNonces(w.chain_id, wallet, [nonce]);
    if (!there.some((a) => a.withdrawal_id === w.id)) return 'skipped';
    const highest = there.reduce(
      (top, a) => ({
        maxFeePerGas: BigInt(a.max_fee_per_gas) > top.maxFeePerGas ? BigInt(a.max_fee_per_gas) : top.maxFeePerGas,
        maxPriorityFeePerGas: BigInt(a.max_priority_fee_per_gas) > top.maxPriorityFeePerGas ? BigInt(a.max_priority_fee_per_gas) : top.maxPriorityFeePerGas,
      }),
      { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n },
    );
    const fees = replacementFees(highest, await feesFor(chain).current(), chain.chain.maxFeePerGas, chain.chain.policy.bumpPercent);
    const fields = { withdrawalId: w.id, chainId: w.chain_id, wallet, nonce };
    if (!fees) {
      log.error({ ...fields, alert: 'fee_cap_reached' }, 'cannot fill an emptied nonce: a tx above the ones signed there would exceed the fee cap');
      return 'at-fee-cap';
    }
    const verified = verifiedCancel({ chainId: w.chain_id, wallet, nonce, ...fees });
    const { raw, txHash } = await signAs(keyRef, wallet, verified);
    await withTransaction(db, (trx) => attempts.insert(trx, attemptRow(w, wallet, nonce, txHash, raw, FILL_KIND, fees, verified.tx.gas!)));
    common.metrics.replacements.inc({ chain_id: String(w.chain_id), kind: FILL_KIND });
    log.warn({ ...fields, txHash, maxFeePerGas: fees.maxFeePerGas.toString() }, 'signed a fill for a nonce a reorg emptied after the withdrawal was re-signed elsewhere');
    // Sent here and again by the tracker while the nonce stays empty (not a tx of the withdrawal's own, so not through the senders).
    await chain.broadcast(raw).catch((err) => log.warn({ ...fields, txHash, err }, 'broadcast of a fill failed; the tracker sends it again'));
    return 'signed';
  }

  /**
   * Signs the cancel that fills the withdrawal's nonce. Whoever asks sets `cancel_reason` first (in
   * the same transaction as its decision), so a request that finds it cleared is stale — an
   * operator retried since — and must not undo that.
   */
  async function cancel(w: WithdrawalRow): Promise<SignOutcome> {
    if (w.cancel_reason === null) return 'skipped';
    if (w.status === 'RECEIVED' && w.nonce !== null) return signReserved(w);
    if (w.status !== 'SIGNED' && w.status !== 'BROADCAST') return 'skipped';
    return replace(w, undefined);
  }

  async function handle(message: RequestMessage, receives = 1): Promise<SignOutcome> {
    const w = await withdrawals.read(message.withdrawalId);
    if (!w) {
      log.error({ withdrawalId: message.withdrawalId }, 'request for unknown withdrawal dropped');
      return 'skipped';
    }
    switch (message.action ?? 'sign') {
      case 'sign':
        if (w.status === 'SIGNED' && w.tx_hash) {
          // Crashed between commit and enqueue last time; the sender tolerates repeats.
          await enqueueSigned(w, w.tx_hash);
          return 'skipped';
        }
        if (w.status !== 'RECEIVED') return 'skipped';
        return signNew(w, receives);
      case 'bump':
        return replace(w, message.replaces);
      case 'cancel':
        return cancel(w);
      case 'resign':
        return resign(w, message.nonce);
      case 'fill':
        return fill(w, message.nonce);
    }
  }

  return {
    handle,
    /** Signs a RECEIVED withdrawal (what a plain request message asks). */
    signWithdrawal: (id: string, receives = 1) => handle({ withdrawalId: id }, receives),

    run(): Promise<void> {
      preloadWriteTasks(db, reserveLanes, storeSignatures);
      // A signer on viem's JS secp256k1 signs ~10 times slower; one without the libsecp256k1 binding ~25% slower.
      const backends = { secp256k1: secp256k1Backend, keccak: keccakBackend };
      if (secp256k1Backend === 'js') log.warn(backends, 'no native secp256k1 loaded: signing with viem\'s JavaScript, about ten times slower');
      else log.info(backends, 'signing backends');
      // Every hot wallet's key unlocked now rather than under the first requests (warm-keys.ts).
      // Alongside the consumer, not before it: a request waits only for its own wallet's unlock,
      // and a key store that is slow to fail at start delays no other wallet.
      void warmKeys({ wallets, keys, chainIds: [...deps.chains.keys()], logger: log }).then(
        (warmed) => log.info(warmed, 'hot-wallet keys unlocked'),
        (err) => log.warn({ err }, 'hot-wallet keys not unlocked ahead; each unlocks on first use'),
      );
      return runConsumer({
        queue: deps.requests,
        concurrency: common.config.signerConcurrency,
        maxReceives: common.config.signerMaxAttempts,
        onFailure: (err) => common.metrics.workerErrors.inc({ role: 'signer', code: errorCode(err) }),
        signal: common.signal,
        shutdownGraceMs: common.config.shutdownTimeoutMs,
        pollWaitMs: common.config.queuePollWaitSeconds * 1000,
        logger: log,
        handle: async (m: QueueMessage<RequestMessage>) => {
          await handle(m.body, m.receiveCount);
        },
        onGiveUp: async (m, error) => {
          // An outage or a short hot wallet: leave it; the reconciler or tracker brings it back later.
          if (isRetryable(error)) return;
          if ((m.body.action ?? 'sign') !== 'sign') return; // the tracker asks again for replacements
          // Anything else (a bug, an unreadable key) waits for an operator, visibly, still RECEIVED.
          const e = error as SluiceError;
          const letter = {
            queue: 'invalid' as const,
            withdrawalId: m.body.withdrawalId,
            code: e.code ?? 'signing_failed',
            reason: `Signing failed ${m.receiveCount} times: ${e.shortMessage ?? e.message}`,
            attempts: m.receiveCount,
          };
          await withTransaction(db, (trx) => deps.deadLetters.record(trx, letter));
          await deps.deadLetters.announce(letter);
        },
      });
    },
  };
}
