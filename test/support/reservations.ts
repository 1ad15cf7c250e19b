import { type Hex, keccak256, type TransactionSerializableEIP1559 } from 'viem';
import { buildTransfer, type TransferIntent } from '../../src/signer/build-tx.js';
import { createFeeOracle } from '../../src/signer/fees.js';
import { createNonceReservations, type NonceReservations } from '../../src/signer/nonce-reservations.js';
import type { Stack } from './stack.js';

/**
 * The signer's nonce reservations for the stack's chain, driven directly by a test (so it knows
 * which requests share a batch), signing with the stack's hot-wallet keys; every signature made
 * ahead is handed to `onSigned`. Each call is another replica's reservations. `build` replaces
 * the transfer builder (it runs inside the reservation's transaction for requests not signed ahead).
 */
export function createTestReservations(stack: Stack, onSigned: (raw: Hex) => void, build: (intent: TransferIntent) => TransactionSerializableEIP1559 = buildTransfer): NonceReservations {
  const { common, db, assets, wallets, keys, cache } = stack.services;
  const chain = stack.services.chains.get(stack.chainId)!;
  return createNonceReservations({
    common,
    db,
    assets,
    wallets,
    chain,
    fees: createFeeOracle(chain, { cache }),
    build,
    sign: async (lane, { tx, unsigned }) => {
      const raw = await (await keys!.signer(lane.key_ref)).signTransaction(tx, unsigned);
      onSigned(raw);
      return { raw, txHash: keccak256(raw) };
    },
    keyAddress: async (lane) => (await keys!.signer(lane.key_ref)).address,
  });
}
