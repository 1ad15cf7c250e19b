import path from 'node:path';
import { parseGwei } from 'viem';
import { createMemoryCache } from '../../src/cache/memory-cache.js';
import { startAnvil } from '../../src/chain/anvil.js';
import { chainPolicy } from '../../src/chain/chain-registry.js';
import { createChainRpc } from '../../src/chain/rpc.js';
import { loadConfig } from '../../src/config/load.js';
import { openDatabase } from '../../src/db/connect.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createMemoryQueue } from '../../src/queue/memory-queue.js';
import type { DeadLetterMessage, RequestMessage, SignedMessage } from '../../src/queue/types.js';
import { createServices } from '../../src/runtime/services.js';
import { createTracker } from '../../src/tracker/tracker.js';
import { countingChain } from '../lib/counting-chain.js';
import { createBenchDatabase } from '../lib/database.js';
import { jsonRpc } from '../lib/json-rpc.js';
import { type ScenarioContext, type SectionResult, type Target, figure, ratio } from '../lib/result.js';
import { insertWithdrawals, withdrawalRow } from '../lib/rows.js';
import { seedSqliteHistory } from '../lib/seed-sqlite.js';
import { median, round } from '../lib/stats.js';
import { API_WORKLOAD, recipientPool } from '../lib/workload.js';
import { runLoad } from '../load/run-load.js';
import type { LoadResult } from '../load/spec.js';
import { BENCH_API_KEY, BENCH_CHAIN_ID, startApiServer } from './start-api.js';

const LIVE = 1_000;
const IN_FLIGHT = 20;

type Probe = { label: string; historyRows: number; seedSeconds: number; post: LoadResult; get: LoadResult; tracker: { ticks: number; callsPerTick: number[]; msPerTick: number[]; medianCalls: number | null; medianMs: number | null } };

/**
 * What a long history does: the same live work (1,000 RECEIVED withdrawals to read, 20 in flight
 * for the tracker) over an empty table and over one holding a million settled withdrawals (with
 * their txs). API latency (POST and GET /v1/withdrawals/{id} at a fixed rate) and the tracker's
 * cost per tick (RPC calls and duration) must not grow with history. SQLite (the embedded default).
 */
export async function runHistoryScenario(ctx: ScenarioContext): Promise<Omit<SectionResult, 'name' | 'seconds'>> {
  const p = ctx.profile.history;
  const name = 'history';
  const anvil = await startAnvil({ blockTime: 1, silent: true });
  const probes: Probe[] = [];
  try {
    for (const historyRows of [0, p.rows]) probes.push(await probe(ctx, anvil.rpcUrl, historyRows));
  } finally {
    await anvil.stop();
  }
  const [empty, big] = probes as [Probe, Probe];
  const bigLabel = `${big.historyRows.toLocaleString('en-US')} in the table`;
  const figures = [
    ...(['post', 'get'] as const).flatMap((k) => [
      figure(`${k === 'post' ? 'POST /v1/withdrawals' : 'GET /v1/withdrawals/{id}'} P99 at ${p.probeRate}/s, ${bigLabel}`, big[k].latencyMs.p99, 'ms', { what: 'same, empty table', value: empty[k].latencyMs.p99 }, `P50 ${big[k].latencyMs.p50} vs ${empty[k].latencyMs.p50} ms; achieved ${Math.round(big[k].rate2xx)} vs ${Math.round(empty[k].rate2xx)}/s`),
    ]),
    figure(`tracker RPC calls per tick, ${bigLabel}`, big.tracker.medianCalls, '', { what: 'same, empty table', value: empty.tracker.medianCalls }),
    figure(`tracker tick duration (median of ${p.ticks}), ${bigLabel}`, big.tracker.medianMs, 'ms', { what: 'same, empty table', value: empty.tracker.medianMs }),
    figure('seeding the history', big.seedSeconds, 's', undefined, `${Math.round(big.historyRows / Math.max(big.seedSeconds, 0.001)).toLocaleString('en-US')} rows/s (withdrawals + tx_attempts)`),
  ];
  // Noise allowance: shared machines jitter by milliseconds; growth with history is what is judged.
  const grows = (a: number | null, b: number | null, slackMs: number) => a !== null && b !== null && a > b * 1.5 + slackMs;
  const targets: Target[] = [
    ...(['post', 'get'] as const).map((k) => ({
      section: name,
      what: `${k === 'post' ? 'POST' : 'GET /{id}'} P99 with ${big.historyRows.toLocaleString('en-US')} withdrawals vs empty`,
      goal: 'does not grow (≤ 1.5× + 5 ms)',
      measured: big[k].latencyMs.p99,
      unit: 'ms',
      ratio: { to: 'empty table', value: ratio(big[k].latencyMs.p99, empty[k].latencyMs.p99) },
      pass: !grows(big[k].latencyMs.p99, empty[k].latencyMs.p99, 5),
    })),
    {
      section: name,
      what: `tracker RPC calls per tick with ${big.historyRows.toLocaleString('en-US')} withdrawals vs empty`,
      goal: 'does not grow',
      measured: big.tracker.medianCalls,
      unit: '',
      ratio: { to: 'empty table', value: ratio(big.tracker.medianCalls, empty.tracker.medianCalls) },
      pass: big.tracker.medianCalls !== null && empty.tracker.medianCalls !== null && big.tracker.medianCalls <= empty.tracker.medianCalls,
    },
    {
      section: name,
      what: `tracker tick duration with ${big.historyRows.toLocaleString('en-US')} withdrawals vs empty`,
      goal: 'does not grow (≤ 1.5× + 20 ms)',
      measured: big.tracker.medianMs,
      unit: 'ms',
      ratio: { to: 'empty table', value: ratio(big.tracker.medianMs, empty.tracker.medianMs) },
      pass: !grows(big.tracker.medianMs, empty.tracker.medianMs, 20),
    },
  ];
  const notes = [
    `SQLite. Both tables hold the same live work: ${LIVE.toLocaleString('en-US')} RECEIVED withdrawals (the GET targets; unsettled, so never served from the view cache) and ${IN_FLIGHT} BROADCAST ones on 4 lanes for the tracker; the big one adds ${big.historyRows.toLocaleString('en-US')} COMPLETED withdrawals with their tx_attempts over 8 wallets, 4 of them the tracker's lanes, whose in-flight nonces sit right above their settled ones (mined on chain: anvil_setNonce).`,
    `Tracker: ${p.ticks} ticks (after one warm-up tick) of the real tracker (createTracker) against a real anvil, RPC calls counted at the chain client.`,
  ];
  return { ok: true, figures, targets, raw: { probes }, notes };
}

async function probe(ctx: ScenarioContext, rpcUrl: string, historyRows: number): Promise<Probe> {
  const p = ctx.profile.history;
  const name = 'history';
  const label = historyRows === 0 ? 'empty' : `${historyRows.toLocaleString('en-US')} rows`;
  const { progress } = ctx;
  const database = await createBenchDatabase('sqlite', path.join(ctx.workDir, 'history'));
  try {
    let seedSeconds = 0;
    // The tracker's lanes are wallets with this history, their in-flight nonces right above it,
    // as on a wallet that has been paying for a while: a lane read that walked the wallet's
    // settled nonces would show here.
    const wallets = recipientPool(8);
    if (historyRows > 0) {
      progress.phase(name, `seeding ${historyRows.toLocaleString('en-US')} settled withdrawals`);
      const t0 = performance.now();
      seedSqliteHistory(database.url.slice('sqlite:'.length), {
        rows: historyRows,
        chainId: BENCH_CHAIN_ID,
        wallets,
        recipients: recipientPool(5_000),
        users: 10_000,
        onProgress: (done) => progress.update(`${done.toLocaleString('en-US')} rows, ${Math.round(done / ((performance.now() - t0) / 1000)).toLocaleString('en-US')}/s`),
      });
      seedSeconds = (performance.now() - t0) / 1000;
    }
    const db = openDatabase(database.url);
    let liveIds: string[];
    let tracker: Probe['tracker'];
    try {
      const recipients = recipientPool(100);
      const live = Array.from({ length: LIVE }, (_, n) => withdrawalRow({ keyPrefix: 'live', n, userId: `live-${n % 100}`, asset: 'ETH', chainId: BENCH_CHAIN_ID, toAddress: recipients[n % 100]!, amount: '10000000000000000', fee: '100000000000000' }));
      const lanes = wallets.slice(0, 4);
      // seedSqliteHistory gives wallet i the rows n ≡ i (mod 8), nonces 0, 1, … in order.
      const settledNonces = lanes.map((_, i) => (historyRows > i ? Math.ceil((historyRows - i) / wallets.length) : 0));
      const inFlight = Array.from({ length: IN_FLIGHT }, (_, n) =>
        withdrawalRow({ keyPrefix: 'inflight', n, userId: `live-${n}`, asset: 'ETH', chainId: BENCH_CHAIN_ID, toAddress: recipients[n]!, amount: '10000000000000000', fee: '100000000000000', status: 'BROADCAST', wallet: lanes[n % 4]!, nonce: settledNonces[n % 4]! + Math.floor(n / 4), txHash: `0x${(n + 1).toString(16).padStart(64, 'f')}` }),
      );
      // On chain, each lane has mined its history, so its in-flight txs are the pending ones.
      for (const [i, lane] of lanes.entries()) await jsonRpc(rpcUrl, 'anvil_setNonce', [lane, `0x${settledNonces[i]!.toString(16)}`]);
      // And the history is older than what a starting tracker watches for deep reorgs (the newest
      // settled rows of the last 128 blocks, settled-watch.ts): its blocks (1 + n/200, made-up
      // hashes) lie below the head, outside that window. Unmined, they sat above the head, and
      // the tracker asked for those blocks every tick, as it rightly would on a chain that fell behind.
      if (historyRows > 0) await mineUntil(rpcUrl, BigInt(2 + Math.floor(historyRows / 200) + 256));
      await insertWithdrawals(db, [...live, ...inFlight], { attempts: true });
      liveIds = live.map((r) => r.id);
      progress.phase(name, `${label}: ${p.ticks} tracker ticks`);
      tracker = await trackerCost(db, rpcUrl, p.ticks);
    } finally {
      await db.close();
    }

    const api = await startApiServer(database.url, ctx.workDir, `history-${historyRows}`);
    const stopRss = ctx.rss.track(historyRows === 0 ? 'api (sqlite)' : `api (sqlite, ${label} of history)`, name, api.child.pid);
    try {
      const run = (kind: 'post' | 'get') => {
        progress.phase(name, `${label}: ${kind === 'post' ? 'POST /v1/withdrawals' : 'GET /v1/withdrawals/{id}'} at ${p.probeRate}/s for ${p.probeSeconds}s`);
        return runLoad(
          {
            url: api.url,
            apiKey: BENCH_API_KEY,
            target: kind === 'post' ? { kind: 'create', workload: API_WORKLOAD(BENCH_CHAIN_ID, 'history-new', 100), keyPrefix: `history-${historyRows}`, recipients: 500 } : { kind: 'get', ids: liveIds },
            rate: p.probeRate,
            connections: 32,
            durationSeconds: p.probeSeconds,
          },
          { workDir: ctx.workDir, label: `history-${kind}`, onTick: (ok, all, s) => progress.update(`${Math.round(s)} s, ${ok} 2xx of ${all}`) },
        );
      };
      const post = await run('post');
      const get = await run('get');
      return { label, historyRows, seedSeconds: round(seedSeconds, 1), post, get, tracker };
    } finally {
      stopRss();
      await api.stop();
    }
  } finally {
    await database.drop();
  }
}

/** Mines empty blocks until the chain's head is at least `height`. */
async function mineUntil(rpcUrl: string, height: bigint): Promise<void> {
  const head = BigInt((await jsonRpc(rpcUrl, 'eth_blockNumber', [])) as string);
  if (head < height) await jsonRpc(rpcUrl, 'anvil_mine', [`0x${(height - head).toString(16)}`]);
}

/** Runs the real tracker's tick against the database, counting its RPC calls at the chain client. */
async function trackerCost(db: ReturnType<typeof openDatabase>, rpcUrl: string, ticks: number): Promise<Probe['tracker']> {
  const config = loadConfig({}, { logLevel: 'warn' });
  const shutdown = new AbortController();
  const logger = createLogger({ level: 'warn', name: 'bench-tracker' });
  const chain = createChainRpc(
    { chainId: BENCH_CHAIN_ID, name: 'bench', rpc: [{ url: rpcUrl, weight: 1 }], confirmations: 2, maxFeePerGas: parseGwei('500'), defaultPriorityFee: parseGwei('1'), maxPendingPerWallet: config.devnetMaxPendingPerWallet, policy: chainPolicy(config) },
    logger,
  );
  const counting = countingChain(chain);
  const queues = {
    requests: createMemoryQueue<RequestMessage>('tx-requests'),
    signed: createMemoryQueue<SignedMessage>('signed-tx'),
    invalidDlq: createMemoryQueue<DeadLetterMessage>('invalid-dlq'),
    txDlq: createMemoryQueue<DeadLetterMessage>('tx-dlq'),
  };
  const services = createServices({ common: { config, logger, metrics: createMetrics(), signal: shutdown.signal }, db, queues, chains: new Map([[BENCH_CHAIN_ID, counting.chain]]), keys: null, cache: createMemoryCache() });
  const tracker = createTracker({ ...services, requests: queues.requests, signed: queues.signed });
  const callsPerTick: number[] = [];
  const msPerTick: number[] = [];
  try {
    await tracker.tick(); // warm-up: first connections, the head, the registry caches
    for (let i = 0; i < ticks; i++) {
      counting.reset();
      const t0 = performance.now();
      await tracker.tick();
      msPerTick.push(round(performance.now() - t0, 2));
      callsPerTick.push(counting.calls());
    }
  } finally {
    shutdown.abort();
    chain.close();
  }
  return { ticks, callsPerTick, msPerTick, medianCalls: median(callsPerTick), medianMs: median(msPerTick) };
}
