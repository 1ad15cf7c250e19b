import { type Address, getAddress } from 'viem';
import { sameAddress } from '../chain/address.js';
import type { Common } from '../common.js';
import { RetryableError, SluiceError } from '../errors/base.js';
import type { Wallet } from '../wallets/wallets.js';

/** How long a lane whose key was refused stays left out before its key is asked again. */
export const KEY_RECHECK_MS = 5_000;

/** No hot wallet of the chain has a key Sluice can sign with for its own address: the withdrawal waits for an operator. */
export class HotWalletKeysUnusableError extends RetryableError {
  override name = 'HotWalletKeysUnusableError';
}

export type RefusedLane = { lane: Wallet; problem: string };

/**
 * Which lanes of a chain get withdrawals: those whose key can be read and signs for the lane's own
 * address. A lane whose key is another address's (an operator's mix-up, a restored backup) or
 * cannot be read (Secrets Manager or KMS refusing) is left out with an alert: a reservation on it
 * would take a nonce and a hold that no signature could follow, and the lane would wait behind that
 * nonce for an operator. Its payouts go to the other lanes, or wait visibly; once its key is right
 * again (asked every `KEY_RECHECK_MS`) it takes withdrawals again by itself. Invariant 9's check of
 * every signature (verifySigner) stays: this only keeps a known-bad key from getting nonces.
 */
export function createLaneKeys(deps: { common: Common; chainId: number; keyAddress: (lane: Wallet) => Promise<Address> }) {
  const log = deps.common.logger.child({ component: 'signer', chainId: deps.chainId });
  const refused = new Map<string, { problem: string; until: number }>();

  async function problemOf(lane: Wallet): Promise<string | null> {
    const id = `${lane.key_ref}|${lane.address}`;
    const known = refused.get(id);
    if (known && Date.now() < known.until) return known.problem;
    let problem: string | null = null;
    try {
      // Asked for every lane at every plan: compared without checksums (two keccaks a lane).
      const signsFor = await deps.keyAddress(lane);
      if (!sameAddress(signsFor, lane.address)) problem = `its key ${lane.key_ref} signs for ${getAddress(signsFor)}`;
    } catch (err) {
      problem = `its key ${lane.key_ref} cannot be used: ${err instanceof SluiceError ? err.shortMessage : String(err)}`;
    }
    const fields = { chainId: deps.chainId, wallet: lane.address };
    if (problem === null) {
      if (refused.delete(id)) log.warn(fields, "hot wallet's key is usable again; the lane takes withdrawals");
      return null;
    }
    refused.set(id, { problem, until: Date.now() + KEY_RECHECK_MS });
    deps.common.metrics.hotWalletKeyUnusable.inc({ chain_id: String(deps.chainId), wallet: lane.address });
    log.error({ ...fields, alert: 'hot_wallet_key_unusable', problem }, 'hot wallet left out of the pool: no nonce of it is taken until its key signs for it');
    return problem;
  }

  return {
    /** The lanes that may take nonces now, and the ones left out with why. */
    async usable(lanes: Wallet[]): Promise<{ usable: Wallet[]; refused: RefusedLane[] }> {
      const problems = await Promise.all(lanes.map(problemOf));
      const usable: Wallet[] = [];
      const out: RefusedLane[] = [];
      lanes.forEach((lane, i) => (problems[i] === null ? usable.push(lane) : out.push({ lane, problem: problems[i]! })));
      return { usable, refused: out };
    },
  };
}

/** The visible wait of a withdrawal no lane of its chain can take because every lane's key is refused. */
export function keysUnusable(chainId: number, refused: RefusedLane[]): HotWalletKeysUnusableError {
  const which = refused.map((r) => `${r.lane.address}: ${r.problem}`).join('; ');
  return new HotWalletKeysUnusableError(`No hot wallet of chain ${chainId} has a usable key (${which}).`, { code: 'hot_wallet_key_unusable' });
}
