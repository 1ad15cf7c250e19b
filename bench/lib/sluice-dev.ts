import path from 'node:path';
import { getFreePort } from '../../src/chain/anvil.js';
import { type BenchChild, spawnBenchChild } from './child.js';

export const BENCH_DEV_API_KEY = 'sk_bench_dev_all_scopes_0123456789abcdef';
export const BENCH_KEYSTORE_PASSWORD = 'bench-keystore-password';

export type SluiceDev = { url: string; child: BenchChild<never>; stop(): Promise<void> };

/**
 * `sluice dev` from the built CLI (dist/cli.js) as its own process, against the given chain, with
 * exactly these settings; resolves once /readyz answers 200.
 */
export async function startSluiceDev(input: { dataDir: string; dbUrl: string; rpcUrl: string; hotWallets: number; logFile: string; env?: Record<string, string> }): Promise<SluiceDev> {
  const port = await getFreePort();
  const child = spawnBenchChild<never>('dist/cli.js', ['dev'], {
    tsx: false,
    logFile: input.logFile,
    env: {
      SLUICE_DATA_DIR: input.dataDir,
      SLUICE_DB_URL: input.dbUrl,
      SLUICE_PORT: String(port),
      SLUICE_DEVNET_RPC_URL: input.rpcUrl,
      SLUICE_DEV_HOT_WALLETS: String(input.hotWallets),
      SLUICE_DEV_API_KEY: BENCH_DEV_API_KEY,
      SLUICE_KEYSTORE_PASSWORD: BENCH_KEYSTORE_PASSWORD,
      SLUICE_RATE_LIMIT_PER_SECOND: '0',
      SLUICE_LOG_LEVEL: 'info',
      ...input.env,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.process.exitCode !== null || child.process.signalCode !== null) {
      throw new Error(`sluice dev exited during boot; ${path.basename(input.logFile)}:\n${child.tail()}`);
    }
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) }).catch(() => null);
    if (res?.status === 200) break;
    await res?.body?.cancel();
    if (Date.now() > deadline) {
      await child.stop(1_000);
      throw new Error(`sluice dev not ready within 120 s:\n${child.tail()}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url, child, stop: () => child.stop(30_000) };
}
