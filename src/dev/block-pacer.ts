import type { ChainRpc } from '../chain/rpc.js';
import type { Common } from '../common.js';
import type { Db } from '../db/connect.js';
import { sleep } from '../util/sleep.js';

/**
 * Dev nodes in automine mode (hardhat's default, anvil without --block-time) make a block only
 * per transaction, so a withdrawal waiting for confirmations would wait forever. When the head
 * has not moved for an interval and something is CONFIRMING, mine an empty block (`evm_mine`,
 * which anvil and hardhat both accept). Dev mode only: real chains make their own blocks.
 */
export function createBlockPacer(deps: { common: Common; db: Db; chain: ChainRpc; intervalMs: number }) {
  const { common, db, chain, intervalMs } = deps;
  const log = common.logger.child({ component: 'block-pacer', chainId: chain.chain.chainId });

  async function tick(lastHead: bigint | undefined): Promise<bigint> {
    const head = await chain.blockNumber();
    if (head !== lastHead) return head;
    const waiting = await db.kysely
      .selectFrom('withdrawals')
      .select('id')
      .where('chain_id', '=', chain.chain.chainId)
      .where('status', '=', 'CONFIRMING')
      .limit(1)
      .executeTakeFirst();
    if (!waiting) return head;
    await chain.read((c) => c.request({ method: 'evm_mine' } as never));
    log.debug({ block: Number(head) + 1 }, 'mined an empty block for waiting confirmations');
    return head + 1n;
  }

  return {
    tick,
    async run(): Promise<void> {
      let lastHead: bigint | undefined;
      while (!common.signal.aborted) {
        try {
          lastHead = await tick(lastHead);
        } catch (err) {
          log.warn({ err }, 'block pacer tick failed');
        }
        await sleep(intervalMs, common.signal);
      }
    },
  };
}
