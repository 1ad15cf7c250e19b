import { getAddress } from 'viem';
import { describe, expect, it } from 'vitest';
import type { AssetNetwork } from '../assets/registry.js';
import { type Candidate, pickLane } from './pick-lane.js';
import { HotWalletShortError, type Payout } from './wallet-funds.js';

const ETH: AssetNetwork = { asset: 'ETH', ledgerDecimals: 18, chainId: 1, chainName: 'test', kind: 'native', contract: null, decimals: 18, withdrawalFee: 0n, minAmount: 0n, maxAmount: 10n ** 30n, gasLimit: 21_000, enabled: true };
const payout = (wei: bigint): Payout => ({ network: ETH, chainAmount: wei, gasLimit: 21_000n, maxFeePerGas: 1n });

function lane(n: number, pending: number, balance: bigint): Candidate {
  const address = getAddress(`0x${String(n).padStart(40, '0')}`);
  return { lane: { chain_id: 1, address, key_ref: `k${n}` }, address, load: { pending, nativeNeed: 0n, tokenNeed: new Map() }, balances: { native: balance, tokens: new Map() } };
}

describe('pickLane', () => {
  it('takes the lane with the fewest in flight, the first of equals', () => {
    const lanes = [lane(1, 5, 10n ** 18n), lane(2, 2, 10n ** 18n), lane(3, 2, 10n ** 18n), lane(4, 9, 10n ** 18n)];
    expect(pickLane(lanes, payout(1n), 10)).toBe(lanes[1]);
  });

  it('passes over lanes at the limit, and answers busy when every lane is', () => {
    const lanes = [lane(1, 3, 10n ** 18n), lane(2, 4, 10n ** 18n)];
    expect(pickLane(lanes, payout(1n), 4)).toBe(lanes[0]);
    expect(pickLane(lanes, payout(1n), 3)).toBe('busy');
  });

  it('when the least busy lane cannot cover the payout, takes the next by load that can', () => {
    const lanes = [lane(1, 7, 10n ** 18n), lane(2, 0, 1_000n), lane(3, 5, 10n ** 18n)];
    expect(pickLane(lanes, payout(10n ** 15n), 10)).toBe(lanes[2]);
  });

  it("answers short with the least busy lane's shortfall when no lane can cover it", () => {
    const lanes = [lane(1, 3, 50_000n), lane(2, 1, 30_000n)];
    const picked = pickLane(lanes, payout(10n ** 18n), 10);
    expect(picked).toBeInstanceOf(HotWalletShortError);
    expect((picked as HotWalletShortError).shortMessage).toContain(lanes[1]!.address);
  });
});
