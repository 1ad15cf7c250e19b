import { type Kysely, sql } from 'kysely';
import type { Db } from '../db/connect.js';
import type { Database, WithdrawalStatus } from '../db/schema.js';
import { isUniqueViolation } from '../db/errors.js';

export const ACTIVE_STATUSES: WithdrawalStatus[] = ['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING'];
export const SETTLED_STATUSES: WithdrawalStatus[] = ['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];
/** Ended without paying: what the throughput chart calls failed. */
const UNPAID: WithdrawalStatus[] = ['REJECTED', 'FAILED', 'CANCELLED'];
const STAGES = { signed: 'SIGNED', broadcast: 'BROADCAST', completed: 'COMPLETED' } as const;

export type StatsRange = '1h' | '24h';
export const RANGES: Record<StatsRange, { spanMs: number; bucketMs: number; cacheMs: number }> = {
  '1h': { spanMs: 3_600_000, bucketMs: 60_000, cacheMs: 3_000 },
  '24h': { spanMs: 86_400_000, bucketMs: 900_000, cacheMs: 30_000 },
};

/**
 * Settled rows never change again, so their counts are rolled up to `counted_to` (a few minutes in
 * the past: no transaction commits a row that old) and only the tail after it is counted per
 * request. The rollup moves forward at most every minute, by compare-and-set, so API replicas
 * never count a slice twice.
 */
const ROLLUP_LAG_MS = 5 * 60_000;
const ROLLUP_STEP_MS = 60_000;

export type Percentiles = { p50: number; p95: number; p99: number } | null;

function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const at = (q: number) => values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)]!;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99) };
}

/**
 * The queries behind the TX Status API, each an index range (never a scan of withdrawals): the
 * 1M-row test prints their plans (test/core/stats-plans.itest.ts).
 */
export function statsQueries(db: Db) {
  const k: Kysely<Database> = db.kysely;
  const bucket = (column: string, bucketMs: number) =>
    db.dialect === 'mysql' ? sql<number>`${sql.ref(column)} div ${sql.lit(bucketMs)}` : sql<number>`${sql.ref(column)} / ${sql.lit(bucketMs)}`;
  return {
    activeCounts: () => k.selectFrom('withdrawals').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).where('status', 'in', ACTIVE_STATUSES).groupBy('status'),
    settledSince: (status: WithdrawalStatus, after: number, upTo?: number) => {
      let q = k.selectFrom('withdrawals').select((eb) => eb.fn.countAll<number>().as('n')).where('status', '=', status).where('updated_at', '>', after);
      if (upTo !== undefined) q = q.where('updated_at', '<=', upTo);
      return q;
    },
    openDeadLetters: () => k.selectFrom('dead_letters').select(['queue', (eb) => eb.fn.countAll<number>().as('n')]).where('status', '=', 'open').groupBy('queue'),
    /** In flight and created before `before` (the SLA counts): a range over the active statuses only. */
    activeOlderThan: (statuses: WithdrawalStatus[], before: number) =>
      k.selectFrom('withdrawals').select((eb) => eb.fn.countAll<number>().as('n')).where('status', 'in', statuses).where('created_at', '<', before),
    createdPerBucket: (since: number, bucketMs: number) =>
      k.selectFrom('withdrawals').select([bucket('created_at', bucketMs).as('b'), (eb) => eb.fn.countAll<number>().as('n')]).where('created_at', '>=', since).groupBy('b'),
    settledPerBucket: (statuses: WithdrawalStatus[], since: number, bucketMs: number) =>
      k
        .selectFrom('withdrawals')
        .select([bucket('updated_at', bucketMs).as('b'), (eb) => eb.fn.countAll<number>().as('n')])
        .where('status', 'in', statuses)
        .where('updated_at', '>=', since)
        .groupBy('b'),
    /** When each withdrawal reached `stage` in the range, and how long after its request. */
    stageTimes: (stage: WithdrawalStatus, since: number) =>
      k
        .selectFrom('withdrawal_events as e')
        .innerJoin('withdrawals as w', 'w.id', 'e.withdrawal_id')
        .select(['e.created_at as t', 'w.created_at as requested'])
        .where('e.to_status', '=', stage)
        .where('e.created_at', '>=', since)
        .limit(500_000),
  };
}

export function createTxStats(deps: { db: Db; now?: () => number }) {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  const q = statsQueries(db);
  const memo = new Map<string, { at: number; value: Promise<unknown> }>();

  /** One computation per key per `ttlMs` however many consoles poll (a failure is not kept). */
  function cached<T>(key: string, ttlMs: number, compute: () => Promise<T>): Promise<T> {
    const hit = memo.get(key);
    if (hit && now() - hit.at < ttlMs) return hit.value as Promise<T>;
    const value = compute();
    memo.set(key, { at: now(), value });
    value.catch(() => memo.get(key)?.value === value && memo.delete(key));
    return value;
  }

  async function rollupRow(status: WithdrawalStatus): Promise<{ countedTo: number; count: number }> {
    const row = await db.kysely.selectFrom('withdrawal_status_rollup').selectAll().where('status', '=', status).executeTakeFirst();
    if (row) return { countedTo: Number(row.counted_to), count: Number(row.count) };
    try {
      await db.kysely.insertInto('withdrawal_status_rollup').values({ status, counted_to: 0, count: 0 }).execute();
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    return rollupRow(status);
  }

  async function settledCount(status: WithdrawalStatus, at: number): Promise<number> {
    let { countedTo, count } = await rollupRow(status);
    const target = at - ROLLUP_LAG_MS;
    if (target - countedTo >= ROLLUP_STEP_MS) {
      const { n } = await q.settledSince(status, countedTo, target).executeTakeFirstOrThrow();
      const moved = await db.kysely
        .updateTable('withdrawal_status_rollup')
        .set({ counted_to: target, count: count + Number(n) })
        .where('status', '=', status)
        .where('counted_to', '=', countedTo)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 1) ({ countedTo, count } = { countedTo: target, count: count + Number(n) });
      else ({ countedTo, count } = await rollupRow(status)); // another replica moved it
    }
    const tail = await q.settledSince(status, countedTo).executeTakeFirstOrThrow();
    return count + Number(tail.n);
  }

  return {
    async counts(): Promise<Record<WithdrawalStatus, number>> {
      return cached('counts', 1_000, async () => {
        const at = now();
        const counts = Object.fromEntries([...ACTIVE_STATUSES, ...SETTLED_STATUSES].map((s) => [s, 0])) as Record<WithdrawalStatus, number>;
        for (const r of await q.activeCounts().execute()) counts[r.status] = Number(r.n);
        for (const s of SETTLED_STATUSES) counts[s] = await settledCount(s, at);
        return counts;
      });
    },

    async openDeadLetters(): Promise<{ invalid: number; tx: number }> {
      const out = { invalid: 0, tx: 0 };
      for (const r of await q.openDeadLetters().execute()) out[r.queue] = Number(r.n);
      return out;
    },

    async slaBreaches(): Promise<{ broadcastOver30s: number; completionOver5m: number }> {
      const at = now();
      const [a, b] = await Promise.all([
        q.activeOlderThan(['RECEIVED', 'SIGNED'], at - 30_000).executeTakeFirstOrThrow(),
        q.activeOlderThan(ACTIVE_STATUSES, at - 300_000).executeTakeFirstOrThrow(),
      ]);
      return { broadcastOver30s: Number(a.n), completionOver5m: Number(b.n) };
    },

    throughput(range: StatsRange) {
      const { spanMs, bucketMs, cacheMs } = RANGES[range];
      return cached(`throughput:${range}`, cacheMs, async () => {
        const first = Math.floor((now() - spanMs) / bucketMs) + 1;
        const since = first * bucketMs;
        const [created, completed, failed] = await Promise.all([
          q.createdPerBucket(since, bucketMs).execute(),
          q.settledPerBucket(['COMPLETED'], since, bucketMs).execute(),
          q.settledPerBucket(UNPAID, since, bucketMs).execute(),
        ]);
        const count = (rows: Array<{ b: number; n: number }>) => new Map(rows.map((r) => [Number(r.b), Number(r.n)]));
        const [c, d, f] = [count(created), count(completed), count(failed)];
        const buckets = [];
        for (let b = first; b * bucketMs <= now(); b++) buckets.push({ t: b * bucketMs, created: c.get(b) ?? 0, completed: d.get(b) ?? 0, failed: f.get(b) ?? 0 });
        return { bucketSeconds: bucketMs / 1000, buckets };
      });
    },

    latency(range: StatsRange) {
      const { spanMs, bucketMs, cacheMs } = RANGES[range];
      return cached(`latency:${range}`, cacheMs, async () => {
        const first = Math.floor((now() - spanMs) / bucketMs) + 1;
        const since = first * bucketMs;
        const perStage = await Promise.all(
          (Object.entries(STAGES) as Array<[keyof typeof STAGES, WithdrawalStatus]>).map(async ([name, status]) => {
            const byBucket = new Map<number, number[]>();
            for (const r of await q.stageTimes(status, since).execute()) {
              const b = Math.floor(Number(r.t) / bucketMs);
              let list = byBucket.get(b);
              if (!list) byBucket.set(b, (list = []));
              list.push(Number(r.t) - Number(r.requested));
            }
            return [name, byBucket] as const;
          }),
        );
        const stages = new Map(perStage);
        const buckets = [];
        for (let b = first; b * bucketMs <= now(); b++) {
          buckets.push({
            t: b * bucketMs,
            signed: percentiles(stages.get('signed')!.get(b) ?? []),
            broadcast: percentiles(stages.get('broadcast')!.get(b) ?? []),
            completed: percentiles(stages.get('completed')!.get(b) ?? []),
          });
        }
        return { bucketSeconds: bucketMs / 1000, buckets };
      });
    },
  };
}

export type TxStats = ReturnType<typeof createTxStats>;
