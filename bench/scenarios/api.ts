import { openDatabase } from '../../src/db/connect.js';
import { createBenchDatabase } from '../lib/database.js';
import { type DbBatchWindow, dbBatchWindow, describeDbBatches, parseDbBatches } from '../lib/db-batches.js';
import { type ScenarioContext, type SectionResult, figure, ratio } from '../lib/result.js';
import { round } from '../lib/stats.js';
import { readCpuSeconds, readThreadCpu, type ThreadCpu, threadBusy } from '../lib/cpu.js';
import { API_WORKLOAD, creditUsers, recipientPool } from '../lib/workload.js';
import { withdrawalRow } from '../lib/rows.js';
import { runLoad } from '../load/run-load.js';
import { type LoadResult, type LoadSpec, WARMUP_SECONDS } from '../load/spec.js';
import { BENCH_API_KEY, BENCH_CHAIN_ID, startApiServer } from './start-api.js';

const GOALS = { sqlite: 10_000, mysql: 5_000 } as const;
const FIXED_RATES = [1_000, 5_000] as const;

/**
 * API accept, durable (the row is committed before the 202): max sustained rate and latency at
 * fixed rates, next to the same server's /healthz (HTTP ceiling) and a raw batched insert loop into
 * the same table (database ceiling).
 */
export async function runApiScenario(kind: 'sqlite' | 'mysql', ctx: ScenarioContext): Promise<Omit<SectionResult, 'name' | 'seconds'>> {
  const name = `api-${kind}`;
  const p = ctx.profile.api;
  const { progress } = ctx;
  progress.phase(name, `fresh ${kind === 'sqlite' ? 'SQLite file (synchronous=FULL)' : 'MariaDB database'}, migrated with sluice migrate`);
  const database = await createBenchDatabase(kind, ctx.workDir);
  const notes: string[] = [];
  try {
    progress.phase(name, 'starting the API-only server process');
    const api = await startApiServer(database.url, ctx.workDir, kind);
    const stopRss = ctx.rss.track(`api (${kind})`, name, api.child.pid);
    const workload = API_WORKLOAD(BENCH_CHAIN_ID, `bench-${kind}`, p.users);
    const loads: Record<string, LoadResult> = {};
    /** The API process's CPU µs per 2xx answer in each load (all its threads). */
    const cpuPer2xx: Record<string, number | null> = {};
    /** How busy the API's main thread and its busiest other thread were in each load. */
    const busy: Record<string, ReturnType<typeof threadBusy>> = {};
    /** The group commit's transactions in each load, from the API's own sluice_db_batch_seconds. */
    const intakeBatches: Record<string, DbBatchWindow | undefined> = {};
    const scrapeBatches = async () => parseDbBatches(await (await fetch(`${api.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text());
    let peak;
    try {
      progress.phase(name, `crediting ${p.users} users (ETH and USDT) through the API`);
      const credited = await creditUsers({ url: api.url, apiKey: BENCH_API_KEY, spec: workload, amounts: { ETH: '1000', USDT: '1000000' }, onProgress: (d, t) => progress.update(`${d}/${t}`) });
      if (credited.retried503 > 0) notes.push(`Crediting ${credited.credits} balances (16 at a time) got ${credited.retried503} × 503 (retried, as the API asks).`);

      const load = async (label: string, spec: Omit<LoadSpec, 'url' | 'apiKey'>) => {
        progress.phase(name, `${label}${spec.rate ? ` at ${spec.rate}/s` : ', as fast as it answers'} for ${spec.durationSeconds}s, ${spec.connections} connections`);
        const batchesBefore = await scrapeBatches();
        const cpuBefore = readCpuSeconds(api.child.pid);
        // Over the same window as the sustained rate: from the end of the warm-up, not from the load generator's own start.
        let threadsAtLoad = null as ThreadCpu | null;
        // A run too short to leave out a warm-up (--quick) gets no figure rather than a sliver's.
        const longEnough = (spec.durationSeconds ?? 0) >= 2 * WARMUP_SECONDS;
        const r = await runLoad({ url: api.url, apiKey: BENCH_API_KEY, ...spec }, {
          workDir: ctx.workDir,
          label: `${kind}-${label}`,
          onTick: (ok, all, s, loadSeconds) => {
            if (threadsAtLoad === null && longEnough && loadSeconds >= WARMUP_SECONDS) threadsAtLoad = readThreadCpu(api.child.pid);
            progress.update(`${Math.round(s)}s, ${ok} 2xx of ${all}, ${Math.round(ok / Math.max(s, 0.001))}/s`);
          },
        });
        loads[label] = r;
        const cpuAfter = readCpuSeconds(api.child.pid);
        busy[label] = threadsAtLoad ? threadBusy(api.child.pid, threadsAtLoad, readThreadCpu(api.child.pid)) : null;
        cpuPer2xx[label] = cpuBefore !== null && cpuAfter !== null && r.ok2xx > 0 ? ((cpuAfter - cpuBefore) * 1e6) / r.ok2xx : null;
        intakeBatches[label] = dbBatchWindow(batchesBefore, await scrapeBatches(), 'intake');
        progress.update(`${Math.round(r.rate2xx)} 2xx/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}`);
        return r;
      };
      const create = (tag: string) => ({ kind: 'create' as const, workload, keyPrefix: `bench-${kind}-${tag}`, recipients: 2_000 });
      await load('http-ceiling', { target: { kind: 'healthz' }, connections: p.connections * 2, durationSeconds: p.maxRateSeconds });
      await load('accept-max', { target: create('max'), connections: p.connections * 2, durationSeconds: p.maxRateSeconds });
      for (const rate of FIXED_RATES) {
        await load(`accept-${rate}`, { target: create(`r${rate}`), rate, connections: rate >= 5_000 ? 200 : 64, durationSeconds: p.fixedSeconds });
      }
    } finally {
      peak = stopRss();
      await api.stop();
    }

    progress.phase(name, `database ceiling: batched inserts into withdrawals (500 rows per transaction) for ${p.dbCeilingSeconds}s`);
    const db = openDatabase(database.url);
    let stored = 0;
    let dbCeiling: { rows: number; seconds: number; rowsPerSecond: number };
    try {
      const counted = await db.kysely.selectFrom('withdrawals').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      stored = Number(counted.n);
      dbCeiling = await insertCeiling(db, p.dbCeilingSeconds, (rows, s) => progress.update(`${rows} rows, ${Math.round(rows / s)}/s`));
    } finally {
      await db.close();
    }

    const accepted = Object.entries(loads).filter(([k]) => k.startsWith('accept')).reduce((n, [, r]) => n + r.ok2xx, 0);
    // Every 202 must be a stored row; more rows than 202s are requests still in flight when a load window closed.
    notes.push(`${stored.toLocaleString('en-US')} rows stored for ${accepted.toLocaleString('en-US')} 202 answers${stored < accepted ? ': FEWER ROWS THAN 202s — an accepted withdrawal was not durable' : ' (the rest were in flight when a window closed)'}.`);
    const http = loads['http-ceiling']!;
    const max = loads['accept-max']!;
    const httpCeiling = { what: 'HTTP ceiling (/healthz, same server)', value: round(sustained(http)) };
    const dbCeil = { what: 'DB ceiling (raw batched inserts)', value: round(dbCeiling.rowsPerSecond) };
    const figures = [
      figure('accept, max sustained (2xx/s)', round(sustained(max)), '/s', httpCeiling, `${max.connections} connections, closed loop: P50 ${max.latencyMs.p50} ms, P99 ${max.latencyMs.p99} ms; ${sustainedNote(max)}`),
      figure('accept, max sustained (2xx/s)', round(sustained(max)), '/s', dbCeil),
      ...FIXED_RATES.flatMap((rate) => {
        const r = loads[`accept-${rate}`]!;
        return [
          figure(`achieved rate at ${rate}/s offered`, round(r.rate2xx), '/s', { what: 'offered rate', value: rate }),
          figure(`P50 / P95 / P99 at ${rate}/s`, r.latencyMs.p99, 'ms', undefined, `P50 ${r.latencyMs.p50} ms, P95 ${r.latencyMs.p95} ms, P99 ${r.latencyMs.p99} ms; non-2xx ${r.non2xx}, errors ${r.errors}`),
        ];
      }),
      cpuFigure(cpuPer2xx),
      busyFigure(busy['accept-max'] ?? null),
      ...(['accept-max', 'accept-1000'] as const).map((label) =>
        figure(
          `group commit transaction P99, ${label === 'accept-max' ? 'at the max rate' : 'at 1,000/s'}`,
          intakeBatches[label]?.p99AtMostMs ?? null,
          'ms',
          undefined,
          `${describeDbBatches(intakeBatches[label])} (whole load window, warm-up included; sluice_db_batch_seconds{batch="intake"}, bucket bounds)`,
        ),
      ),
      figure('peak RSS of the API process', peak.peakMiB, 'MiB'),
    ];
    const at1000 = loads['accept-1000']!;
    const goal = GOALS[kind];
    const targets = [
      {
        section: name,
        what: `durable accepts/s on ${kind === 'sqlite' ? 'SQLite' : 'MariaDB'}`,
        goal: `≥ ${goal.toLocaleString('en-US')}/s`,
        measured: round(sustained(max)),
        unit: '/s',
        ratio: { to: 'DB ceiling', value: ratio(sustained(max), dbCeiling.rowsPerSecond) },
        pass: sustained(max) >= goal,
        // On a miss, whether the host's database itself could take the goal: the raw loop has no HTTP in front.
        note: sustained(max) < goal ? `the raw batched insert loop into the same table reached ${Math.round(dbCeiling.rowsPerSecond).toLocaleString('en-US')}/s on this host` : undefined,
      },
      {
        section: name,
        what: 'accepts/s vs the HTTP ceiling of the same server',
        goal: '≥ 20%',
        measured: round((ratio(sustained(max), sustained(http)) ?? 0) * 100),
        unit: '%',
        ratio: { to: 'HTTP ceiling', value: ratio(sustained(max), sustained(http)) },
        pass: sustained(http) > 0 && sustained(max) / sustained(http) >= 0.2,
      },
      {
        section: name,
        what: 'P99 at 1,000/s offered',
        goal: '< 50 ms (and the rate held)',
        measured: at1000.latencyMs.p99,
        unit: 'ms',
        ratio: { to: 'offered rate achieved', value: ratio(at1000.rate2xx, 1_000) },
        pass: at1000.latencyMs.p99 < 50 && at1000.rate2xx >= 950 && at1000.non2xx === 0,
        note: at1000.rate2xx < 950 ? `only ${Math.round(at1000.rate2xx)}/s were answered 2xx` : undefined,
      },
    ];
    notes.push(
      'The API-only process runs with in-process queues whose sends are counted and dropped (no signer behind it); an SQS send is not part of this figure.',
      'Latencies are from the load generator (separate process), 2xx only. Fixed rates are an open loop: requests due evenly spaced, each timed from when it was due, so queueing counts (no coordinated omission); 0.1 ms resolution.',
      `Max rates are a closed loop (${max.generator}): each connection sends its next request when the last is answered. The load generator shares the machine's cores with the server; wrk costs less than half of autocannon's CPU per request.`,
    );
    return { ok: true, figures, targets, raw: { database: kind, loads, cpuMicrosPer2xx: cpuPer2xx, intakeBatches, dbCeiling, rowsStored: stored, accepted2xx: accepted, peakRss: peak }, notes };
  } finally {
    await database.drop();
  }
}

/**
 * CPU per answer of the API process (all threads), at the max rate and at the HTTP ceiling: a
 * change to the accept path shows here even on a day when the machine's rate moves by a third.
 */
function cpuFigure(cpuPer2xx: Record<string, number | null>) {
  const perAccept = cpuPer2xx['accept-max'] ?? null;
  const perHealthz = cpuPer2xx['http-ceiling'] ?? null;
  return figure(
    'API CPU time per accepted withdrawal, at the max rate',
    perAccept === null ? null : round(perAccept),
    'µs',
    { what: 'CPU time per /healthz answer (same server)', value: perHealthz === null ? null : round(perHealthz) },
    'user + system time of the API process (every thread) over the load window, divided by its 2xx answers',
  );
}

/** A closed loop's max sustained rate: after its warm-up when the run was long enough to leave one out. */
function sustained(r: LoadResult): number {
  return r.rate2xxAfterWarmup ?? r.rate2xx;
}

function sustainedNote(r: LoadResult): string {
  return r.rate2xxAfterWarmup === null
    ? `over the whole ${round(r.durationSeconds)} s (too short to leave out a warm-up)`
    : `after the first ${r.warmupSeconds} s (warm-up); ${Math.round(r.rate2xx).toLocaleString('en-US')}/s over the whole ${round(r.durationSeconds)} s`;
}

function busyFigure(busy: ReturnType<typeof threadBusy>) {
  return figure(
    'API main thread busy, at the max rate',
    busy === null ? null : round(busy.main * 100),
    '%',
    undefined,
    busy === null
      ? `not measured (a run of under ${2 * WARMUP_SECONDS} s)`
      : `busiest other thread (the SQLite write worker on a file) ${round(busy.busiestOther * 100)}%; the machine's cores ${busy.machine === null ? '—' : `${round(busy.machine * 100)}%`} busy (every process: the load generator too); share of the window (after the warm-up) each ran, from /proc: a thread near 100% bounds the rate, else a machine near 100% does`,
  );
}

async function insertCeiling(db: ReturnType<typeof openDatabase>, seconds: number, onProgress: (rows: number, s: number) => void) {
  const recipients = recipientPool(200);
  const batch = 500;
  let rows = 0;
  let n = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  while (performance.now() < until) {
    const values = Array.from({ length: batch }, () =>
      withdrawalRow({ keyPrefix: 'ceiling', n: n++, userId: `ceiling-${n % 1000}`, asset: 'ETH', chainId: BENCH_CHAIN_ID, toAddress: recipients[n % recipients.length]!, amount: '10000000000000000', fee: '100000000000000' }),
    );
    await db.kysely.transaction().execute((trx) => trx.insertInto('withdrawals').values(values).execute());
    rows += batch;
    onProgress(rows, (performance.now() - started) / 1000);
  }
  const elapsed = (performance.now() - started) / 1000;
  return { rows, seconds: round(elapsed, 2), rowsPerSecond: rows / elapsed, rowsPerTransaction: batch };
}
