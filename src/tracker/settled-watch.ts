import type { Hash } from 'viem';
import type { ChainRpc } from '../chain/rpc.js';
import type { Db } from '../db/connect.js';
import type { Logger } from '../observability/logger.js';
import { type LaneRow, laneWindow, SETTLED_STATUSES } from './lane-queries.js';

/** How far back a starting tracker watches settled withdrawals (blocks), and how many of each lane's newest per status. */
const RESTORED_BLOCKS = 128;
const RESTORED_PER_STATUS = 64;
const WATCHED_BLOCKS_LIMIT = 4_096;

type WatchedBlock = { chainId: number; block: bigint; hash: Hash; until: bigint; rows: LaneRow[] };

/**
 * Withdrawals the tracker settled, by block, watched for `confirmations` more blocks. A reorg
 * deeper than finality is seen by the lane as a nonce gap — unless the new branch already uses
 * the nonce (another tx of the wallet that was waiting in some pool, or the withdrawal's own
 * payout where its cancel was): no gap, and the change would go unseen. A replaced block is seen
 * here instead. Kept in memory (bounded); a starting tracker fills it from the database.
 */
export function createSettledWatch({ db, logger }: { db: Db; logger: Logger }) {
  const blocks = new Map<string, WatchedBlock>();
  /** Chains whose recently settled withdrawals are watched since this process started. */
  const restored = new Set<number>();

  function watch(chainId: number, w: LaneRow, block: bigint, hash: Hash, until: bigint): void {
    const key = `${chainId}:${hash}`;
    let entry = blocks.get(key);
    if (!entry) {
      if (blocks.size >= WATCHED_BLOCKS_LIMIT) blocks.delete(blocks.keys().next().value!);
      blocks.set(key, (entry = { chainId, block, hash, until, rows: [] }));
    }
    if (!entry.rows.some((r) => r.id === w.id)) entry.rows.push(w);
  }

  return {
    watch,

    /**
     * At a process's first pass of a chain: what was settled before it started is watched too.
     * A reorg beyond finality while no tracker ran, and a foreign tx on the emptied nonce since,
     * would leave no gap to see. Covers the lanes' newest settled nonces whose block is at most
     * `RESTORED_BLOCKS` (or four times the confirmations) old.
     */
    async restore(chain: ChainRpc, head: bigint, wallets: string[]): Promise<void> {
      const chainId = chain.chain.chainId;
      if (restored.has(chainId)) return;
      const oldest = head - BigInt(Math.max(RESTORED_BLOCKS, 4 * chain.chain.confirmations));
      let watched = 0;
      for (const wallet of wallets) {
        const rows = await laneWindow(db.kysely, chainId, wallet, RESTORED_PER_STATUS, { statuses: SETTLED_STATUSES, newest: true }).execute();
        for (const w of rows) {
          if (w.block_number === null || w.block_hash === null || BigInt(w.block_number) <= oldest) continue;
          watch(chainId, w, BigInt(w.block_number), w.block_hash as Hash, head + BigInt(chain.chain.confirmations));
          watched++;
        }
      }
      restored.add(chainId);
      if (watched > 0) logger.info({ chainId, watched }, 'recently settled withdrawals watched for reorgs beyond finality');
    },

    /**
     * Hands each row of a watched block that is no longer canonical to `decide`, then stops
     * watching the block; blocks past their window are dropped. A `decide` that throws leaves its
     * block watched for the next pass.
     */
    async replaced(chain: ChainRpc, head: bigint, blockHashes: Map<bigint, Promise<Hash | null>>, decide: (w: LaneRow, replaced: string) => Promise<void>): Promise<void> {
      for (const [key, entry] of blocks) {
        if (entry.chainId !== chain.chain.chainId) continue;
        if (head > entry.until) {
          blocks.delete(key);
          continue;
        }
        let canonical = blockHashes.get(entry.block);
        if (!canonical) blockHashes.set(entry.block, (canonical = chain.blockHash(entry.block).catch(() => null)));
        const hash = await canonical;
        if (hash === null || hash === entry.hash) continue;
        for (const w of entry.rows) await decide(w, `block ${entry.block} (${entry.hash}) was replaced by ${hash}`);
        blocks.delete(key);
      }
    },
  };
}
