import { CompiledQuery, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/connect.js';
import type { WithdrawalsTable } from '../../src/db/schema.js';
import { lanesWindow, laneWindow } from '../../src/tracker/lane-queries.js';
import { newWithdrawalRow } from '../../src/withdrawals/repository.js';
import { openMigratedDatabase } from '../support/database.js';

const CHAIN = 31337;
const WALLET = '0x00000000000000000000000000000000000000A1';
const OTHER = '0x00000000000000000000000000000000000000B2';
const SETTLED = 3_000;
/** The lane's unsettled rows, in nonce order, right above its settled history. */
const IN_FLIGHT: Array<[WithdrawalsTable['status'], number]> = [
  ['CONFIRMING', SETTLED],
  ['CONFIRMING', SETTLED + 1],
  ['BROADCAST', SETTLED + 2],
  ['SIGNED', SETTLED + 3],
  ['BROADCAST', SETTLED + 4],
  ['RECEIVED', SETTLED + 5],
];

/** A stored withdrawal as the API makes it, then placed at `status` on a lane (or unreserved). */
function row(n: number, status: WithdrawalsTable['status'], wallet: string | null, nonce: number | null): WithdrawalsTable {
  const { row: created } = newWithdrawalRow(
    { idempotencyKey: `k-${n}`, requestHash: 'h', apiKeyId: 'key', userId: `user-${n % 50}`, asset: 'ETH', chainId: CHAIN, toAddress: '0x1234567890123456789012345678901234567890', amount: 1000n, fee: 1n },
    () => ({}),
  );
  return { ...created, status, wallet, nonce };
}

/**
 * The tracker reads each lane's lowest unsettled nonces every pass. On a wallet with a long
 * settled history, that read must be index ranges on (chain_id, wallet, status, nonce), never a
 * walk of the wallet's nonces from 0 (which SQLite's planner chose for `status IN (…) ORDER BY
 * nonce`): the plan is checked on both databases, and the rows against what is in flight.
 */
describe.each(['sqlite', 'mysql'] as const)('the tracker lane window on %s', (kind) => {
  let db: Db;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ db, close } = await openMigratedDatabase(kind));
    const rows: WithdrawalsTable[] = [];
    let n = 0;
    // Settled history at the low nonces of the lane, then what is in flight above it; another
    // wallet's lane and unreserved RECEIVED rows beside them.
    for (let nonce = 0; nonce < SETTLED; nonce++) rows.push(row(n++, nonce % 97 === 0 ? 'FAILED' : 'COMPLETED', WALLET, nonce));
    for (const [status, nonce] of IN_FLIGHT) rows.push(row(n++, status, WALLET, nonce));
    for (let nonce = 0; nonce < 20; nonce++) rows.push(row(n++, nonce < 10 ? 'COMPLETED' : 'BROADCAST', OTHER, nonce));
    for (let i = 0; i < 20; i++) rows.push(row(n++, 'RECEIVED', null, null));
    for (let i = 0; i < rows.length; i += 500) await db.kysely.insertInto('withdrawals').values(rows.slice(i, i + 500)).execute();
    if (kind === 'mysql') await sql`ANALYZE TABLE withdrawals`.execute(db.kysely);
    else await sql`ANALYZE`.execute(db.kysely);
  }, 120_000);
  afterAll(async () => {
    await close?.();
  });

  it('reads only the lane index, one range per status', async () => {
    const { sql: text, parameters } = laneWindow(db.kysely, CHAIN, WALLET).compile();
    if (kind === 'sqlite') {
      const plan = db.sqlite!.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...(parameters as unknown[])) as Array<{ detail: string }>;
      const reads = plan.map((p) => p.detail).filter((d) => /\b(SCAN|SEARCH) withdrawals\b/.test(d));
      expect(reads).toHaveLength(4);
      for (const read of reads) expect(read).toMatch(/^SEARCH withdrawals USING INDEX withdrawals_lane \(chain_id=\? AND wallet=\? AND status=\?/);
    } else {
      const plan = await db.kysely.executeQuery<{ table: string; type: string; key: string | null; rows: number }>(CompiledQuery.raw(`EXPLAIN ${text}`, [...parameters]));
      const reads = plan.rows.filter((p) => p.table === 'withdrawals');
      expect(reads).toHaveLength(4);
      // MariaDB weighs its statistics: a status with few rows overall may come from the status
      // index instead. Either way each read is an index lookup of a handful of rows, never a walk
      // of the wallet's ~3,000 settled nonces.
      for (const read of reads) {
        expect({ key: read.key, indexed: ['ref', 'range'].includes(read.type), rowsAtMost10: Number(read.rows) <= 10 }).toEqual({ key: expect.stringMatching(/^withdrawals_(lane|status)$/), indexed: true, rowsAtMost10: true });
      }
    }
  });

  it('returns the in-flight rows of that lane and nothing settled', async () => {
    const byNonce = (rows: Array<{ status: string; nonce: number | string | null }>) => rows.map((r) => [r.status, Number(r.nonce)] as const).sort((a, b) => a[1] - b[1]);
    expect(byNonce(await laneWindow(db.kysely, CHAIN, WALLET).execute())).toEqual(IN_FLIGHT);
    // The window is per status: each status range is cut at `limit`, lowest nonces first.
    expect(byNonce(await laneWindow(db.kysely, CHAIN, WALLET, 1).execute())).toEqual([
      ['CONFIRMING', SETTLED],
      ['BROADCAST', SETTLED + 2],
      ['SIGNED', SETTLED + 3],
      ['RECEIVED', SETTLED + 5],
    ]);
  });

  it('reads many lanes in one statement on the lane index, one range per wallet and status, and returns their in-flight rows only', async () => {
    const query = lanesWindow(db.dialect, CHAIN, [WALLET, OTHER], 100).compile(db.kysely);
    if (kind === 'sqlite') {
      const plan = db.sqlite!.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...(query.parameters as unknown[])) as Array<{ detail: string }>;
      expect(plan.map((p) => p.detail)).toEqual([expect.stringMatching(/^SEARCH withdrawals USING INDEX withdrawals_lane \(chain_id=\? AND wallet=\? AND status=\?/)]);
    } else {
      const plan = await db.kysely.executeQuery<{ table: string; type: string; key: string | null; rows: number }>(CompiledQuery.raw(`EXPLAIN ${query.sql}`, [...query.parameters]));
      expect(plan.rows.map((p) => ({ key: p.key, type: p.type, rowsAtMost40: Number(p.rows) <= 40 }))).toEqual([{ key: 'withdrawals_lane', type: 'range', rowsAtMost40: true }]);
    }
    const { rows } = await lanesWindow(db.dialect, CHAIN, [WALLET, OTHER], 100).execute(db.kysely);
    const of = (wallet: string) => rows.filter((r) => r.wallet === wallet).map((r) => [r.status, Number(r.nonce)] as const).sort((a, b) => a[1] - b[1]);
    expect(of(WALLET)).toEqual(IN_FLIGHT);
    expect(of(OTHER)).toEqual(Array.from({ length: 10 }, (_, i) => ['BROADCAST', 10 + i]));
    expect(rows).toHaveLength(IN_FLIGHT.length + 10);
    // `limit` is for all lanes together: the tracker takes a full result as "read lane by lane".
    expect((await lanesWindow(db.dialect, CHAIN, [WALLET, OTHER], 5).execute(db.kysely)).rows).toHaveLength(5);
  });

  it("asked for a lane's newest settled rows (a starting tracker's watch), reads one index range per status, newest first", async () => {
    const settled = { statuses: ['COMPLETED', 'FAILED', 'CANCELLED'] as const, newest: true };
    const rows = await laneWindow(db.kysely, CHAIN, WALLET, 3, settled).execute();
    const newestFailed = Math.floor((SETTLED - 1) / 97) * 97;
    const completed = [SETTLED - 1, SETTLED - 2, SETTLED - 3].filter((n) => n % 97 !== 0);
    expect(rows.map((r) => [r.status, Number(r.nonce)]).sort((a, b) => Number(b[1]) - Number(a[1]))).toEqual(
      [...completed.map((n) => ['COMPLETED', n]), ['FAILED', newestFailed], ['FAILED', newestFailed - 97], ['FAILED', newestFailed - 194]].sort((a, b) => Number(b[1]) - Number(a[1])),
    );
    if (kind === 'sqlite') {
      const { sql: text, parameters } = laneWindow(db.kysely, CHAIN, WALLET, 3, settled).compile();
      const plan = db.sqlite!.prepare(`EXPLAIN QUERY PLAN ${text}`).all(...(parameters as unknown[])) as Array<{ detail: string }>;
      const reads = plan.map((p) => p.detail).filter((d) => /\b(SCAN|SEARCH) withdrawals\b/.test(d));
      expect(reads).toHaveLength(3);
      for (const read of reads) expect(read).toMatch(/^SEARCH withdrawals USING INDEX withdrawals_lane \(chain_id=\? AND wallet=\? AND status=\?/);
    }
  });
});
