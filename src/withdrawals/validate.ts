import { isAddress, zeroAddress } from 'viem';
import type { AssetNetwork } from '../assets/registry.js';
import { DecimalFormatError, formatUnits, MAX_LEDGER_UNITS, parseUnits } from '../money/decimal.js';

export type WithdrawalProblem = { code: string; message: string };

export type CheckedWithdrawal = { amount: bigint; fee: bigint };

/**
 * The request checks shared by the API (answer 4xx, store nothing) and the signer (re-check at
 * signing time, since an asset's limits may have changed while the request waited).
 */
export function checkAddress(address: string): WithdrawalProblem | null {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) {
    return { code: 'invalid_address', message: 'toAddress must be a 0x-prefixed 20-byte hex address.' };
  }
  if (!isAddress(address, { strict: true })) {
    return { code: 'invalid_address_checksum', message: 'toAddress has mixed case but an invalid EIP-55 checksum.' };
  }
  if (address.toLowerCase() === zeroAddress) {
    return { code: 'zero_address', message: 'toAddress must not be the zero address.' };
  }
  if (isReservedAddress(address)) {
    return { code: 'reserved_address', message: 'toAddress is a precompile or system address (0x…01 to 0x…ff); funds sent there are lost.' };
  }
  return null;
}

/**
 * 0x00…01 to 0x00…ff: the precompiles (0x01–0x11 today, more with each fork) and the range kept for
 * future ones and for L2 system contracts. Nobody holds a key for these; a payout there is lost.
 */
export function isReservedAddress(address: string): boolean {
  return /^0x0{38}[0-9a-f]{2}$/i.test(address) && address.slice(-2) !== '00';
}

export function checkAmount(amount: string, network: AssetNetwork): CheckedWithdrawal | WithdrawalProblem {
  const allowed = Math.min(network.decimals, network.ledgerDecimals);
  let value: bigint;
  try {
    value = parseUnits(amount, allowed);
  } catch (err) {
    if (err instanceof DecimalFormatError && err.reason === 'too_many_decimals') {
      return { code: 'too_many_decimals', message: `${network.asset} on chain ${network.chainId} allows at most ${allowed} decimals.` };
    }
    return { code: 'invalid_amount', message: 'amount must be a positive decimal string such as "1.5".' };
  }
  const ledgerAmount = value * 10n ** BigInt(network.ledgerDecimals - allowed);
  if (ledgerAmount <= 0n) return { code: 'invalid_amount', message: 'amount must be greater than zero.' };
  const fmt = (v: bigint) => formatUnits(v, network.ledgerDecimals);
  if (ledgerAmount > MAX_LEDGER_UNITS) {
    return { code: 'amount_too_large', message: `amount is larger than any amount Sluice stores (at most ${fmt(MAX_LEDGER_UNITS)} ${network.asset}).` };
  }
  if (ledgerAmount < network.minAmount) {
    return { code: 'amount_below_minimum', message: `amount is below the minimum of ${fmt(network.minAmount)} ${network.asset}.` };
  }
  if (ledgerAmount > network.maxAmount) {
    return { code: 'amount_above_maximum', message: `amount is above the maximum of ${fmt(network.maxAmount)} ${network.asset}.` };
  }
  return { amount: ledgerAmount, fee: network.withdrawalFee };
}

export function isProblem(x: unknown): x is WithdrawalProblem {
  return typeof x === 'object' && x !== null && 'code' in x && 'message' in x;
}
