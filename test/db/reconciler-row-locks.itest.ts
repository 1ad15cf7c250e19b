import { createConnection, type Connection } from 'mysql2/promise';
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
 * The reconciler claims the rows it queues again with FOR UPDATE SKIP LOCKED: a row another
 * transaction holds (a signer's batch, another tracker replica's claim) is skipped, not waited
 * for, so a pass never joins a lock cycle and never queues a row a replica is queueing. Until
 * stop 63 it marked them in a transaction of its own that MariaDB could pick as a deadlock victim
 * (made here with a real lock held by another connection: that pass waited, then ran again).
 */
describe('reconciler on MariaDB, beside a transaction that holds a stuck row', () => {
  let testDb: MigratedDatabase;
  let db: Db;
  let other: Connection;

  beforeAll(async () => {
    testDb = await openMigratedDatabase('mysql', { poolSize: 2 });
    db = testDb.db;
    other = await createConnection(testDb.url);
  });
  afterAll(async () => {
    await other?.query('rollback').catch(() => undefined);
    await other?.end();
    await testDb?.close();
  });

  it('queues the free row at once, and the held one at a pass after it is released', async () => {
    const t = Date.now() - 60_000;
    const rows = [0, 1].map((i) => newWithdrawalRow({ idempotencyKey: `stuck-${i}`, requestHash: 'h', apiKeyId: 'k', userId: `u${i}`, asset: 'ETH', chainId: 1, toAddress: '0x70997970C51812dc3A010C0d44b50aC1E3D6a4c9', amount: 1n, fee: 0n }, () => ({}), t + i).row);
    await insertWithdrawals(db, rows);
    const [free, held] = rows.map((r) => r.id) as [string, string];

    const requests = createMemoryQueue<RequestMessage>('requests');
    const signed = createMemoryQueue<SignedMessage>('signed');
    const common = { config: loadConfig({}, { logLevel: 'silent' }), logger: createLogger({ level: 'silent' }), metrics: createMetrics(), signal: new AbortController().signal };
    const reconciler = createReconciler({ common, db, requests, signed });

    await other.query('begin');
    await other.query('select id from withdrawals where id = ? for update', [held]);
    // With the lock still held: the pass must not wait for it (InnoDB's lock wait is 50 s).
    const pass = await Promise.race([reconciler.tick(30_000), sleep(5_000).then(() => 'waited for the lock' as const)]);
    expect(pass).toEqual({ requeued: 1 });
    const marked = async () => Object.fromEntries((await db.kysely.selectFrom('withdrawals').select(['id', 'requeued_at']).execute()).map((r) => [r.id, r.requeued_at !== null]));
    expect(await marked()).toEqual({ [free]: true, [held]: false });
    expect(await requests.depth()).toBe(1);

    await other.query('commit');
    // The free row was just queued (not stuck again for 30 s); the released one is taken now.
    await expect(reconciler.tick(30_000)).resolves.toEqual({ requeued: 1 });
    expect(await marked()).toEqual({ [free]: true, [held]: true });
    expect(await requests.depth()).toBe(2);
  });
});
