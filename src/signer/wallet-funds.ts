import { type Address, erc20Abi } from 'viem';
import type { AssetNetwork } from '../assets/registry.js';
import type { ChainRpc } from '../chain/rpc.js';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { Tx } from '../db/transaction.js';
import { RetryableError } from '../errors/base.js';
import { rescale } from '../money/decimal.js';

/**
 * The hot wallet cannot cover this payout on top of what it already has in flight. Not the
 * user's fault and not permanent: the withdrawal waits (visibly) and goes on once refilled.
 */
export class HotWalletShortError extends RetryableError {
  override name = 'HotWalletShortError';
}

/** Native balance, and the balance of each token contract asked for (lowercase address → base units). */
export type WalletBalances = { native: bigint; tokens: Map<string, bigint> };

/** What the wallet holds on chain now: the native coin and the given tokens. */
export async function walletBalances(chain: ChainRpc, wallet: Address, tokenContracts: Iterable<Address>): Promise<WalletBalances> {
  const contracts = [...new Set([...tokenContracts].map((c) => c.toLowerCase() as Address))];
  const [native, ...tokens] = await Promise.all([
    chain.balance(wallet),
    ...contracts.map((address) => chain.read((c) => c.readContract({ address, abi: erc20Abi, functionName: 'balanceOf', args: [wallet] }))),
  ]);
  return { native: native!, tokens: new Map(contracts.map((c, i) => [c, tokens[i]!])) };
}

/** Statuses whose rows hold a nonce of their wallet that is not mined yet (RECEIVED only once reserved). */
export const IN_FLIGHT_STATUSES = ['RECEIVED', 'SIGNED', 'BROADCAST'] as const;

/**
 * What one hot wallet has in flight: every payout signed or reserved and not yet mined. `pending`
 * counts txs (cancels too: they wait in the node's pool like any other); the needs are what those
 * payouts and their gas will take from the wallet once mined.
 */
export type LaneLoad = { pending: number; nativeNeed: bigint; tokenNeed: Map<string, bigint> };

/**
 * What each of these wallets of one chain has in flight, in one query: read by the pool plan
 * before any lock, and again by the signer under the wallets' row locks, so every replica sees the
 * same in-flight set. `networks` is passed in, not looked up: a registry refresh inside the
 * transaction would wait for SQLite's one connection, which this transaction holds. Indexed
 * ranges on (chain_id, wallet, status): the cost follows what is in flight, never the wallets'
 * history. Wallets are stored checksummed (getAddress), as they must be passed here.
 */
export async function laneLoads(
  trx: Tx | Kysely<Database>,
  input: { networks: AssetNetwork[]; chainId: number; wallets: Address[]; maxFeePerGas: bigint },
): Promise<Map<Address, LaneLoad>> {
  const loads = new Map<Address, LaneLoad>(input.wallets.map((w) => [w, { pending: 0, nativeNeed: 0n, tokenNeed: new Map() }]));
  if (input.wallets.length === 0) return loads;
  const rows = await trx
    .selectFrom('withdrawals')
    .select(['wallet', 'asset', 'amount', 'status', 'nonce', 'cancel_reason'])
    .where('chain_id', '=', input.chainId)
    .where('wallet', 'in', input.wallets)
    .where('status', 'in', [...IN_FLIGHT_STATUSES])
    .execute();
  const byAsset = new Map<string, AssetNetwork>();
  for (const n of input.networks) if (n.chainId === input.chainId && !byAsset.has(n.asset)) byAsset.set(n.asset, n);
  // Summed here, not in SQL: SQLite's SUM over TEXT amounts would go through floating point.
  for (const r of rows) {
    const load = loads.get(r.wallet as Address);
    if (!load) continue;
    if (r.status === 'RECEIVED' && r.nonce === null) continue;
    load.pending += 1;
    if (r.cancel_reason !== null) continue; // a cancel pays nothing
    const network = byAsset.get(r.asset);
    if (!network) continue;
    addNeed(load, network, rescale(BigInt(r.amount), network.ledgerDecimals, network.decimals), BigInt(network.gasLimit) * input.maxFeePerGas);
  }
  return loads;
}

function addNeed(load: LaneLoad, network: AssetNetwork, chainAmount: bigint, gasCost: bigint): void {
  load.nativeNeed += gasCost + (network.kind === 'native' ? chainAmount : 0n);
  if (network.kind === 'erc20') {
    const contract = network.contract!.toLowerCase();
    load.tokenNeed.set(contract, (load.tokenNeed.get(contract) ?? 0n) + chainAmount);
  }
}

export type Payout = { network: AssetNetwork; chainAmount: bigint; gasLimit: bigint; maxFeePerGas: bigint };

/**
 * Whether the wallet's balances (read before the lock) cover everything in flight plus this
 * payout and its gas; throws HotWalletShortError when not. Txs mined since the read are counted
 * twice, which only errs on the side of waiting.
 */
export function assertCovers(wallet: Address, balances: WalletBalances, load: LaneLoad, payout: Payout): void {
  const nativeNeed = load.nativeNeed + payout.gasLimit * payout.maxFeePerGas + (payout.network.kind === 'native' ? payout.chainAmount : 0n);
  if (balances.native < nativeNeed) {
    throw new HotWalletShortError(`Hot wallet ${wallet} holds ${balances.native} wei; in-flight payouts and gas need ${nativeNeed}.`, {
      code: 'hot_wallet_insufficient_funds',
    });
  }
  if (payout.network.kind === 'erc20') {
    const token = balances.tokens.get(payout.network.contract!.toLowerCase()) ?? 0n;
    const tokenNeed = (load.tokenNeed.get(payout.network.contract!.toLowerCase()) ?? 0n) + payout.chainAmount;
    if (token < tokenNeed) {
      throw new HotWalletShortError(`Hot wallet ${wallet} holds ${token} ${payout.network.asset} base units; in-flight payouts need ${tokenNeed}.`, {
        code: 'hot_wallet_insufficient_funds',
      });
    }
  }
}

/** Counts a payout just reserved into the lane's load (the next one in the same batch sees it). */
export function addToLoad(load: LaneLoad, payout: Payout): void {
  load.pending += 1;
  addNeed(load, payout.network, payout.chainAmount, payout.gasLimit * payout.maxFeePerGas);
}
