// @ts-check
// The signer role alone, in its own process (the role under test), over a database the harness
// seeded with a warm-up batch and a backlog of RECEIVED withdrawals: run the signer workers exactly
// as `sluice signer` / `sluice dev` start them (startWorkers), queue the warm-up (a few thousand at
// a time, as SQS would hold the rest outside this process) and wait until it is signed, then queue
// the backlog and count SIGNED until it is done or the time cap is hit. Then, in this same
// process, the raw secp256k1 ceiling.
import { randomBytes } from 'node:crypto';
import { keccak256, parseGwei, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount, sign } from 'viem/accounts';
import { createSinkQueue, fromDist, tell } from './dist.mjs';

/** @type {typeof import('../../src/common.js')} */ const { createShutdownController } = await fromDist('common.js');
/** @type {typeof import('../../src/cache/memory-cache.js')} */ const { createMemoryCache } = await fromDist('cache/memory-cache.js');
/** @type {typeof import('../../src/chain/chain-registry.js')} */ const { chainPolicy, loadChainConfigs } = await fromDist('chain/chain-registry.js');
/** @type {typeof import('../../src/chain/rpc.js')} */ const { createChainRpc } = await fromDist('chain/rpc.js');
/** @type {typeof import('../../src/runtime/heap.js')} */ const { applyHeapGrowth } = await fromDist('runtime/heap.js');
/** @type {typeof import('../../src/config/load.js')} */ const { loadConfig } = await fromDist('config/load.js');
/** @type {typeof import('../../src/db/connect.js')} */ const { openDatabase } = await fromDist('db/connect.js');
/** @type {typeof import('../../src/keys/open-key-stores.js')} */ const { openKeyStores } = await fromDist('keys/open-key-stores.js');
/** @type {typeof import('../../src/observability/logger.js')} */ const { createLogger } = await fromDist('observability/logger.js');
/** @type {typeof import('../../src/observability/metrics.js')} */ const { createMetrics } = await fromDist('observability/metrics.js');
/** @type {typeof import('../../src/queue/memory-queue.js')} */ const { createMemoryQueue } = await fromDist('queue/memory-queue.js');
/** @type {typeof import('../../src/runtime/services.js')} */ const { createServices } = await fromDist('runtime/services.js');
/** @type {typeof import('../../src/runtime/workers.js')} */ const { startWorkers } = await fromDist('runtime/workers.js');
/** @type {typeof import('../../src/keys/secp256k1.js')} */ const { secp256k1Backend, signHash } = await fromDist('keys/secp256k1.js');

/** @type {import('../scenarios/signer.js').SignerRunSettings} */
const settings = JSON.parse(process.argv[2] ?? '{}');
const config = loadConfig({}, {
  dataDir: settings.dataDir,
  dbUrl: settings.dbUrl,
  keystorePassword: settings.keystorePassword,
  logLevel: 'warn',
  ...(settings.store === 'kms' ? { awsRegion: 'us-east-1', awsEndpointUrlKms: settings.kmsUrl } : {}),
});
applyHeapGrowth(config); // as `sluice <role>` and `sluice dev` do at start
const shutdown = createShutdownController(); // as `sluice <role>` and `sluice dev` make theirs
const logger = createLogger({ level: config.logLevel, name: 'bench-signer' });
const common = { config, logger, metrics: createMetrics(), signal: shutdown.signal };
const db = openDatabase(settings.dbUrl, { poolSize: config.dbPoolSize, queryTimeoutMs: config.dbQueryTimeoutMs });
const chains = new Map((await loadChainConfigs(db, chainPolicy(config))).map((c) => [c.chainId, createChainRpc(c, logger)]));
const keys = await openKeyStores(config, { logger, stores: [settings.store] });
// What the signer queues for the senders leaves the process in production (SQS); here it is counted
// and dropped, so neither the bench's queues nor 50,000 signed messages count as signer memory.
const queues = {
  requests: createMemoryQueue('tx-requests'),
  signed: createSinkQueue('signed-tx'),
  invalidDlq: createMemoryQueue('invalid-dlq'),
  txDlq: createMemoryQueue('tx-dlq'),
};
const services = createServices({ common, db, queues, chains, keys, cache: createMemoryCache() });

const mine = `${settings.keyPrefix}-%`;
/**
 * The backlog and the warm-up, held as ids only (not the row objects, ~2 MB this process would
 * count as the signer's) and queued as the signer takes messages (feedQueue) from `queuedSoFar` on.
 */
async function receivedIds(/** @type {string} */ prefix) {
  return (await db.kysely.selectFrom('withdrawals').select('id').where('status', '=', 'RECEIVED').where('idempotency_key', 'like', `${prefix}-%`).orderBy('id').execute()).map((r) => r.id);
}
const ids = await receivedIds(settings.keyPrefix);
const warmupIds = await receivedIds(settings.warmupPrefix);
/** What the feeder queues from: the warm-up first, then (once it is signed) the backlog. */
let feeding = warmupIds;
let queuedSoFar = 0;
const QUEUED_AHEAD = 4 * config.signerConcurrency;
async function feedQueue() {
  const depth = await queues.requests.depth();
  if (depth >= QUEUED_AHEAD || queuedSoFar === feeding.length) return;
  // An index, not a sliced copy: copying what is left of 50,000 ids every 20 ms cost the signer's
  // thread ~1% (bench --cpu-prof), work that SQS would not put on it.
  const next = feeding.slice(queuedSoFar, queuedSoFar + QUEUED_AHEAD - depth);
  queuedSoFar += next.length;
  await queues.requests.sendBatch(next.map((withdrawalId) => ({ body: { withdrawalId } })));
}
const feeder = setInterval(() => void feedQueue(), 20);

/** Signed by this run, durably: a stored signature (the bench chain moves SIGNED rows on to COMPLETED). */
async function counts() {
  const rows = await db.kysely
    .selectFrom('withdrawals')
    .select([(eb) => eb.fn.countAll().as('n'), 'status'])
    .where('idempotency_key', 'like', mine)
    .where((eb) => eb.or([eb('tx_hash', 'is not', null), eb('status', '=', 'REJECTED')]))
    .groupBy('status')
    .execute();
  let signed = 0;
  let rejected = 0;
  for (const r of rows) {
    if (r.status === 'REJECTED') rejected += Number(r.n);
    else signed += Number(r.n);
  }
  return { signed, rejected };
}

/** Progress from the signer's own counters: a table scan every tick would take the signer's time. */
async function counted(/** @type {'signed' | 'rejected'} */ which) {
  const values = which === 'signed' ? (await common.metrics.signed.get()).values : (await common.metrics.transitions.get()).values.filter((v) => v.labels.to === 'REJECTED');
  return values.reduce((a, v) => a + v.value, 0);
}

/**
 * Signatures made before the reservation that took their nonce (src/signer/nonce-reservations.ts),
 * stored or dropped: a dropped one was signed again after commit, so many of them would cost the rate.
 */
async function signedAheadSoFar() {
  const ahead = (await common.metrics.signedAhead.get()).values;
  return {
    stored: ahead.filter((v) => v.labels.outcome === 'stored').reduce((a, v) => a + v.value, 0),
    dropped: ahead.filter((v) => v.labels.outcome === 'dropped').reduce((a, v) => a + v.value, 0),
  };
}

/** The signer's batched write transactions so far (sluice_db_batch_seconds and its item counts), as Prometheus text. */
async function dbBatchesText() {
  const { registry } = common.metrics;
  return `${await registry.getSingleMetricAsString('sluice_db_batch_seconds')}\n${await registry.getSingleMetricAsString('sluice_db_batch_rows_total')}`;
}

/** Checked this often for the end of a phase, so a phase's time is within this of its work. */
const POLL_MS = 50;
/** Progress reports (the harness reads the signer's threads' CPU at each). */
const REPORT_MS = 500;

/**
 * Polls the signer's counters until `goal` withdrawals (signed or rejected) are done beyond
 * `before`, or `capSeconds` pass; reports progress as `phase`. Returns when it stopped, the
 * counts, and the seconds since `t0`.
 */
async function workUntil(/** @type {{ phase: 'warmup' | 'backlog'; goal: number; before: { signed: number; rejected: number }; t0: number; capSeconds: number }} */ o) {
  let lastReport = -Infinity;
  for (;;) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    const seconds = (performance.now() - o.t0) / 1000;
    const signed = (await counted('signed')) - o.before.signed;
    const rejected = (await counted('rejected')) - o.before.rejected;
    const done = signed + rejected >= o.goal || seconds >= o.capSeconds;
    if (done || performance.now() - lastReport >= REPORT_MS) {
      lastReport = performance.now();
      await tell({ type: 'progress', phase: o.phase, signed, rejected, total: o.goal, seconds });
    }
    if (done) return { signed, rejected, seconds };
  }
}

// Warm-up: a signer just started decrypts its keys (scrypt, by design slow), starts its SQLite
// write worker and runs its code unoptimized until V8 has compiled the hot paths; a signer in
// service has done all that long before a backlog arrives. Timed apart, and reported as the cold
// start.
const coldCpuAtStart = process.cpuUsage();
const coldT0 = performance.now();
const workers = startWorkers(services, ['signer']);
const cold = await workUntil({ phase: 'warmup', goal: warmupIds.length, before: { signed: 0, rejected: 0 }, t0: coldT0, capSeconds: settings.capSeconds });
const coldCpu = process.cpuUsage(coldCpuAtStart);
const warm = { signed: await counted('signed'), rejected: await counted('rejected') };
const warmAhead = await signedAheadSoFar();

// The measured backlog, queued from here on.
feeding = ids;
queuedSoFar = 0;
const started = performance.now();
// CPU time of every thread of this process (main and the SQLite write worker): unlike the rate,
// it barely moves when a shared machine lends the cores to someone else for a while.
const cpuAtStart = process.cpuUsage();
const dbBatchesAtStart = await dbBatchesText();
await feedQueue();
const backlog = await workUntil({ phase: 'backlog', goal: ids.length, before: warm, t0: started, capSeconds: settings.capSeconds });
const signedSoFar = backlog.signed;
const seconds = backlog.seconds;
const cpu = process.cpuUsage(cpuAtStart);
const dbBatches = { atStart: dbBatchesAtStart, atEnd: await dbBatchesText() };
const signedAhead = await signedAheadSoFar();
signedAhead.stored -= warmAhead.stored;
signedAhead.dropped -= warmAhead.dropped;
const cpuMicrosPerSigned = signedSoFar > 0 ? (cpu.user + cpu.system) / signedSoFar : null;
clearInterval(feeder);
console.error(`bench signer: stopping after ${seconds.toFixed(1)} s`);
shutdown.abort();
// A signer that does not drain is a finding, not a reason to hang the run.
const drained = await Promise.race([workers.done.then(() => true), new Promise((r) => setTimeout(() => r(false), 40_000))]);
// Until drained: what was in hand at the stop is finished (stored) and counted below, but the
// rate is of what was done within `seconds`.
console.error('bench signer: workers stopped; measuring the secp256k1 ceiling');
const { signed, rejected } = await counts();
const by = { SIGNED: signed, REJECTED: rejected };
const attempts = await db.kysely.selectFrom('tx_attempts').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
const firstFailure = await db.kysely.selectFrom('withdrawals').select(['failure_code', 'failure_reason']).where('failure_code', 'is not', null).where('idempotency_key', 'like', mine).executeTakeFirst();

// Ceiling: raw secp256k1 signatures of 32-byte hashes, same process, same event loop.
const privateKey = generatePrivateKey();
const hashes = Array.from({ length: 256 }, () => keccak256(toHex(randomBytes(32))));
const hashAt = (/** @type {number} */ i) => /** @type {`0x${string}`} */ (hashes[i % hashes.length]);
async function loop(/** @type {(i: number) => Promise<unknown>} */ fn) {
  let n = 0;
  const t0 = performance.now();
  const until = t0 + settings.ceilingSeconds * 1000;
  while (performance.now() < until) await fn(n++);
  return n / ((performance.now() - t0) / 1000);
}
const rawSignPerSecond = await loop((i) => sign({ hash: hashAt(i), privateKey }));
const account = privateKeyToAccount(privateKey);
const txSignPerSecond = await loop((i) =>
  account.signTransaction({ type: 'eip1559', chainId: 31337, nonce: i, to: '0x000000000000000000000000000000000000bEEF', value: 1000n, gas: 21_000n, maxFeePerGas: parseGwei('30'), maxPriorityFeePerGas: parseGwei('1') }),
);
// The secp256k1 the signer used (src/keys/secp256k1.ts: Sluice's libsecp256k1 binding, else the
// `secp256k1` addon, else viem's JS), signing bare hashes.
/** @type {number | null} */ let nativePerSecond = null;
const native = secp256k1Backend;
if (secp256k1Backend !== 'js') {
  const key = Buffer.from(privateKey.slice(2), 'hex');
  const hashBytes = hashes.map((h) => Buffer.from(h.slice(2), 'hex'));
  nativePerSecond = await loop((i) => signHash(/** @type {Buffer} */ (hashBytes[i % hashBytes.length]), key));
}

await tell({
  type: 'result',
  result: {
    store: settings.store,
    backlog: ids.length,
    signed,
    rejected,
    statuses: by,
    seconds,
    signedPerSecond: signedSoFar / seconds,
    cpuMicrosPerSigned,
    coldStart: { withdrawals: warmupIds.length, done: cold.signed + cold.rejected, seconds: cold.seconds, cpuMicrosEach: cold.signed > 0 ? (coldCpu.user + coldCpu.system) / cold.signed : null },
    signedAhead,
    dbBatches,
    drainedOnStop: drained,
    attemptsStored: Number(attempts.n),
    firstFailure: firstFailure ?? null,
    ceiling: { rawSignPerSecond, txSignPerSecond, nativeAddon: native, nativeSignPerSecond: nativePerSecond },
  },
});
keys.close?.();
for (const c of chains.values()) c.close();
await db.close();
process.exit(0);
