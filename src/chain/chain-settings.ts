import type { Db } from '../db/connect.js';
import type { Logger } from '../observability/logger.js';
import { sleep } from '../util/sleep.js';
import { listChains } from './chain-registry.js';
import type { ChainRpc } from './rpc.js';

/**
 * Keeps each running chain client's settings equal to its `chains` row: confirmations, fee cap,
 * default tip and the per-wallet in-flight limit, as an operator edits them in the console or
 * with `sluice config apply`. Workers read these fields at use time, so a change reaches every
 * role within `intervalMs`, no restart. Endpoints and enabling a chain still need a restart
 * (clients and connections are built at start).
 */
export function createChainSettingsRefresh(deps: { db: Db; chains: Map<number, ChainRpc>; logger: Logger; intervalMs: number; signal: AbortSignal }) {
  const log = deps.logger.child({ component: 'chain-settings' });

  async function refresh(): Promise<number> {
    let changed = 0;
    for (const row of await listChains(deps.db.kysely)) {
      const live = deps.chains.get(row.chainId)?.chain;
      if (!live) continue;
      const next = { confirmations: row.confirmations, maxFeePerGas: row.maxFeePerGas, defaultPriorityFee: row.defaultPriorityFee, maxPendingPerWallet: row.maxPendingPerWallet };
      const differs = (Object.keys(next) as Array<keyof typeof next>).filter((key) => live[key] !== next[key]);
      if (differs.length === 0) continue;
      log.info({ chainId: row.chainId, changed: Object.fromEntries(differs.map((key) => [key, String(next[key])])) }, 'chain settings changed; applied');
      Object.assign(live, next);
      changed++;
    }
    return changed;
  }

  return {
    refresh,
    async run(): Promise<void> {
      while (!deps.signal.aborted) {
        await sleep(deps.intervalMs, deps.signal);
        if (deps.signal.aborted) break;
        await refresh().catch((err) => log.warn({ err }, 'could not read chain settings; keeping the current ones'));
      }
    },
  };
}
