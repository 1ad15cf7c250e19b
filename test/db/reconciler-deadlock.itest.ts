import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/connect.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createMemoryQueue } from '../../src/queue/memory-queue.js';
import type { RequestMessage, SignedMessage } from '../../src/queue/types.js';
import { createReconciler } from '../../src/reconciler/reconciler.js';
import { sleep } from '../../src/util/sleep.js';
import { insertWithdrawals } from '../../src/withdrawals/insert-batch.js';
import { newWithdrawalRow } from '../../src/withdrawals/repository.js';
import { type MigratedDatabase, openMigratedDatabase } from '../support/database.js';

/**
 * The reconciler marks the rows it queued again in a transaction of its own; when MariaDB picks
 * that transaction as a deadlock victim (another one locks the same rows in another order), it is
 * run again, and the pass still succeeds. Made here with a real deadlock: a heavier transaction
 * holds the higher row while the reconciler's UPDATE, holding the lower one, waits for it, then
 * asks for the lower one.
 */
describe('reconciler on MariaDB, chosen as a deadlock victim', () => {
  let testDb: MigratedDatabase;
  let db: Db;
  let other: Connection;
  let watcher: Connection;

  beforeAll(async () => {
    testDb = await openMigratedDatabase('mysql', { poolSize: 2 });
    db = testDb.db;
    other = await createConnection(testDb.url);
    watcher = await createConnection(testDb.url);
  });
  afterAll(async () => {
    await other?.end();
    await watcher?.end();
    await testDb?.close();
  });

  const deadlocks = async () => {
    const [rows] = await watcher.query<RowDataPacket[]>("show global status like 'Innodb_deadlocks'");
    return Number(rows[0]!.Value);
  };

  it('runs its requeued_at update again and reports both withdrawals queued', async () => {
    const t = Date.now() - 60_000;
    const rows = [0, 1].map((i) => newWithdrawalRow({ idempotencyKey: `stuck-${i}`, requestHash: 'h', apiKeyId: 'k', userId: `u${i}`, asset: 'ETH', chainId: 1, toAddress: '0x70997970C51812dc3A010C0d44b50aC1E3D6a4c9', amount: 1n, fee: 0n }, () => ({}), t + i).row);
    await insertWithdrawals(db, rows);
    const [low, high] = rows.map((r) => r.id).sort();

    const requests = createMemoryQueue<RequestMessage>('requests');
    const signed = createMemoryQueue<SignedMessage>('signed');
    const common = { config: loadConfig({}, { logLevel: 'silent' }), logger: createLogger({ level: 'silent' }), metrics: createMetrics(), signal: new AbortController().signal };
    const reconciler = createReconciler({ common, db, requests, signed });
    const before = await deadlocks();

    // The other transaction: heavier (InnoDB rolls back the lighter of the two), holding `high`.
    await other.query('begin');
    for (let i = 0; i < 50; i++) await other.query("insert into withdrawal_events (withdrawal_id, from_status, to_status, created_at) values ('ballast', null, 'RECEIVED', 0)");
    await other.query('select id from withdrawals where id = ? for update', [high]);

    const pass = reconciler.tick(0);
    pass.catch(() => {}); // awaited below; not unhandled while the other transaction works
    // Its UPDATE walks the ids in order: `low` locked, then waiting for `high`.
    for (let waited = 0; ; waited += 20) {
      const [list] = await watcher.query<RowDataPacket[]>('show processlist');
      if (list.some((p) => typeof p.Info === 'string' && p.Info.startsWith('update `withdrawals` set `requeued_at`'))) break;
      if (waited > 10_000) throw new Error('the reconciler never reached its requeued_at update');
      await sleep(20);
    }
    await sleep(200);
    // The cycle: the reconciler is rolled back, and this lock is granted.
    await other.query('select id from withdrawals where id = ? for update', [low]);
    await other.query('commit');

    await expect(pass).resolves.toEqual({ requeued: 2 });
    expect(await deadlocks()).toBeGreaterThan(before);
    const marked = await db.kysely.selectFrom('withdrawals').select(['id', 'requeued_at']).orderBy('id').execute();
    expect(marked.map((r) => r.id)).toEqual([low, high]);
    expect(marked.every((r) => r.requeued_at !== null)).toBe(true);
    expect(await requests.depth()).toBe(2);
  });
});
