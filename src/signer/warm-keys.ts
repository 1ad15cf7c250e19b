import { getAddress } from 'viem';
import type { Logger } from 'pino';
import type { KeyStore } from '../keys/types.js';
import type { Wallets } from '../wallets/wallets.js';

/** A KMS public key or a secret is a network round trip; keystore scrypt runs are limited where they run (keystore-file.ts). */
const UNLOCKS_AT_ONCE = 4;

/**
 * Unlocks the key of every enabled hot wallet of these chains (a keystore's scrypt run, a secret's
 * fetch, a KMS key's public key) before the first withdrawal needs it, so the first seconds after
 * a start do not queue behind one unlock per wallet; and a key that cannot be read, or that is not
 * its wallet's, shows in the log at start rather than on a payout. A failure only logs: the
 * reservations leave such a wallet out of the pool with an alert (lane-keys.ts).
 */
export async function warmKeys(deps: { wallets: Wallets; keys: KeyStore; chainIds: number[]; logger: Logger }): Promise<{ unlocked: number; failed: number }> {
  const { wallets, keys, logger } = deps;
  const todo = (await Promise.all(deps.chainIds.map((id) => wallets.forChain(id)))).flat();
  let unlocked = 0;
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const wallet = todo[next++]!;
      const fields = { chainId: wallet.chain_id, wallet: wallet.address };
      try {
        const signer = await keys.signer(wallet.key_ref);
        if (getAddress(signer.address) !== getAddress(wallet.address)) {
          failed += 1;
          logger.error({ ...fields, keyAddress: signer.address }, "hot wallet's key signs for another address; its withdrawals will not be signed");
        } else unlocked += 1;
      } catch (err) {
        failed += 1;
        logger.error({ ...fields, err }, "hot wallet's key cannot be unlocked; its withdrawals will wait");
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(UNLOCKS_AT_ONCE, todo.length) }, worker));
  return { unlocked, failed };
}
