import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { ACTIVE_STATUSES, createTxStats, RANGES, statsQueries } from '../../src/stats/tx-stats.js';
import { inFlightWallets } from '../../src/tracker/lane-queries.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const ROWS = 1_000_000;
const SPAN_MS = 30 * 86_400_000;

type PlanRow = { table: string; type: string; key: string | null; rows: number; Extra: string };

/**
 * The TX Status API on a million withdrawals (30 days of traffic) on MariaDB: every query it runs
 * per request is an index range or lookup (no full scan of withdrawals or events), shown by the
 * plans this prints; the answers agree with plain counts.
 */
describe('TX Status API and tracker query plans on 1M withdrawals (MariaDB)', () => {
  let database: TestDatabase;
  let db: Db;
  let conn: Awaited<ReturnType<typeof createConnection>>;
  const now = Date.now();

  beforeAll(async () => {
    database = await createTestDatabase('mysql');
    db = openDatabase(database.url);
    await migrateToLatest(db);
    conn = await createConnection(database.url);
    const started = Date.now();
    // A million rows from a digits cross join, in 10 statements of 100k. Newest first by n:
    // n = 0 is now, n = ROWS is 30 days ago. One in 1000 is still in flight, 2 % failed.
    await conn.query('CREATE TEMPORARY TABLE digits (d INT PRIMARY KEY)');
    await conn.query('INSERT INTO digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)');
    const step = SPAN_MS / ROWS;
    for (let chunk = 0; chunk < 10; chunk++) {
      await conn.query(
        `INSERT INTO withdrawals (id, idempotency_key, request_hash, api_key_id, user_id, asset, chain_id, to_address, amount, fee, status,
           wallet, nonce, tx_hash, confirmations, create_response, created_at, updated_at)
         SELECT CONCAT('wd_', LPAD(n, 26, '0')), CONCAT('k', n), 'h', 'key', CONCAT('user-', n % 5000), IF(n % 3 = 0, 'USDT', 'ETH'), 1,
           CONCAT('0x', LPAD(HEX(n % 20000), 40, '0')), 1000, 1,
           CASE WHEN n % 1000 = 1 THEN 'RECEIVED' WHEN n % 1000 = 2 THEN 'SIGNED' WHEN n % 1000 = 3 THEN 'BROADCAST' WHEN n % 1000 = 4 THEN 'CONFIRMING'
                WHEN n % 50 = 5 THEN 'FAILED' WHEN n % 50 = 6 THEN 'REJECTED' WHEN n % 50 = 7 THEN 'CANCELLED' ELSE 'COMPLETED' END,
           IF(n % 1000 = 1, NULL, CONCAT('0xwallet', n % 4)), IF(n % 1000 = 1, NULL, n), NULL, 0, '{}',
           ? - FLOOR(n * ?), ? - FLOOR(n * ?) + 60000
         FROM (SELECT ${chunk} * 100000 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d AS n
               FROM digits a, digits b, digits c, digits e, digits f) numbers`,
        [now, step, now, step],
      );
    }
    // Stage events for the newest 200k (the last ~6 days, more than the 24h charts read).
    for (const [stage, offset] of [['SIGNED', 2000], ['BROADCAST', 3000], ['COMPLETED', 60000]] as const) {
      await conn.query(
        `INSERT INTO withdrawal_events (withdrawal_id, from_status, to_status, code, detail, created_at)
         SELECT id, NULL, ?, NULL, NULL, created_at + ? FROM withdrawals WHERE created_at >= ?`,
        [stage, offset, now - 200_000 * step],
      );
    }
    await conn.query('ANALYZE TABLE withdrawals, withdrawal_events');
    console.log(`seeded ${ROWS} withdrawals and their events in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 300_000);
  afterAll(async () => {
    await conn?.end();
    await db?.close();
    await database?.drop();
  });

  async function explain(name: string, query: { compile(): { sql: string; parameters: readonly unknown[] } }): Promise<PlanRow[]> {
    const { sql, parameters } = query.compile();
    const [rows] = await conn.query(`EXPLAIN ${sql}`, parameters as unknown[]);
    const plan = rows as PlanRow[];
    console.log(`\n${name}\n  ${sql}\n${plan.map((p) => `  table=${p.table} type=${p.type} key=${p.key} rows=${p.rows} ${p.Extra ?? ''}`).join('\n')}`);
    return plan;
  }

  it('plans every per-request query as an index range, never a full scan', async () => {
    const q = statsQueries(db);
    const day = RANGES['24h'];
    const plans: Array<[string, { compile(): { sql: string; parameters: readonly unknown[] } }, number]> = [
      ['counts of in-flight statuses', q.activeCounts(), 5_000],
      ['settled since the rollup (tail)', q.settledSince('COMPLETED', now - 6 * 60_000), 5_000],
      ['open dead letters', q.openDeadLetters(), 5_000],
      ['SLA: in flight and old', q.activeOlderThan(ACTIVE_STATUSES, now - 300_000), 5_000],
      ['created per bucket (24h)', q.createdPerBucket(now - day.spanMs, day.bucketMs), 100_000],
      ['completed per bucket (24h)', q.settledPerBucket(['COMPLETED'], now - day.spanMs, day.bucketMs), 100_000],
      ['failed per bucket (24h)', q.settledPerBucket(['REJECTED', 'FAILED', 'CANCELLED'], now - day.spanMs, day.bucketMs), 100_000],
      ['stage latency (24h, COMPLETED)', q.stageTimes('COMPLETED', now - day.spanMs), 100_000],
      // Not the TX Status API, but the same rule: the tracker's tick must not grow with history.
      ['tracker: wallets with txs in flight', inFlightWallets(db.kysely), 5_000],
    ];
    for (const [name, query, maxRows] of plans) {
      const plan = await explain(name, query);
      for (const step of plan) {
        expect({ name, table: step.table, fullScan: step.type === 'ALL' || step.type === 'index' }).toEqual({ name, table: step.table, fullScan: false });
        expect({ name, table: step.table, key: step.key }).toEqual({ name, table: step.table, key: expect.any(String) });
        expect({ name, table: step.table, rowsEstimate: Number(step.rows) <= maxRows }).toEqual({ name, table: step.table, rowsEstimate: true });
      }
    }
  });

  it('answers counts, throughput and latency that agree with plain counts, and the rollup spares later requests', async () => {
    const stats = createTxStats({ db });
    let t = Date.now();
    const first = await stats.counts();
    console.log(`counts, first request (rolls up ${ROWS} rows once): ${Date.now() - t} ms`);
    const [[truth]] = (await conn.query("SELECT SUM(status = 'COMPLETED') completed, SUM(status = 'FAILED') failed, SUM(status = 'RECEIVED') received FROM withdrawals")) as unknown as [[Record<string, string>]];
    expect(first.COMPLETED).toBe(Number(truth!.completed));
    expect(first.FAILED).toBe(Number(truth!.failed));
    expect(first.RECEIVED).toBe(Number(truth!.received));
    const rollup = await db.kysely.selectFrom('withdrawal_status_rollup').selectAll().where('status', '=', 'COMPLETED').executeTakeFirstOrThrow();
    expect(Number(rollup.counted_to)).toBeGreaterThan(now - 10 * 60_000);

    await new Promise((r) => setTimeout(r, 1_100)); // past the 1 s answer cache: this one runs the queries
    t = Date.now();
    const again = await stats.counts();
    console.log(`counts, next request (rollup + tail): ${Date.now() - t} ms`);
    expect(again).toEqual(first);

    t = Date.now();
    const throughput = await stats.throughput('24h');
    console.log(`throughput 24h: ${Date.now() - t} ms`);
    const created = throughput.buckets.reduce((a, b) => a + b.created, 0);
    const [[inDay]] = (await conn.query('SELECT COUNT(*) n FROM withdrawals WHERE created_at >= ?', [throughput.buckets[0]!.t])) as unknown as [[{ n: number }]];
    expect(created).toBe(Number(inDay!.n));

    t = Date.now();
    const latency = await stats.latency('1h');
    console.log(`latency 1h: ${Date.now() - t} ms`);
    const filled = latency.buckets.filter((b) => b.completed !== null);
    expect(filled.length).toBeGreaterThan(50);
    expect(filled[0]!.completed).toEqual({ p50: 60_000, p95: 60_000, p99: 60_000 });
    expect(filled[0]!.signed).toEqual({ p50: 2_000, p95: 2_000, p99: 2_000 });
  });
});
