import type { Kysely } from 'kysely';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/connect.js';
import { isUniqueViolation } from '../db/errors.js';
import type { ChainsTable, Database } from '../db/schema.js';
import { withTransaction } from '../db/transaction.js';
import { SluiceError } from '../errors/base.js';
import type { ChainConfig, ChainPolicy, RpcEndpointConfig } from './types.js';

/** A `chains` row as the code sees it. Fees in wei. */
export type ChainRecord = Omit<ChainConfig, 'policy'> & {
  explorerUrl: string | null;
  enabled: boolean;
};

/**
 * The per-chain policy knobs. They are global settings (environment), not per-chain rows: one
 * operator decision for every chain, the same way dev mode builds its devnet's ChainConfig.
 */
export function chainPolicy(
  config: Pick<Config, 'rebroadcastAfterSeconds' | 'feeBumpAfterSeconds' | 'feeBumpPercent' | 'maxRecipientGas' | 'rpcMaxHeadLagBlocks' | 'rpcTimeoutMs'>,
): ChainPolicy {
  return {
    rebroadcastAfterMs: config.rebroadcastAfterSeconds * 1000,
    bumpAfterMs: config.feeBumpAfterSeconds * 1000,
    bumpPercent: config.feeBumpPercent,
    maxRecipientGas: config.maxRecipientGas,
    maxHeadLagBlocks: config.rpcMaxHeadLagBlocks,
    rpcTimeoutMs: config.rpcTimeoutMs,
  };
}

export class ChainRegistryError extends SluiceError {
  override name = 'ChainRegistryError';
}

/** Every chain row, enabled or not, by chain id. */
export async function listChains(k: Kysely<Database>): Promise<ChainRecord[]> {
  const rows = await k.selectFrom('chains').selectAll().orderBy('chain_id').execute();
  return rows.map((r) => chainFromRow(r));
}

/** The enabled chains as the RPC layer wants them. A row that cannot be used fails loudly at startup. */
export async function loadChainConfigs(db: Db, policy: ChainPolicy): Promise<ChainConfig[]> {
  const chains = (await listChains(db.kysely)).filter((c) => c.enabled);
  return chains.map((c) => ({
    chainId: c.chainId,
    name: c.name,
    rpc: c.rpc,
    confirmations: c.confirmations,
    maxFeePerGas: c.maxFeePerGas,
    defaultPriorityFee: c.defaultPriorityFee,
    maxPendingPerWallet: c.maxPendingPerWallet,
    policy,
  }));
}

/** Creates or replaces one chain (dev mode's devnet, tests); `sluice config apply` uses writeChain in its own transaction. */
export async function upsertChain(db: Db, chain: ChainRecord): Promise<void> {
  const write = () => withTransaction(db, (trx) => writeChain(trx, chain));
  try {
    await write();
  } catch (err) {
    // Two processes created the same new chain at once: the loser now finds the row and updates it.
    if (!isUniqueViolation(err)) throw err;
    await write();
  }
}

/**
 * Writes one chain inside the caller's transaction and renames its asset networks with it, so
 * `asset_networks.chain_name` (which API readers use) never disagrees with the chain's name.
 */
export async function writeChain(k: Kysely<Database>, chain: ChainRecord, now = Date.now()): Promise<'created' | 'updated'> {
  if (chain.rpc.length === 0) throw new ChainRegistryError(`Chain ${chain.chainId} needs at least one RPC endpoint.`, { code: 'chain_no_rpc' });
  const values = {
    name: chain.name,
    rpc_endpoints: JSON.stringify(chain.rpc.map((e) => ({ url: e.url, weight: e.weight, ...(e.batch === undefined ? {} : { batch: e.batch }) }))),
    confirmations: chain.confirmations,
    max_fee_per_gas: chain.maxFeePerGas.toString(),
    priority_fee: chain.defaultPriorityFee.toString(),
    explorer_url: chain.explorerUrl,
    enabled: chain.enabled ? 1 : 0,
    max_pending_per_wallet: chain.maxPendingPerWallet,
    updated_at: now,
  };
  const exists = await k.selectFrom('chains').select('chain_id').where('chain_id', '=', chain.chainId).executeTakeFirst();
  if (exists) await k.updateTable('chains').set(values).where('chain_id', '=', chain.chainId).execute();
  else await k.insertInto('chains').values({ chain_id: chain.chainId, ...values, created_at: now }).execute();
  await k
    .updateTable('asset_networks')
    .set({ chain_name: chain.name })
    .where('chain_id', '=', chain.chainId)
    .where('chain_name', '!=', chain.name)
    .execute();
  return exists ? 'updated' : 'created';
}

/**
 * `unusableRpc: 'empty'` reads broken endpoints as none instead of throwing: for `config apply`,
 * which must be able to show and overwrite exactly such a row.
 */
export function chainFromRow(row: ChainsTable, options: { unusableRpc?: 'throw' | 'empty' } = {}): ChainRecord {
  const chainId = Number(row.chain_id);
  let rpc: RpcEndpointConfig[];
  try {
    rpc = parseEndpoints(chainId, row.rpc_endpoints);
  } catch (err) {
    if (options.unusableRpc !== 'empty') throw err;
    rpc = [];
  }
  return {
    chainId,
    name: row.name,
    rpc,
    confirmations: Number(row.confirmations),
    maxFeePerGas: BigInt(row.max_fee_per_gas),
    defaultPriorityFee: BigInt(row.priority_fee),
    maxPendingPerWallet: Number(row.max_pending_per_wallet),
    explorerUrl: row.explorer_url,
    enabled: Number(row.enabled) === 1,
  };
}

/** The column is edited by hand at times (console, SQL): a bad value names its chain instead of failing deep in viem. */
function parseEndpoints(chainId: number, text: string): RpcEndpointConfig[] {
  const bad = (why: string) =>
    new ChainRegistryError(`Chain ${chainId} has unusable rpc_endpoints in the database: ${why}.`, {
      code: 'chain_bad_rpc',
      metaMessages: ['Expected JSON [{"url": "https://…", "weight": 1}, …]; fix it with `sluice config apply`.'],
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw bad('not a non-empty list');
  return parsed.map((e: unknown, i) => {
    const { url, weight, batch } = (e ?? {}) as { url?: unknown; weight?: unknown; batch?: unknown };
    if (typeof url !== 'string' || !URL.canParse(url)) throw bad(`entry ${i} has no valid url`);
    const w = weight === undefined ? 1 : Number(weight);
    if (!Number.isInteger(w) || w < 1) throw bad(`entry ${i} has a bad weight`);
    if (batch === undefined) return { url, weight: w };
    const b = Number(batch);
    if (!Number.isInteger(b) || b < 1) throw bad(`entry ${i} has a bad batch`);
    return { url, weight: w, batch: b };
  });
}
