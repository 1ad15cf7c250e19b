import path from 'node:path';
import { type BenchChild, spawnBenchChild } from '../lib/child.js';

export type ApiServerSettings = { dbUrl: string; apiKey: string; chainId: number; logLevel: 'info' | 'warn' };
export type ApiServerMessage = { type: 'ready'; url: string; pid: number };

export const BENCH_API_KEY = 'sk_bench_all_scopes_0123456789abcdef0123';
export const BENCH_CHAIN_ID = 31337;

export type RunningApi = { url: string; child: BenchChild<ApiServerMessage>; stop(): Promise<void> };

/** Starts the API-only bench server (bench/scenarios/api-server.ts) as its own process. */
export async function startApiServer(dbUrl: string, workDir: string, label: string): Promise<RunningApi> {
  const settings: ApiServerSettings = { dbUrl, apiKey: BENCH_API_KEY, chainId: BENCH_CHAIN_ID, logLevel: 'info' };
  const child = spawnBenchChild<ApiServerMessage>('bench/servers/api-server.mjs', [JSON.stringify(settings)], { logFile: path.join(workDir, `api-${label}.log`), tsx: false });
  try {
    const ready = await child.message((m): m is ApiServerMessage => m.type === 'ready', 120_000);
    return { url: ready.url, child, stop: () => child.stop() };
  } catch (err) {
    await child.stop(1_000);
    throw err;
  }
}
