import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Address, encodeFunctionData, erc20Abi, getAddress, type Hex, toHex } from 'viem';
import { type AnvilHandle, getFreePort, startAnvil } from '../../../src/chain/anvil.js';
import { type Db, openDatabase } from '../../../src/db/connect.js';
import { createTestDatabase, type TestDatabase } from '../database.js';
import { deriveRandom, type FaultRates, type FaultyRpc, startFaultyRpc } from '../faulty-rpc.js';
import { type SilentTcpProxy, startSilentTcpProxy } from '../silent-tcp-proxy.js';
import { buildSchedule, type Chaos, type ChaosLogEntry, createChaos, EVENT_KINDS } from './chaos.js';
import { checkGroundTruth, TERMINAL } from './ground-truth.js';
import { connectNode } from './node.js';
import { type ChaosKind, reproduceCommand, type SimOptions } from './options.js';
import { type ProductionSetup, setUpProduction } from './production-cluster.js';
import { createSluiceProcess, type SluiceUnderTest } from './sluice-process.js';
import { type AssetInfo, type AssetSymbol, createApiClient, fetchAssets, type PlannedWithdrawal, planWithdrawals } from './workload.js';

export const SIM_API_KEY = 'sk_sim_all_scopes_key_0123456789abcdefgh';
const KEYSTORE_PASSWORD = 'sim-keystore-password';

export type Progress = {
  phase: 'boot' | 'credit' | 'run' | 'settle' | 'check' | 'done';
  elapsedMs: number;
  planned: number;
  submitted: number;
  statuses: Record<string, number>;
  chaos: Record<string, number>;
  faults: number;
};

export type SimReport = {
  ok: boolean;
  seed: number;
  options: SimOptions;
  reproduce: string;
  violations: string[];
  notes: string[];
  statusCounts: Record<string, number>;
  expected: { completed: number; rejected: number };
  /** Chaos events run (and skipped) per kind. */
  chaos: Record<string, number>;
  chaosSkipped: Record<string, number>;
  chaosLog: ChaosLogEntry[];
  /** RPC faults the proxies injected, by kind; lost broadcasts; calls by method. */
  faults: Record<string, number>;
  rpcMethods: Record<string, number>;
  chainStats?: Awaited<ReturnType<typeof checkGroundTruth>>['chain'];
  sluiceStarts: number;
  durationMs: number;
  timings: { submitMs: number; settleMs: number };
  runDir?: string;
};

export type SimIo = {
  log?: (line: string) => void;
  progress?: (p: Progress) => void;
  /** Aborting ends the run early (cleanly: child killed, anvil stopped). */
  signal?: AbortSignal;
};

function faultRates(kinds: readonly ChaosKind[], o: SimOptions): FaultRates {
  const on = (k: ChaosKind) => kinds.includes(k);
  return {
    failBefore: on('rpc-error') ? 0.04 : 0,
    failAfter: on('lost-response') ? 0.04 : 0,
    timeout: on('timeout') ? 0.01 : 0,
    timeoutMs: o.rpcTimeoutMs + 500,
    delay: on('latency') ? 0.15 : 0,
    delayMs: [50, 400],
    loseFirstBroadcasts: on('lost-response') ? 3 : 0,
  };
}

/**
 * One seeded simulation run: anvil, fault proxies in front of it, `sluice dev` as a child process,
 * the workload through the API, chaos, then the ground-truth check. Never throws for a failed
 * check (see `violations`); throws only if the harness itself cannot run.
 */
export async function runSimulation(options: SimOptions, io: SimIo = {}): Promise<SimReport> {
  const log = io.log ?? (() => {});
  const t0 = Date.now();
  const { seed } = options;
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-sim-${seed}-`));
  const dataDir = path.join(runDir, 'data');
  let anvil: AnvilHandle | undefined;
  let database: TestDatabase | undefined;
  let dbProxy: SilentTcpProxy | undefined;
  let db: Db | undefined;
  const proxies: FaultyRpc[] = [];
  let sluice: SluiceUnderTest | undefined;
  let production: ProductionSetup | undefined;
  let chaos: Chaos | undefined;
  let stopping = false;
  let phase: Progress['phase'] = 'boot';
  let faultsOn = false;
  let progressTimer: NodeJS.Timeout | undefined;
  const violations: string[] = [];
  const notes: string[] = [];
  const plan: PlannedWithdrawal[] = [];
  let statuses: Record<string, number> = {};
  let submitted = 0;
  let ok = false;
  let submitMs = 0;
  let settleMs = 0;
  let chainStats: SimReport['chainStats'];
  const aborted = () => stopping || io.signal?.aborted === true;
  let api = createApiClient(() => sluice!.url, SIM_API_KEY, aborted);
  let chainId = 0;

  const report = (): SimReport => {
    const faults: Record<string, number> = {};
    const rpcMethods: Record<string, number> = {};
    for (const p of proxies) {
      for (const [k, v] of Object.entries(p.counts)) faults[k] = (faults[k] ?? 0) + v;
      faults.lostBroadcasts = (faults.lostBroadcasts ?? 0) + p.lostBroadcasts;
      for (const [k, v] of Object.entries(p.methods)) rpcMethods[k] = (rpcMethods[k] ?? 0) + v;
    }
    return {
      ok,
      seed,
      options,
      reproduce: reproduceCommand(options),
      violations,
      notes,
      statusCounts: statuses,
      expected: { completed: plan.filter((p) => p.covered).length, rejected: plan.filter((p) => !p.covered).length },
      chaos: { ...chaos?.counts },
      chaosSkipped: { ...chaos?.skipped },
      chaosLog: chaos?.journal ?? [],
      faults,
      rpcMethods,
      ...(chainStats ? { chainStats } : {}),
      sluiceStarts: sluice?.starts ?? 0,
      durationMs: Date.now() - t0,
      timings: { submitMs, settleMs },
      ...((ok || options.selfTest) && !options.keep ? {} : { runDir }),
    };
  };

  async function readStatuses(): Promise<Record<string, number>> {
    const rows = await db!.kysely.selectFrom('withdrawals').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }

  function emitProgress() {
    const faults = proxies.reduce((s, p) => s + p.counts.failBefore + p.counts.failAfter + p.counts.timeout + p.counts.delay, 0);
    io.progress?.({ phase, elapsedMs: Date.now() - t0, planned: plan.length, submitted, statuses, chaos: { ...chaos?.counts }, faults });
  }

  const onAbort = () => {
    stopping = true;
  };
  io.signal?.addEventListener('abort', onAbort);

  try {
    // ---- infrastructure ----
    anvil = await startAnvil({ blockTime: options.blockTime, silent: true });
    log(`anvil ${anvil.rpcUrl} (block time ${options.blockTime}s); run dir ${runDir}`);
    if (options.db === 'mysql') {
      database = await createTestDatabase('mysql');
    }
    const dbUrl = database?.url ?? `sqlite:${path.join(dataDir, 'sluice.db')}`;
    const rates = faultRates(options.chaos, options);
    for (let i = 0; i < options.endpoints; i++) proxies.push(await startFaultyRpc(anvil.rpcUrl, deriveRandom(seed, `proxy-${i}`), rates));
    const port = await getFreePort();
    const on = (k: ChaosKind) => options.chaos.includes(k);
    // Sluice reaches MariaDB through a proxy db-silence can silence; the ground truth reads it directly.
    if (database && on('db-silence')) dbProxy = await startSilentTcpProxy(Number(new URL(database.url).port || 3306));
    // What the run sets the same way whatever runs Sluice: short timings, the faults' knobs.
    const runEnv: Record<string, string> = {
      // Silences of 1–8 s: some outlast it, so statements time out and connections are replaced.
      ...(dbProxy ? { SLUICE_DB_QUERY_TIMEOUT_MS: '3000' } : {}),
      SLUICE_RECONCILE_AFTER_SECONDS: '2',
      SLUICE_RECONCILE_INTERVAL_MS: '300',
      SLUICE_TRACKER_INTERVAL_MS: '200',
      SLUICE_REBROADCAST_AFTER_SECONDS: '3',
      SLUICE_FEE_BUMP_AFTER_SECONDS: '6',
      SLUICE_MAX_FEE_PER_GAS_GWEI: String(options.maxFeeGwei),
      SLUICE_RPC_TIMEOUT_MS: String(options.rpcTimeoutMs),
    };
    const sluiceDbUrl = dbProxy ? dbProxy.via(dbUrl) : dbUrl;
    // Dev bootstrapping (funding, token deploy) is plumbing, not the pipeline: boot without faults.
    const onBooting = () => proxies.forEach((p) => (p.enabled = false));
    const onReady = () => proxies.forEach((p) => (p.enabled = faultsOn));
    const keepAlive = () => !aborted();
    if (options.topology === 'production') {
      if (on('duplicate-delivery')) notes.push('duplicate-delivery is a dev-mode knob (in-memory queues): in the production topology SQS redelivers by itself, after every kill');
      // SQS is moto here, and moto scans every message of a queue for each one sent (its queue
      // attributes): rows that wait (a fee spike over the cap) re-sent every 2 s by each tracker
      // piled up duplicates until moto stopped answering. The production defaults keep it answering.
      const env = { ...runEnv, SLUICE_RECONCILE_AFTER_SECONDS: '30', SLUICE_RECONCILE_INTERVAL_MS: '5000' };
      production = await setUpProduction({ options, rpcUrl: anvil.rpcUrl, rpcUrls: proxies.map((p) => p.url), dbUrl: sluiceDbUrl, env, runDir, log, keepAlive, onBooting, onReady });
      sluice = production.cluster;
      api = createApiClient(() => sluice!.url, production.apiKey, aborted);
    } else {
      const env: Record<string, string> = {
        ...runEnv,
        SLUICE_DATA_DIR: dataDir,
        SLUICE_DB_URL: sluiceDbUrl,
        SLUICE_PORT: String(port),
        SLUICE_DEVNET_RPC_URL: proxies.map((p) => p.url).join(','),
        SLUICE_DEV_API_KEY: SIM_API_KEY,
        SLUICE_KEYSTORE_PASSWORD: KEYSTORE_PASSWORD,
        SLUICE_DEV_ADMIN_PASSWORD: 'sim-admin-password',
        SLUICE_ANVIL_BLOCK_TIME: String(Math.max(1, Math.ceil(options.blockTime))),
        SLUICE_DEVNET_CONFIRMATIONS: String(options.confirmations),
        SLUICE_DEV_HOT_WALLETS: String(options.wallets),
        SLUICE_TEST_DUPLICATE_DELIVERY_RATE: on('duplicate-delivery') ? '0.1' : '0',
        SLUICE_LOG_LEVEL: 'warn',
      };
      fs.mkdirSync(dataDir, { recursive: true });
      fs.writeFileSync(path.join(runDir, 'env.json'), JSON.stringify({ ...env, reproduce: reproduceCommand(options) }, null, 2));
      sluice = createSluiceProcess({ env, port, logFile: path.join(runDir, 'sluice.log'), onBooting, onReady, keepAlive });
    }
    progressTimer = setInterval(() => {
      if (db && !aborted()) {
        readStatuses()
          .then((s) => (statuses = s))
          .catch(() => undefined);
      }
      emitProgress();
    }, 1000);
    await sluice.start();
    db = openDatabase(dbUrl, { poolSize: 3 });
    const node = connectNode(anvil.rpcUrl);
    const assets: Record<AssetSymbol, AssetInfo> = await fetchAssets(api);
    chainId = assets.ETH.chainId;
    const readyHead = await node.head();
    const wallets = await db.kysely.selectFrom('wallets').select('address').where('chain_id', '=', chainId).execute();
    log(`sluice (${options.topology}) ready at ${sluice.url}: chain ${chainId}, ${wallets.length} hot wallet(s) ${wallets.map((w) => w.address).join(', ')}, USDT ${assets.USDT.contract}`);
    if (wallets.length !== options.wallets) notes.push(`asked for ${options.wallets} hot wallet(s) (SLUICE_DEV_HOT_WALLETS), Sluice made ${wallets.length}`);

    // ---- workload: plan, credit ----
    plan.push(
      ...planWithdrawals({
        seed,
        count: options.withdrawals,
        random: deriveRandom(seed, 'workload'),
        assets,
        uncoveredShare: options.uncoveredShare,
        duplicateShare: options.duplicateSubmitShare,
      }),
    );
    phase = 'credit';
    await inBatches(plan, 8, async (p) => {
      const res = await api.request('POST', '/v1/ledger/credits', { userId: p.userId, asset: p.asset, amount: p.creditText, reference: p.creditReference });
      if (res.status !== 201 && res.status !== 200) violations.push(`credit for ${p.userId} answered ${res.status}: ${JSON.stringify(res.body)}`);
    });

    // ---- chaos + submissions ----
    const chaosRandom = deriveRandom(seed, 'chaos');
    const sinkBytes = new Uint8Array(20);
    for (let i = 0; i < 20; i++) sinkBytes[i] = Math.floor(chaosRandom() * 256);
    const sink = getAddress(toHex(sinkBytes) as Hex);
    const submitWindowMs = (options.withdrawals / options.rate) * 1000;
    const windowMs = submitWindowMs + options.chaosTailSeconds * 1000;
    const schedule = buildSchedule(options.chaos, { submitMs: submitWindowMs, totalMs: windowMs }, chaosRandom, options.chaosIntensity);
    let walletCache: { at: number; list: Address[] } | undefined;
    chaos = createChaos(
      {
        options,
        node,
        sluice,
        readyHead,
        sink,
        log,
        ...(dbProxy ? { dbProxy } : {}),
        chainId,
        admin: (path, body) => api.request('POST', path, body),
        async waitingOnPause() {
          const row = await db!.kysely.selectFrom('withdrawals').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', 'RECEIVED').where('failure_code', '=', 'paused').executeTakeFirstOrThrow();
          return Number(row.n);
        },
        async completedAmong(hashes) {
          const rows = await db!.kysely.selectFrom('withdrawals').select('tx_hash').where('status', '=', 'COMPLETED').where('tx_hash', 'is not', null).execute();
          const wanted = new Set(hashes.map((h) => h.toLowerCase()));
          return rows.filter((r) => wanted.has(r.tx_hash!.toLowerCase())).length;
        },
        async hotWallets() {
          if (!walletCache || Date.now() - walletCache.at > 3000) {
            const rows = await db!.kysely.selectFrom('wallets').select('address').where('chain_id', '=', chainId).execute();
            walletCache = { at: Date.now(), list: rows.map((r) => r.address as Address) };
          }
          return walletCache.list;
        },
      },
      schedule,
    );
    const scheduled = EVENT_KINDS.map((k) => [k, schedule.filter((e) => e.kind === k).length] as const).filter(([, n]) => n > 0);
    log(`chaos on: ${options.chaos.join(', ') || 'none'}; ${schedule.length} scheduled event(s) over ${(windowMs / 1000).toFixed(0)} s: ${scheduled.map(([k, n]) => `${k}×${n}`).join(' ') || '-'}`);

    phase = 'run';
    faultsOn = options.chaos.some((k) => ['rpc-error', 'lost-response', 'timeout', 'latency'].includes(k));
    if (sluice.up) proxies.forEach((p) => (p.enabled = faultsOn));
    const chaosDone = chaos.start();
    const submitStart = Date.now();
    const inFlight = new Set<Promise<void>>();
    for (const p of plan) {
      if (aborted()) break;
      const due = submitStart + (p.index / options.rate) * 1000;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      while (inFlight.size >= 16) await Promise.race(inFlight);
      const task = submit(p).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
    await Promise.all(inFlight);
    submitMs = Date.now() - submitStart;
    log(`submitted ${submitted}/${plan.length} in ${(submitMs / 1000).toFixed(1)} s`);
    await Promise.race([chaosDone.then(() => chaos!.drain()), until(() => aborted())]);
    await chaos.stop();
    if (aborted()) throw new Error('run aborted (SIGINT) before the checks');
    log('chaos over; waiting for every withdrawal to be terminal');

    // ---- settle ----
    phase = 'settle';
    const settleStart = Date.now();
    const accepted = plan.filter((p) => p.id).length;
    while (!aborted() && Date.now() - settleStart < options.settleSeconds * 1000) {
      statuses = await readStatuses().catch(() => statuses);
      const terminal = TERMINAL.reduce((s, k) => s + (statuses[k] ?? 0), 0);
      if (terminal >= accepted) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    // Quiescence: nothing left pending in any hot wallet (a late cancel, a rebroadcast) — bounded.
    const quietUntil = Date.now() + 15_000 + options.confirmations * options.blockTime * 1000;
    const hotWallets = (await db.kysely.selectFrom('wallets').select('address').where('chain_id', '=', chainId).execute()).map((r) => r.address as Address);
    while (!aborted() && Date.now() < quietUntil) {
      const nonces = await Promise.all(hotWallets.map(async (w) => [await node.nonce(w, 'latest'), await node.nonce(w, 'pending')] as const));
      if (nonces.every(([l, p]) => l === p)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    settleMs = Date.now() - settleStart;
    faultsOn = false;
    proxies.forEach((p) => (p.enabled = false));
    await new Promise((r) => setTimeout(r, 1000)); // let in-flight settles land
    phase = 'check';
    await sluice.stop('SIGTERM');
    violations.push(...sluice.unexpectedExits.map((e) => `unexpected exit: ${e}`));
    violations.push(...chaos.errors.map((e) => `chaos harness error (not a Sluice verdict): ${e}`));
    if (aborted()) throw new Error('run aborted (SIGINT) before the checks');

    if (options.selfTest) log(await injectDoublePayment(db, node, plan, assets));

    // ---- ground truth ----
    statuses = await readStatuses();
    const truth = await checkGroundTruth({ plan, db: db.kysely, node, assets, foreign: chaos.foreign, reorgs: chaos.reorgs, confirmations: options.confirmations });
    violations.push(...truth.violations);
    notes.push(...truth.notes);
    chainStats = truth.chain;
    statuses = truth.statusCounts;
    ok = violations.length === 0;
    phase = 'done';
    return report();
  } catch (err) {
    if (aborted()) {
      violations.push(`aborted: ${(err as Error).message}`);
    } else {
      violations.push(`harness error: ${(err as Error).stack ?? String(err)}`);
      if (sluice) violations.push(`sluice output tail:\n${sluice.tail(30)}`);
    }
    ok = false;
    return report();
  } finally {
    stopping = true;
    io.signal?.removeEventListener('abort', onAbort);
    if (progressTimer) clearInterval(progressTimer);
    emitProgress();
    await chaos?.stop().catch(() => undefined);
    await sluice?.stop('SIGKILL').catch(() => undefined);
    sluice?.close();
    await production?.close().catch(() => undefined);
    await db?.close().catch(() => undefined);
    await Promise.all(proxies.map((p) => p.close()));
    await dbProxy?.close();
    await anvil?.stop().catch(() => undefined);
    // A self-test is meant to fail: nothing of it is worth keeping.
    if ((ok || options.selfTest) && !options.keep) {
      await database?.drop().catch(() => undefined);
      fs.rmSync(runDir, { recursive: true, force: true });
    } else if (database) {
      fs.writeFileSync(path.join(runDir, 'database.txt'), `MariaDB database kept for inspection: ${database.url}\n`);
    }
  }

  async function submit(p: PlannedWithdrawal): Promise<void> {
    const body = { userId: p.userId, asset: p.asset, chainId, toAddress: p.toSent, amount: p.amountText };
    const headers = { 'idempotency-key': p.idempotencyKey };
    const send = () => api.request('POST', '/v1/withdrawals', body, headers);
    try {
      const first = p.duplicate === 'concurrent' ? await Promise.all([send(), send()]) : [await send()];
      if (p.duplicate === 'sequential') first.push(await send());
      const ids = new Set<string>();
      for (const res of first) {
        if (res.status !== 202) {
          violations.push(`POST /v1/withdrawals for #${p.index} (${p.idempotencyKey}) answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
          return;
        }
        ids.add(res.body.id);
      }
      if (ids.size !== 1) violations.push(`same Idempotency-Key ${p.idempotencyKey} gave different withdrawals: ${[...ids].join(', ')} (invariant 4)`);
      if (p.duplicate === 'sequential' && first[1]!.headers.get('idempotent-replayed') !== 'true') {
        violations.push(`replay of ${p.idempotencyKey} lacks Idempotent-Replayed: true`);
      }
      p.id = [...ids][0];
      p.submittedAt = Date.now();
      submitted += 1;
    } catch (err) {
      if (!aborted()) violations.push(`submission #${p.index} failed: ${(err as Error).message}`);
    }
  }

}

/** --self-test: a second payout of one COMPLETED withdrawal, sent from its hot wallet behind Sluice's back. */
async function injectDoublePayment(db: Db, node: ReturnType<typeof connectNode>, plan: PlannedWithdrawal[], assets: Record<AssetSymbol, AssetInfo>): Promise<string> {
  for (const p of plan) {
    if (!p.id) continue;
    const w = await db.kysely.selectFrom('withdrawals').selectAll().where('id', '=', p.id).executeTakeFirst();
    if (w?.status !== 'COMPLETED' || !w.wallet) continue;
    const tx =
      p.asset === 'ETH'
        ? { to: p.to, value: `0x${p.amount.toString(16)}`, gas: '0x5208' }
        : { to: assets.USDT.contract!, value: '0x0', gas: '0x186a0', data: encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [p.to, p.amount] }) };
    await node.call('anvil_impersonateAccount', [w.wallet]);
    const hash = await node.call<Hex>('eth_sendTransaction', [{ from: w.wallet, ...tx }]);
    await node.call('anvil_stopImpersonatingAccount', [w.wallet]);
    await node.client.waitForTransactionReceipt({ hash, pollingInterval: 200 });
    return `self-test: paid withdrawal ${p.id} (${p.asset} ${p.amountText} → ${p.to}) a second time in ${hash}; the checks below must flag it`;
  }
  return 'self-test: no COMPLETED withdrawal to pay twice';
}

async function inBatches<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function until(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (check()) {
        clearInterval(t);
        resolve();
      }
    }, 200);
  });
}
