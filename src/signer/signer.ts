import { type Address, getAddress, keccak256 } from 'viem';
import type { AssetRegistry } from '../assets/registry.js';
import type { Cache } from '../cache/types.js';
import type { ChainRpc } from '../chain/rpc.js';
import { type Common, crashIfAsked } from '../common.js';
import type { Db } from '../db/connect.js';
import { lockForUpdate, withTransaction } from '../db/transaction.js';
import type { DeadLetters } from '../dlq/dead-letters.js';
import { isRetryable, type SluiceError } from '../errors/base.js';
import type { KeyStore } from '../keys/types.js';
import { InsufficientBalanceError } from '../ledger/errors.js';
import type { Ledger } from '../ledger/ledger.js';
import { formatUnits, rescale } from '../money/decimal.js';
import { runConsumer } from '../queue/consumer.js';
import type { Queue, QueueMessage, RequestMessage, SignedMessage } from '../queue/types.js';
import { StaleTransitionError } from '../withdrawals/errors.js';
import type { WithdrawalRepository, WithdrawalRow } from '../withdrawals/repository.js';
import { checkAddress, checkAmount, isProblem, type WithdrawalProblem } from '../withdrawals/validate.js';
import type { Wallets } from '../wallets/wallets.js';
import { buildTransfer, serializeUnsigned, type TransferIntent, verifyTransfer } from './build-tx.js';
import { createFeeOracle, type FeeOracle } from './fees.js';

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
};

export type SignOutcome = 'signed' | 'rejected' | 'skipped';

/** Thrown when a check fails inside the signing transaction, so the hold and nonce roll back. */
class Rejection extends Error {
  constructor(readonly problem: WithdrawalProblem) {
    super(problem.message);
  }
}

/**
 * Validation & Signing TX. For each RECEIVED withdrawal: re-check it, then in ONE database
 * transaction hold amount + fee, take the wallet's next nonce, build, verify and sign the transfer,
 * and store nonce + signed bytes + hash (invariant 1). Only after commit is the signed tx queued.
 */
export function createSigner(deps: SignerDeps) {
  const { common, db, ledger, withdrawals, assets, wallets, keys } = deps;
  const log = common.logger.child({ component: 'signer' });
  const feeOracles = new Map<number, FeeOracle>();

  function feesFor(chain: ChainRpc): FeeOracle {
    let oracle = feeOracles.get(chain.chain.chainId);
    if (!oracle) feeOracles.set(chain.chain.chainId, (oracle = createFeeOracle(chain, { cache: deps.cache })));
    return oracle;
  }

  async function reject(w: WithdrawalRow, problem: WithdrawalProblem, attempts: number): Promise<SignOutcome> {
    const letter = { queue: 'invalid' as const, withdrawalId: w.id, code: problem.code, reason: problem.message, attempts };
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
    await deps.signed.send(
      { withdrawalId: w.id, txHash },
      { groupId: `${w.chain_id}:${w.wallet}`, dedupId: txHash },
    );
  }

  async function signWithdrawal(id: string, attempts = 1): Promise<SignOutcome> {
    const w = await withdrawals.get(id);
    if (!w) {
      log.error({ withdrawalId: id }, 'request for unknown withdrawal dropped');
      return 'skipped';
    }
    if (w.status === 'SIGNED' && w.tx_hash) {
      // Crashed between commit and enqueue last time; the sender tolerates repeats.
      await enqueueSigned(w, w.tx_hash);
      return 'skipped';
    }
    if (w.status !== 'RECEIVED') return 'skipped';

    const network = await assets.find(w.asset, w.chain_id);
    if (!network || !network.enabled) {
      return reject(w, { code: 'network_disabled', message: `${w.asset} withdrawals on chain ${w.chain_id} are not enabled.` }, attempts);
    }
    const addressProblem = checkAddress(w.to_address);
    if (addressProblem) return reject(w, addressProblem, attempts);
    const checked = checkAmount(formatUnits(BigInt(w.amount), network.ledgerDecimals), network);
    if (isProblem(checked)) return reject(w, checked, attempts);

    const chain = deps.chains.get(w.chain_id);
    const wallet = await wallets.pick(w.chain_id, w.id);
    if (!chain || !wallet) {
      return reject(w, { code: 'no_hot_wallet', message: `No RPC endpoint or hot wallet configured for chain ${w.chain_id}.` }, attempts);
    }
    const [fees, signer] = await Promise.all([feesFor(chain).current(), keys.signer(wallet.key_ref)]);
    if (fees.capped) log.warn({ chainId: w.chain_id, maxFeePerGas: fees.maxFeePerGas.toString() }, 'fee cap reached; tx may wait for base fee to drop');
    const amount = BigInt(w.amount);
    const fee = BigInt(w.fee);

    let signed: { txHash: string; nonce: number; wallet: Address } | null;
    try {
      signed = await withTransaction(db, async (trx) => {
        // Lock order everywhere: withdrawal row, then balance row, then wallet row.
        const current = await lockForUpdate(db, trx.selectFrom('withdrawals').select('status').where('id', '=', w.id)).executeTakeFirst();
        if (current?.status !== 'RECEIVED') return null;
        await ledger.hold(trx, { userId: w.user_id, asset: w.asset, amount: amount + fee, withdrawalId: w.id });

        const walletRow = await lockForUpdate(
          db,
          trx.selectFrom('wallets').select('next_nonce').where('chain_id', '=', w.chain_id).where('address', '=', wallet.address),
        ).executeTakeFirstOrThrow();
        const nonce = Number(walletRow.next_nonce);

        let chainAmount: bigint;
        try {
          chainAmount = rescale(amount, network.ledgerDecimals, network.decimals);
        } catch {
          throw new Rejection({ code: 'too_many_decimals', message: 'amount cannot be expressed in the token decimals.' });
        }
        const intent: TransferIntent = {
          chainId: w.chain_id,
          network,
          to: getAddress(w.to_address),
          chainAmount,
          nonce,
          maxFeePerGas: fees.maxFeePerGas,
          maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
        };
        const tx = buildTransfer(intent);
        verifyTransfer(serializeUnsigned(tx), intent);
        const raw = await signer.signTransaction(tx);
        const txHash = keccak256(raw);

        await trx
          .updateTable('wallets')
          .set({ next_nonce: nonce + 1 })
          .where('chain_id', '=', w.chain_id)
          .where('address', '=', wallet.address)
          .execute();
        await trx
          .insertInto('tx_attempts')
          .values({
            withdrawal_id: w.id,
            chain_id: w.chain_id,
            wallet: wallet.address,
            nonce,
            tx_hash: txHash,
            raw_tx: raw,
            kind: 'transfer',
            max_fee_per_gas: fees.maxFeePerGas.toString(),
            max_priority_fee_per_gas: fees.maxPriorityFeePerGas.toString(),
            gas_limit: network.gasLimit,
            created_at: Date.now(),
            broadcast_at: null,
            last_error: null,
          })
          .execute();
        await withdrawals.transition(trx, w.id, 'RECEIVED', 'SIGNED', { wallet: wallet.address, nonce, tx_hash: txHash }, {});
        return { txHash, nonce, wallet: wallet.address as Address };
      });
    } catch (err) {
      if (err instanceof InsufficientBalanceError) {
        return reject(w, { code: 'insufficient_balance', message: `Available ${w.asset} balance does not cover amount + fee.` }, attempts);
      }
      if (err instanceof Rejection) return reject(w, err.problem, attempts);
      throw err;
    }
    if (!signed) return 'skipped';

    common.metrics.signed.inc({ chain_id: String(w.chain_id) });
    common.metrics.transitions.inc({ from: 'RECEIVED', to: 'SIGNED' });
    log.info({ withdrawalId: w.id, chainId: w.chain_id, wallet: signed.wallet, nonce: signed.nonce, txHash: signed.txHash }, 'withdrawal signed');
    crashIfAsked(common, 'after-sign');
    await enqueueSigned({ id: w.id, chain_id: w.chain_id, wallet: signed.wallet }, signed.txHash);
    return 'signed';
  }

  return {
    signWithdrawal,

    run(): Promise<void> {
      return runConsumer({
        queue: deps.requests,
        concurrency: common.config.signerConcurrency,
        maxReceives: 10,
        signal: common.signal,
        logger: log,
        handle: async (m: QueueMessage<RequestMessage>) => {
          await signWithdrawal(m.body.withdrawalId, m.receiveCount);
        },
        onGiveUp: async (m, error) => {
          // A node or database outage: leave it RECEIVED; the reconciler brings it back later.
          if (isRetryable(error)) return;
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
