import { type Address, erc20Abi } from 'viem';
import type { AssetNetwork, AssetRegistry } from '../assets/registry.js';
import type { ChainRpc } from '../chain/rpc.js';
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

export type WalletBalances = { native: bigint; token: bigint | null };

/** What the wallet holds on chain now (native coin, and the token when the payout is one). */
export async function walletBalances(chain: ChainRpc, wallet: Address, network: AssetNetwork): Promise<WalletBalances> {
  const [native, token] = await Promise.all([
    chain.read((c) => c.getBalance({ address: wallet })),
    network.kind === 'erc20'
      ? chain.read((c) => c.readContract({ address: network.contract!, abi: erc20Abi, functionName: 'balanceOf', args: [wallet] }))
      : Promise.resolve(null),
  ]);
  return { native, token };
}

/**
 * Checked under the wallet's row lock, so every signer replica sees the same in-flight set: the
 * balances read before the lock minus every payout not yet mined (SIGNED/BROADCAST, and RECEIVED
 * with a nonce reserved, about to be signed) must still cover this one and its gas. Txs mined
 * since the read are counted twice, which only errs on the side of waiting.
 */
export async function assertWalletCovers(
  trx: Tx,
  input: {
    assets: AssetRegistry;
    balances: WalletBalances;
    chainId: number;
    wallet: Address;
    network: AssetNetwork;
    chainAmount: bigint;
    gasLimit: bigint;
    maxFeePerGas: bigint;
  },
): Promise<void> {
  // Summed here, not in SQL: SQLite's SUM over TEXT amounts would go through floating point.
  const rows = await trx
    .selectFrom('withdrawals')
    .select(['asset', 'amount'])
    .where('chain_id', '=', input.chainId)
    .where('wallet', '=', input.wallet)
    .where((eb) => eb.or([eb('status', 'in', ['SIGNED', 'BROADCAST']), eb.and([eb('status', '=', 'RECEIVED'), eb('nonce', 'is not', null)])]))
    .where('cancel_reason', 'is', null)
    .execute();
  const byAsset = new Map<string, { n: bigint; total: bigint }>();
  for (const r of rows) {
    const entry = byAsset.get(r.asset) ?? { n: 0n, total: 0n };
    entry.n += 1n;
    entry.total += BigInt(r.amount);
    byAsset.set(r.asset, entry);
  }

  let nativeNeed = input.gasLimit * input.maxFeePerGas + (input.network.kind === 'native' ? input.chainAmount : 0n);
  let tokenNeed = input.network.kind === 'erc20' ? input.chainAmount : 0n;
  for (const [asset, { n, total: ledgerTotal }] of byAsset) {
    const network = await input.assets.find(asset, input.chainId);
    if (!network) continue;
    const total = rescale(ledgerTotal, network.ledgerDecimals, network.decimals);
    nativeNeed += n * BigInt(network.gasLimit) * input.maxFeePerGas;
    if (network.kind === 'native') nativeNeed += total;
    else if (network.contract === input.network.contract) tokenNeed += total;
  }
  if (input.balances.native < nativeNeed) {
    throw new HotWalletShortError(`Hot wallet ${input.wallet} holds ${input.balances.native} wei; in-flight payouts and gas need ${nativeNeed}.`, {
      code: 'hot_wallet_insufficient_funds',
    });
  }
  if (input.balances.token !== null && input.balances.token < tokenNeed) {
    throw new HotWalletShortError(`Hot wallet ${input.wallet} holds ${input.balances.token} ${input.network.asset} base units; in-flight payouts need ${tokenNeed}.`, {
      code: 'hot_wallet_insufficient_funds',
    });
  }
}
