import { type Address, erc20Abi, getAddress, parseEventLogs, type TransactionReceipt } from 'viem';
import type { AssetNetwork } from '../assets/registry.js';
import { rescale } from '../money/decimal.js';

/**
 * Invariant 10: a successful receipt is not proof of payment for a token. A token that returns
 * `false` instead of reverting moves nothing and still "succeeds", so an ERC-20 payout counts only
 * with the token contract's own `Transfer(hot wallet -> recipient, amount)` log. A native payout
 * is the tx's value itself, checked before signing and fixed by the signature.
 */
export function payoutInReceipt(
  receipt: TransactionReceipt,
  expected: { network: AssetNetwork; wallet: Address; to: Address; ledgerAmount: bigint },
): boolean {
  if (receipt.status !== 'success') return false;
  const { network } = expected;
  if (network.kind === 'native') return true;
  const amount = rescale(expected.ledgerAmount, network.ledgerDecimals, network.decimals);
  const token = getAddress(network.contract!);
  const transfers = parseEventLogs({ abi: erc20Abi, eventName: 'Transfer', logs: receipt.logs, strict: true });
  return transfers.some(
    (log) =>
      getAddress(log.address) === token &&
      getAddress(log.args.from) === getAddress(expected.wallet) &&
      getAddress(log.args.to) === getAddress(expected.to) &&
      log.args.value === amount,
  );
}
