import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Address, parseEther } from 'viem';
import { startAnvil } from '../../src/chain/anvil.js';
import { setDevBalance } from '../../src/chain/devnet.js';
import { openDatabase } from '../../src/db/connect.js';
import { isTransientLockError } from '../../src/db/errors.js';
import { createLedger } from '../../src/ledger/ledger.js';
import { ROOT, spawnBenchChild } from '../lib/child.js';
import { coresBoundPerSecond, readThreadCpu, type ThreadCpu, threadBusy } from '../lib/cpu.js';
import { dbBatchWindow, describeDbBatches, parseDbBatches } from '../lib/db-batches.js';
import { createBenchDatabase, databaseServerPid, MYSQL_SERVER_URL } from '../lib/database.js';
import { type DbServerCpu, dbServerCpuBetween, readDbServerCpu } from '../lib/db-server-cpu.js';
import { type ScenarioContext, type SectionResult, type Target, figure, ratio } from '../lib/result.js';
import { insertWithdrawals, withdrawalRow } from '../lib/rows.js';
import { round } from '../lib/stats.js';
import { BENCH_KEYSTORE_PASSWORD, startSluiceDev } from '../lib/sluice-dev.js';
import { recipientPool } from '../lib/workload.js';

export type SignerRunSettings = {
  store: 'keystore' | 'kms';
  dataDir: string;
  dbUrl: string;
  keystorePassword: string;
  kmsUrl: string;
  capSeconds: number;
  ceilingSeconds: number;
  /** Only withdrawals whose idempotency key starts with this are this run's backlog. */
  keyPrefix: string;
  /** Those whose key starts with this are the warm-up, signed before the backlog is queued. */
  warmupPrefix: string;
};

type SignerDb = 'sqlite' | 'mysql';
const DB_NAME: Record<SignerDb, string> = { sqlite: 'SQLite', mysql: 'MariaDB' };

type SignerResult = {
  store: string;
  /** Added by the harness: the database it ran on, and the run's label (store, database). */
  db?: SignerDb;
  label?: string;
  /**
   * Added by the harness on MariaDB: the database server's CPU time per withdrawal over the backlog
   * (it shares the cores), and where it can be split by connection (db-server-cpu.ts), the signer's
   * connections' share and the harness's (its settling, in place of the chain).
   */
  dbServerMicrosPerSigned?: number | null;
  dbServerSplit?: { signer: number; harness: number; rest: number } | null;
  backlog: number;
  signed: number;
  rejected: number;
  statuses: Record<string, number>;
  /** From queuing the backlog (the signer warm) until it was done, or the cap. */
  seconds: number;
  signedPerSecond: number;
  /** CPU time (all threads of the signer process) per withdrawal signed, until the backlog was done. */
  cpuMicrosPerSigned: number | null;
  /** The signer's own count of signatures made ahead of their nonce's reservation: stored, or dropped and signed again after commit. */
  signedAhead: { stored: number; dropped: number };
  /** The signer's sluice_db_batch_seconds and item counts (Prometheus text) when the backlog was queued and when it was done. */
  dbBatches: { atStart: string; atEnd: string };
  /** The warm-up from the signer's start: keys decrypted, write worker started, code not yet optimized. */
  coldStart: { withdrawals: number; done: number; seconds: number; cpuMicrosEach: number | null };
  drainedOnStop: boolean;
  attemptsStored: number;
  firstFailure: { failure_code: string | null; failure_reason: string | null } | null;
  ceiling: { rawSignPerSecond: number; txSignPerSecond: number; nativeAddon: string; nativeSignPerSecond: number | null };
  /** Added by the harness: how busy the signer's main thread and its busiest other thread were while it worked the backlog. */
  threads?: ReturnType<typeof threadBusy>;
};
type SignerMessage = { type: 'progress'; phase: 'warmup' | 'backlog'; signed: number; rejected: number; total: number; seconds: number } | { type: 'result'; result: SignerResult };

const MOTO_URL = 'http://127.0.0.1:5000';
const USERS = 500;
const GOAL = 5_000;
/** Per-wallet in-flight limit in this scenario: far above what the bench chain leaves in flight. */
const MAX_PENDING = 1_000;
/** How often the bench chain settles what the signer signed. */
const SETTLE_EVERY_MS = 100;

/**
 * Signer throughput: a backlog of RECEIVED withdrawals (covered by ledger credits) signed and
 * stored per second by the signer in its own process, next to raw secp256k1 signatures per second
 * in that same process: with keystore keys on SQLite (the signer of `sluice dev`, on its one
 * writer) and on MariaDB (`sluice signer`, which runs on MySQL only), and with KMS keys (moto_server)
 * on MariaDB, where a KMS signer is deployed.
 */
export async function runSignerScenario(ctx: ScenarioContext): Promise<Omit<SectionResult, 'name' | 'seconds'>> {
  const p = ctx.profile.signer;
  const notes: string[] = [];
  const keystore = { backlog: p.backlog, warmup: p.warmup };
  const runs = [
    ...(await withSignerSetup(ctx, 'sqlite', async (setup) => [await runOne(ctx, setup, 'keystore', keystore, p.capSeconds)])),
    ...(await withSignerSetup(ctx, 'mysql', async (setup) => [
      await runOne(ctx, setup, 'keystore', keystore, p.capSeconds),
      await runOne(ctx, setup, 'kms', { backlog: p.kmsBacklog, warmup: p.kmsWarmup }, p.kmsCapSeconds),
    ])),
  ];
  const figures = runs.flatMap((r) => [
    figure(`signed and stored per second, ${r.label}`, round(r.signedPerSecond), '/s', ceilingOf(r)),
    ...(r.ceiling.nativeSignPerSecond ? [figure(`signed and stored per second, ${r.label}`, round(r.signedPerSecond), '/s', { what: 'raw secp256k1 signatures/s (viem/noble JS, same process)', value: round(r.ceiling.rawSignPerSecond) })] : []),
    ...(r.cpuMicrosPerSigned !== null
      ? [figure(`CPU time per withdrawal signed and stored, ${r.label}`, round(r.cpuMicrosPerSigned), 'µs', undefined, `all threads of the signer process (main${r.db === 'sqlite' ? ' + SQLite write worker' : ''}); ${os.cpus().length} cores at this cost bound the rate at ${perSecond(coresBoundPerSecond(os.cpus().length, r.cpuMicrosPerSigned))}`)]
      : []),
    ...(r.dbServerMicrosPerSigned != null
      ? [
          figure(
            `MariaDB server CPU time per withdrawal signed and stored, ${r.label}`,
            round(r.dbServerMicrosPerSigned),
            'µs',
            undefined,
            `mariadbd, on the same ${os.cpus().length} cores; with the signer's own, ${os.cpus().length} cores bound the rate at ${perSecond(coresBoundPerSecond(os.cpus().length, (r.cpuMicrosPerSigned ?? 0) + r.dbServerMicrosPerSigned))}${dbServerSplitNote(r)}`,
          ),
        ]
      : []),
    ...(r.threads
      ? [figure(`main thread busy while working the backlog, ${r.label}`, round(r.threads.main * 100), '%', undefined, `busiest other thread${r.db === 'sqlite' ? ' (the SQLite write worker)' : ''} ${round(r.threads.busiestOther * 100)}%; the machine's cores ${r.threads.machine === null ? '—' : `${round(r.threads.machine * 100)}%`} busy (every process); share of the window each ran, from /proc: a thread near 100% bounds the rate, else a machine near 100% does`)]
      : []),
    ...(['reserve', 'store'] as const).map((batch) => {
      const w = dbBatchWindow(parseDbBatches(r.dbBatches.atStart), parseDbBatches(r.dbBatches.atEnd), batch);
      return figure(
        `${batch === 'reserve' ? 'nonce reservation' : 'signature store'} transaction P99 while working the backlog, ${r.label}`,
        w?.p99AtMostMs ?? null,
        'ms',
        undefined,
        `${describeDbBatches(w)} (sluice_db_batch_seconds{batch="${batch}"}, bucket bounds; lock waits and the ${r.db === 'sqlite' ? "write worker's queue" : "pool's wait"} included)`,
      );
    }),
    figure(`signed ahead of the nonce reservation and stored, ${r.label}`, r.signedAhead.stored, '', { what: 'withdrawals signed', value: r.signed }, `${r.signedAhead.dropped} made ahead were dropped (another nonce, or the withdrawal not taken) and signed again after commit; the rest were signed after their nonce was reserved (no guess: a lane's first batch after a start, or the one after a missed guess)`),
    figure(`backlog done, ${r.label}`, r.signed + r.rejected, '', { what: 'backlog size', value: r.backlog }, `${r.signed} signed, ${r.rejected} rejected in ${round(r.seconds)} s${r.signed + r.rejected < r.backlog ? ' (time cap reached)' : ''}`),
    figure(
      `cold start: the first withdrawals signed after the signer started, ${r.label}`,
      round(r.coldStart.done / Math.max(r.coldStart.seconds, 0.001)),
      '/s',
      undefined,
      `${r.coldStart.done} of ${r.coldStart.withdrawals} in ${round(r.coldStart.seconds)} s${r.coldStart.cpuMicrosEach === null ? '' : `, ${round(r.coldStart.cpuMicrosEach)} µs CPU each`}: keys decrypted, ${r.db === 'sqlite' ? 'write worker started, ' : ''}code not yet optimized; the backlog above was queued after this warm-up`,
    ),
    figure(`full tx sign (viem signTransaction), ${r.label} run`, round(r.ceiling.txSignPerSecond), '/s', undefined, `the signer's secp256k1: ${r.ceiling.nativeAddon}${r.ceiling.nativeSignPerSecond ? ` (${Math.round(r.ceiling.nativeSignPerSecond)} signatures/s)` : ''}`),
  ]);
  const targets: Target[] = runs
    .filter((r) => r.store === 'keystore')
    .map((r) => ({
      section: 'signer',
      what: `withdrawals signed and stored per second, ${r.label}`,
      goal: `≥ ${GOAL.toLocaleString('en-US')}/s`,
      measured: round(r.signedPerSecond),
      unit: '/s',
      ratio: { to: ceilingOf(r).what, value: ratio(r.signedPerSecond, ceilingOf(r).value) },
      pass: r.signedPerSecond >= GOAL,
      note: signerTargetNote(r),
    }));
  for (const r of runs) {
    if (!r.drainedOnStop) notes.push(`${r.label}: the signer workers did not stop within 40 s of the abort signal.`);
    if (r.rejected > 0 || r.firstFailure) notes.push(`${r.label}: ${r.rejected} rejected; first failure code ${r.firstFailure?.failure_code ?? '—'}: ${r.firstFailure?.failure_reason ?? ''}`);
  }
  notes.push(
    `Backlogs: ${p.backlog.toLocaleString('en-US')} (keystore, on SQLite and again on MariaDB), ${p.kmsBacklog.toLocaleString('en-US')} (KMS on moto_server, on MariaDB; smaller: every signature is an HTTP call to the emulator) ETH withdrawals over ${USERS} users with ledger credits, ${p.wallets} keystore / ${p.kmsWallets} KMS hot wallets funded on anvil; measured until all are signed or the cap (${p.capSeconds} s / ${p.kmsCapSeconds} s).`,
    `Each signer first works a warm-up of ${p.warmup.toLocaleString('en-US')} (keystore) / ${p.kmsWarmup.toLocaleString('en-US')} (KMS) withdrawals from its start, timed apart as the cold start: a signer in service has decrypted its keys and V8 has optimized its hot paths long before a backlog arrives. The backlog is queued once the warm-up is signed; its rate, CPU and thread figures cover the backlog alone.`,
    `The signer runs alone in its own process (compiled dist/, in-process queues). On SQLite that is the signer of \`sluice dev\` taken apart (no \`sluice signer\` runs on SQLite: the production roles need MySQL), so its memory is shown, not judged against the per-role budget; on MariaDB it is \`sluice signer\` as deployed, and MariaDB shares the machine's cores (its CPU per withdrawal is shown). In its place, the harness plays the chain from its own connection: every ${SETTLE_EVERY_MS} ms it marks what was signed COMPLETED, so each wallet keeps a realistic handful of txs in flight (as blocks would); the per-wallet in-flight limit is ${MAX_PENDING.toLocaleString('en-US')}, so that chain, not the limit, paces the lanes. Signed = rows with a stored signature at the end.`,
  );
  return { ok: true, figures, targets, raw: { runs }, notes };
}

/** The fastest raw secp256k1 signing this process can do: the native code the signer uses, else noble. */
function ceilingOf(r: SignerResult): { what: string; value: number } {
  return r.ceiling.nativeSignPerSecond
    ? { what: `raw secp256k1 signatures/s (${r.ceiling.nativeAddon}, same process)`, value: round(r.ceiling.nativeSignPerSecond) }
    : { what: 'raw secp256k1 signatures/s (viem/noble, same process)', value: round(r.ceiling.rawSignPerSecond) };
}

type Setup = { db: SignerDb; rpcUrl: string; dataDir: string; dbUrl: string; chainId: number };

/** One anvil and one database set up by a real `sluice dev` boot (chain, assets, hot wallets), credits seeded. */
async function withSignerSetup<T>(ctx: ScenarioContext, kind: SignerDb, fn: (setup: Setup) => Promise<T>): Promise<T> {
  const p = ctx.profile.signer;
  const dataDir = path.join(ctx.workDir, `signer-${kind}`);
  ctx.progress.phase('signer', `${DB_NAME[kind]}: anvil + sluice dev once to set up the chain, assets and ${p.wallets} hot wallets`);
  const anvil = await startAnvil({ blockTime: 1, silent: true });
  const database = await createBenchDatabase(kind, dataDir);
  try {
    // Nothing sends or mines in this scenario, so the per-wallet in-flight cap (back-pressure from an
    // unmined pool) is lifted: it measures signing, not the chain.
    const dev = await startSluiceDev({ dataDir, dbUrl: database.url, rpcUrl: anvil.rpcUrl, hotWallets: p.wallets, logFile: path.join(ctx.workDir, 'signer-dev.log'), env: { SLUICE_DEVNET_MAX_PENDING_PER_WALLET: String(MAX_PENDING) } });
    await dev.stop();
    const db = openDatabase(database.url);
    let chainId: number;
    try {
      chainId = Number((await db.kysely.selectFrom('chains').select('chain_id').executeTakeFirstOrThrow()).chain_id);
      // The signer stage alone: the harness settles signed rows in place of blocks (runOne).
      await db.kysely.updateTable('chains').set({ max_pending_per_wallet: MAX_PENDING }).execute();
      const ledger = createLedger(db);
      for (let u = 0; u < USERS; u++) await ledger.credit({ userId: `signer-user-${u}`, asset: 'ETH', amount: parseEther('1000'), reference: `bench-signer-${u}` });
    } finally {
      await db.close();
    }
    return await fn({ db: kind, rpcUrl: anvil.rpcUrl, dataDir, dbUrl: database.url, chainId });
  } finally {
    await anvil.stop();
    await database.drop();
  }
}

async function runOne(ctx: ScenarioContext, setup: Setup, store: 'keystore' | 'kms', sizes: { backlog: number; warmup: number }, capSeconds: number): Promise<SignerResult> {
  const name = 'signer';
  const { progress } = ctx;
  const p = ctx.profile.signer;
  const label = `${store}, ${DB_NAME[setup.db]}`;
  const keyPrefix = `signer-${store}`;
  const warmupPrefix = `warmup-${keyPrefix}`;
  const db = openDatabase(setup.dbUrl);
  try {
    if (store === 'kms') {
      progress.phase(name, `${label}: ${p.kmsWallets} KMS keys on moto_server via sluice wallet create; the keystore wallets are disabled`);
      await db.kysely.updateTable('wallets').set({ enabled: 0 }).execute();
      // What the keystore run left unsigned (time cap) is not this run's backlog.
      await db.kysely.updateTable('withdrawals').set({ status: 'CANCELLED', failure_code: 'bench_leftover', failure_reason: 'left unsigned by the keystore run' }).where('status', '=', 'RECEIVED').execute();
      const created = await Promise.all(Array.from({ length: p.kmsWallets }, () => createKmsWallet(setup.chainId)));
      for (const wallet of created) {
        await setDevBalance(setup.rpcUrl, wallet.address, parseEther('10000'));
        await db.kysely.insertInto('wallets').values({ chain_id: setup.chainId, address: wallet.address, key_ref: wallet.keyRef, next_nonce: 0, enabled: 1, created_at: Date.now() }).execute();
      }
    }
    // The warm-up first: the signer works it first, and the ids grow with time.
    progress.phase(name, `${label}: seeding ${sizes.warmup.toLocaleString('en-US')} + ${sizes.backlog.toLocaleString('en-US')} RECEIVED withdrawals (warm-up + backlog)`);
    const recipients = recipientPool(1_000);
    const total = sizes.warmup + sizes.backlog;
    for (let start = 0; start < total; start += 5_000) {
      const rows = Array.from({ length: Math.min(5_000, total - start) }, (_, i) => {
        const n = start + i;
        const prefix = n < sizes.warmup ? warmupPrefix : keyPrefix;
        return withdrawalRow({ keyPrefix: prefix, n, userId: `signer-user-${n % USERS}`, asset: 'ETH', chainId: setup.chainId, toAddress: recipients[n % recipients.length]!, amount: '1000000000000000', fee: '100000000000000' });
      });
      await insertWithdrawals(db, rows);
      progress.update(`${start + rows.length}/${total}`);
    }
  } finally {
    await db.close();
  }

  progress.phase(name, `${label}: signer process working the warm-up, then the backlog (cap ${capSeconds} s each)`);
  const settings: SignerRunSettings = { store, dataDir: setup.dataDir, dbUrl: setup.dbUrl, keystorePassword: BENCH_KEYSTORE_PASSWORD, kmsUrl: MOTO_URL, capSeconds, ceilingSeconds: p.ceilingSeconds, keyPrefix, warmupPrefix };
  const child = spawnBenchChild<SignerMessage>('bench/servers/signer.mjs', [JSON.stringify(settings)], { tsx: false, logFile: path.join(ctx.workDir, `signer-${store}-${setup.db}.log`) });
  const stopRss = ctx.rss.track(
    `signer (${label})`,
    'signer',
    child.pid,
    setup.db === 'sqlite' ? { reference: 'no `sluice signer` runs on SQLite (the roles need MySQL); on SQLite the signer runs inside `sluice dev`' } : {},
  );
  const dbServer = setup.db === 'mysql' ? databaseServerPid() : null;
  const chain = settleSigned(setup.dbUrl);
  // Thread CPU from the backlog's first progress report to its last one before it was done.
  let threadsAtStart: ThreadCpu | null = null;
  let threadsAtEnd: ThreadCpu | null = null;
  // The database server's CPU time, by client where it can be split, and the signed count at those same two reports.
  let dbAtStart: DbReading | null = null;
  let dbAtEnd: DbReading | null = null;
  const dbClients = { signer: child.pid, harness: process.pid };
  let backlogDone = false;
  const onMessage = (m: SignerMessage) => {
    if (m.type !== 'progress') return;
    progress.update(`${m.phase}: ${m.signed}/${m.total} signed, ${m.rejected} rejected, ${Math.round(m.seconds)} s, ${Math.round(m.signed / Math.max(m.seconds, 0.001))}/s`);
    if (m.phase !== 'backlog' || backlogDone) return;
    const now = readThreadCpu(child.pid);
    const db = { cpu: dbServer === null ? Promise.resolve(null) : readDbServerCpu(dbServer, MYSQL_SERVER_URL, [dbClients.signer, dbClients.harness]).catch(() => null), signed: m.signed };
    if (threadsAtStart === null) {
      threadsAtStart = now;
      dbAtStart = db;
    } else {
      threadsAtEnd = now;
      dbAtEnd = db;
    }
    backlogDone = m.signed + m.rejected >= m.total;
  };
  child.process.on('message', onMessage);
  try {
    const { result } = await child.message((m): m is Extract<SignerMessage, { type: 'result' }> => m.type === 'result', (2 * capSeconds + 180) * 1000);
    progress.update(`${result.signed} signed in ${round(result.seconds)} s = ${Math.round(result.signedPerSecond)}/s (${result.cpuMicrosPerSigned === null ? '—' : Math.round(result.cpuMicrosPerSigned)} µs CPU each); raw secp256k1 ${Math.round(result.ceiling.rawSignPerSecond)}/s`);
    return {
      ...result,
      db: setup.db,
      label,
      ...(await dbServerMicros(dbAtStart, dbAtEnd, dbClients)),
      threads: threadsAtStart && threadsAtEnd ? threadBusy(child.pid, threadsAtStart, threadsAtEnd) : null,
    };
  } finally {
    await chain.stop();
    child.process.off('message', onMessage);
    stopRss();
    await child.stop(5_000);
  }
}

/** Whose work the database server's CPU was, where connections could be told apart. */
function dbServerSplitNote(r: SignerResult): string {
  const split = r.dbServerSplit;
  if (!split) return '';
  const cores = os.cpus().length;
  const without = perSecond(coresBoundPerSecond(cores, (r.cpuMicrosPerSigned ?? 0) + r.dbServerMicrosPerSigned! - split.harness));
  return `. Of it, by connection thread: the signer's ${round(split.signer)} µs, the harness's settling (its stand-in for the chain) ${round(split.harness)} µs, the server's own threads (purge, page cleaner, log writer) and closed connections ${round(split.rest)} µs; without the harness's share, ${cores} cores bound the rate at ${without}`;
}

function perSecond(rate: number | null): string {
  return rate === null ? '—' : `${rate.toLocaleString('en-US')}/s`;
}

/**
 * On a miss: what the run's CPU per withdrawal allows on this machine's cores (the signer's own,
 * plus mariadbd's where it shares them), so a reader sees whether the pipeline or the host fell short.
 */
function signerTargetNote(r: SignerResult): string | undefined {
  const notes: string[] = [];
  if (r.signed + r.rejected < r.backlog) notes.push(`${r.signed.toLocaleString('en-US')} of ${r.backlog.toLocaleString('en-US')} in the ${round(r.seconds)} s cap`);
  if (r.signedPerSecond < GOAL && r.cpuMicrosPerSigned !== null) {
    const cores = os.cpus().length;
    const bound = coresBoundPerSecond(cores, r.cpuMicrosPerSigned + (r.dbServerMicrosPerSigned ?? 0));
    if (bound !== null) notes.push(`${cores} fully busy cores allow ${perSecond(bound)} at this run's CPU per withdrawal, ${r.dbServerMicrosPerSigned != null ? "the signer's and mariadbd's" : "the signer process's"}`);
  }
  return notes.length > 0 ? notes.join('; ') : undefined;
}

/** A reading of the database server's CPU (taken as the signer reported progress) and the signed count then. */
type DbReading = { cpu: Promise<DbServerCpu | null>; signed: number };

/** The database server's CPU per withdrawal signed between two readings, in all and split by client. */
async function dbServerMicros(start: DbReading | null, end: DbReading | null, pids: { signer: number; harness: number }): Promise<Pick<SignerResult, 'dbServerMicrosPerSigned' | 'dbServerSplit'>> {
  const [before, after] = await Promise.all([start?.cpu ?? null, end?.cpu ?? null]);
  if (!start || !end || before === null || after === null || end.signed <= start.signed) return { dbServerMicrosPerSigned: null, dbServerSplit: null };
  const perSigned = (seconds: number) => (seconds * 1e6) / (end.signed - start.signed);
  const used = dbServerCpuBetween(before, after, [pids.signer, pids.harness]);
  return {
    dbServerMicrosPerSigned: perSigned(used.total),
    dbServerSplit: before.split && after.split ? { signer: perSigned(used.byClient.get(pids.signer)!), harness: perSigned(used.byClient.get(pids.harness)!), rest: perSigned(used.rest) } : null,
  };
}

/**
 * The chain's part, played from the harness's own connection: what the signer signed is
 * mined and settled a moment later, so lanes hold what a real pipeline holds in flight (no
 * sender, tracker or ledger settlement is measured here; only the signer is).
 */
function settleSigned(dbUrl: string): { stop(): Promise<void> } {
  const db = openDatabase(dbUrl);
  let running = true;
  const loop = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, SETTLE_EVERY_MS));
      // By id, as the tracker settles, not one UPDATE ranged over the status index (on MariaDB that
      // takes next-key locks across the range, which no production component does).
      const signed = await db.kysely.selectFrom('withdrawals').select('id').where('status', '=', 'SIGNED').limit(5_000).execute();
      for (let i = 0; i < signed.length; i += 500) {
        const ids = signed.slice(i, i + 500).map((r) => r.id);
        try {
          await db.kysely.updateTable('withdrawals').set({ status: 'COMPLETED' }).where('id', 'in', ids).where('status', '=', 'SIGNED').execute();
        } catch (err) {
          // Chosen as a deadlock's victim against the signer's transactions (MariaDB): the statement
          // was rolled back alone; the next pass settles those rows.
          if (!isTransientLockError(err)) throw err;
        }
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await db.close();
    },
  };
}

async function createKmsWallet(chainId: number): Promise<{ address: Address; keyRef: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_') && !k.startsWith('AWS_')));
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(ROOT, 'dist/cli.js'), 'wallet', 'create', '--chain', String(chainId), '--store', 'kms', '--label', `bench-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`], {
    cwd: ROOT,
    env: { ...base, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_KMS: MOTO_URL },
  }).catch((err: Error & { stderr?: string }) => {
    throw new Error(`sluice wallet create --store kms failed (is moto_server up at ${MOTO_URL}?): ${err.stderr ?? err.message}`);
  });
  return JSON.parse(stdout) as { address: Address; keyRef: string };
}
