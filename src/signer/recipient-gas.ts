import type { Address } from 'viem';
import { ExecutionRevertedError } from '../chain/errors.js';
import type { ChainRpc } from '../chain/rpc.js';
import type { WithdrawalProblem } from '../withdrawals/validate.js';

/** Estimates are raised by this much: a contract's gas use may shift a little between estimate and inclusion. */
const MARGIN_PERCENT = 30n;

/**
 * A native payout to an account with code (a Safe, an ERC-4337 account) runs the recipient's
 * `receive()` and needs more than 21,000 gas. Returns the gas limit to sign with (undefined for a
 * plain account: the network's default), or the problem that refuses the payout.
 */
export async function recipientGas(
  chain: ChainRpc,
  input: { wallet: Address; to: Address; value: bigint; defaultGas: bigint },
): Promise<{ gasLimit: bigint | undefined } | { problem: WithdrawalProblem }> {
  const code = await chain.code(input.to);
  if (code === '0x') return { gasLimit: undefined };
  let estimate: bigint;
  try {
    estimate = await chain.read((c) => c.estimateGas({ account: input.wallet, to: input.to, value: input.value }));
  } catch (err) {
    if (err instanceof ExecutionRevertedError) {
      return { problem: { code: 'recipient_rejects_payment', message: `The recipient contract ${input.to} reverts when paid.` } };
    }
    throw err; // an outage or the wallet's own balance: not the user's fault, try again later
  }
  const withMargin = (estimate * (100n + MARGIN_PERCENT) + 99n) / 100n;
  const gasLimit = withMargin > input.defaultGas ? withMargin : input.defaultGas;
  const cap = BigInt(chain.chain.policy.maxRecipientGas);
  if (gasLimit > cap) {
    return {
      problem: {
        code: 'recipient_gas_too_high',
        message: `Paying ${input.to} needs about ${gasLimit} gas, above this network's limit of ${cap} for contract recipients.`,
      },
    };
  }
  return { gasLimit };
}
