import type { Address } from 'viem';
import type { ChainRpc } from '../chain/rpc.js';
import type { Db } from '../db/connect.js';
import { SluiceError } from '../errors/base.js';
import type { KeyStore } from '../keys/types.js';
import type { Services } from '../runtime/services.js';

/**
 * Refuses to run a data dir against a different chain than the one it was used with (a fresh
 * anvil after the old one's state was lost): nonces and balances would no longer match.
 */
export async function ensureChainIdentity(db: Db, chain: ChainRpc, dataDir: string): Promise<void> {
  const chainId = chain.chain.chainId;
  const genesis = await chain.genesisHash();
  const head = Number(await chain.blockNumber());
  const known = await db.kysely.selectFrom('chain_state').selectAll().where('chain_id', '=', chainId).executeTakeFirst();
  if (!known) {
    await db.kysely.insertInto('chain_state').values({ chain_id: chainId, genesis_hash: genesis, last_block: head, updated_at: Date.now() }).execute();
    return;
  }
  if (known.genesis_hash !== genesis) {
    throw new SluiceError(`The dev chain ${chainId} is not the chain this data dir was used with (different genesis block).`, {
      code: 'devnet_mismatch',
      metaMessages: [
        `Data dir: ${dataDir}`,
        'Point SLUICE_DEVNET_RPC_URL at the original node, or start over with an empty SLUICE_DATA_DIR.',
      ],
    });
  }
  await db.kysely.updateTable('chain_state').set({ last_block: head, updated_at: Date.now() }).where('chain_id', '=', chainId).execute();
}

/**
 * The dev chain's hot wallets (`count` nonce lanes): created in the keystore on first start, each
 * lane starting at the chain's count for its address. A wallet used outside Sluice since is
 * reported; the tracker resyncs its lane once it meets the foreign nonce.
 */
export async function ensureHotWallets(input: { services: Services; chain: ChainRpc; keys: KeyStore; count: number }): Promise<Address[]> {
  const { services, chain, keys, count } = input;
  const chainId = chain.chain.chainId;
  const existing = await services.wallets.forChain(chainId);
  for (const wallet of existing) {
    const row = await services.wallets.get(chainId, wallet.address);
    const onChain = await chain.transactionCount(wallet.address as Address, 'pending');
    if (row && onChain > Number(row.next_nonce)) {
      services.common.logger.warn(
        { chainId, wallet: wallet.address, nextNonce: row.next_nonce, chainNonce: onChain },
        'hot wallet was used outside Sluice; its nonce lane is behind the chain',
      );
    }
  }
  const addresses = existing.map((w) => w.address as Address);
  for (let i = existing.length; i < count; i++) {
    const { keyRef, address } = await keys.createKey('hot');
    const nextNonce = await chain.transactionCount(address, 'pending');
    await services.wallets.register({ chainId, address, keyRef, nextNonce });
    services.common.logger.info({ chainId, wallet: address }, 'created hot wallet');
    addresses.push(address);
  }
  return addresses;
}
