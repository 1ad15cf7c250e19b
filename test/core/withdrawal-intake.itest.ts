import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { registerHealthRoutes } from '../../src/api/routes/health.js';
import { createApiServer } from '../../src/api/server.js';
import { SCOPES } from '../../src/auth/api-keys.js';
import { createMemoryCache } from '../../src/cache/memory-cache.js';
import { loadConfig } from '../../src/config/load.js';
import { openDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createMemoryQueue } from '../../src/queue/memory-queue.js';
import type { DeadLetterMessage, RequestMessage, SignedMessage } from '../../src/queue/types.js';
import { createServices, type Services } from '../../src/runtime/services.js';
import { createWithdrawalIntake, DatabaseUnavailableError } from '../../src/withdrawals/create-batcher.js';
import { IdempotencyKeyReusedError } from '../../src/withdrawals/errors.js';
import type { NewWithdrawal, WithdrawalRow } from '../../src/withdrawals/repository.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const dbKind = inject('db');
const CHAIN_ID = 31337;
const KEY_A = 'sk_intake_test_key_a_0123456789abcdef';
const KEY_B = 'sk_intake_test_key_b_0123456789abcdef';
const KEY_NO_ADMIN = 'sk_intake_test_key_c_0123456789abcdef';

/**
 * The group-committed accept path (POST /v1/withdrawals) on a real database, without a chain: only
 * the API and the database. Each test checks what the callers were answered against what the
 * database holds: every 202 is a committed row with its one RECEIVED event, nothing else is stored.
 */
describe(`withdrawal intake (group commit) on ${dbKind}`, () => {
  let database: TestDatabase;
  let services: Services;
  let app: FastifyInstance;
  let url: string;
  let apiKeyIds: { a: string; b: string };

  beforeAll(async () => {
    database = await createTestDatabase(dbKind);
    const config = loadConfig({}, { dbUrl: database.url, logLevel: 'fatal', rateLimitPerSecond: 0 });
    const db = openDatabase(database.url, { poolSize: 10 });
    await migrateToLatest(db);
    const queues = {
      requests: createMemoryQueue<RequestMessage>('tx-requests'),
      signed: createMemoryQueue<SignedMessage>('signed-tx'),
      invalidDlq: createMemoryQueue<DeadLetterMessage>('invalid-dlq'),
      txDlq: createMemoryQueue<DeadLetterMessage>('tx-dlq'),
    };
    const common = { config, logger: createLogger({ level: 'fatal' }), metrics: createMetrics(), signal: new AbortController().signal };
    services = createServices({ common, db, queues, chains: new Map(), keys: null, cache: createMemoryCache() });
    await services.assets.upsertAsset('ETH', 18);
    await services.assets.upsertNetwork({
      asset: 'ETH', chainId: CHAIN_ID, chainName: 'test', kind: 'native', contract: null, decimals: 18,
      withdrawalFee: 10n ** 14n, minAmount: 10n ** 12n, maxAmount: 10n ** 24n, gasLimit: 21_000, enabled: true,
    });
    await services.apiKeys.ensure({ name: 'client-a', scopes: [...SCOPES], key: KEY_A });
    await services.apiKeys.ensure({ name: 'client-b', scopes: [...SCOPES], key: KEY_B });
    await services.apiKeys.ensure({ name: 'client-c', scopes: ['withdrawals:write', 'withdrawals:read'], key: KEY_NO_ADMIN });
    apiKeyIds = { a: (await services.apiKeys.authenticate(KEY_A))!.id, b: (await services.apiKeys.authenticate(KEY_B))!.id };
    app = await createApiServer(services);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await app?.close();
    await services?.db.close();
    await database?.drop();
  });

  const body = (overrides: Record<string, unknown> = {}) => ({
    userId: `u-${randomUUID().slice(0, 8)}`, asset: 'ETH', chainId: CHAIN_ID, toAddress: '0x000000000000000000000000000000000000dEaD', amount: '0.5', ...overrides,
  });
  async function post(b: unknown, idempotencyKey: string, apiKey = KEY_A) {
    const res = await fetch(`${url}/v1/withdrawals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      body: JSON.stringify(b),
    });
    return { status: res.status, replayed: res.headers.get('idempotent-replayed') === 'true', body: (await res.json()) as any };
  }
  const rowsFor = (keys: string[], apiKeyId = apiKeyIds.a) =>
    services.db.kysely.selectFrom('withdrawals').selectAll().where('api_key_id', '=', apiKeyId).where('idempotency_key', 'in', keys).execute();
  const eventsFor = (ids: string[]) => services.db.kysely.selectFrom('withdrawal_events').selectAll().where('withdrawal_id', 'in', ids).execute();

  it('stores 100 keys sent 3 times each, all at once, once each: every caller of a key gets the same answer', async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `dup-${i}-${randomUUID()}`);
    const bodies = keys.map(() => body());
    const depthBefore = await services.queues.requests.depth();
    // Interleaved: key 0, 1, …, 99, then again, then again; all in flight together.
    const calls = [0, 1, 2].flatMap(() => keys.map((k, i) => post(bodies[i], k)));
    const responses = await Promise.all(calls);

    expect(responses.map((r) => r.status)).toEqual(Array(300).fill(202));
    for (let i = 0; i < keys.length; i++) {
      const mine = [responses[i]!, responses[100 + i]!, responses[200 + i]!];
      expect(new Set(mine.map((r) => JSON.stringify(r.body))).size).toBe(1);
      expect(mine.filter((r) => !r.replayed)).toHaveLength(1);
    }
    const rows = await rowsFor(keys);
    expect(rows).toHaveLength(100);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(responses.map((r) => r.body.id)));
    const events = await eventsFor(rows.map((r) => r.id));
    expect(events).toHaveLength(100);
    expect(events.every((e) => e.to_status === 'RECEIVED' && e.from_status === null)).toBe(true);
    expect((await services.queues.requests.depth()) - depthBefore).toBe(100); // one signing request per new row
  });

  it('answers a batch of new, replayed, conflicting and in-batch duplicate requests each on its own merits', async () => {
    const stored = body();
    const storedKey = `stored-${randomUUID()}`;
    const first = await post(stored, storedKey);
    expect(first.status).toBe(202);

    const batches: WithdrawalRow[][] = [];
    const metrics = createMetrics();
    const intake = createWithdrawalIntake({ db: services.db, logger: createLogger({ level: 'fatal' }), metrics, afterCommit: async (rows) => void batches.push(rows) });
    const input = (b: ReturnType<typeof body>, key: string, hash: string): NewWithdrawal => ({
      idempotencyKey: key, requestHash: hash, apiKeyId: apiKeyIds.a, userId: b.userId, asset: 'ETH', chainId: CHAIN_ID, toAddress: b.toAddress, amount: 5n * 10n ** 17n, fee: 10n ** 14n,
    });
    const storedRow = (await rowsFor([storedKey]))[0]!;
    const fresh = Array.from({ length: 5 }, (_, i) => ({ key: `fresh-${i}-${randomUUID()}`, b: body() }));
    const twin = { key: `twin-${randomUUID()}`, b: body() };
    const render = (row: WithdrawalRow) => ({ id: row.id });
    // All submitted in one tick: they form one batch.
    const settled = await Promise.allSettled([
      ...fresh.map((f) => intake.create(input(f.b, f.key, `h-${f.key}`), render)),
      intake.create(input(stored, storedKey, storedRow.request_hash), render), // replay of a stored one
      intake.create(input(stored, storedKey, 'another-body'), render), // same key, other body
      intake.create(input(twin.b, twin.key, 'twin-body-1'), render), // new key …
      intake.create(input(twin.b, twin.key, 'twin-body-1'), render), // … twice in the batch, same body
      intake.create(input(twin.b, twin.key, 'twin-body-2'), render), // … and once with another body
    ]);

    expect(batches).toHaveLength(1);
    expect(batches[0]!.map((r) => r.idempotency_key).sort()).toEqual([...fresh.map((f) => f.key), twin.key].sort());
    // One transaction carried the 5 fresh rows, the stored key's replay and the twin; the
    // requests that waited for an earlier one of their key were never in a batch.
    expect(await batchFigures(metrics)).toEqual({ batches: 1, items: 7 });
    const value = (i: number) => (settled[i]!.status === 'fulfilled' ? (settled[i] as PromiseFulfilledResult<any>).value : undefined);
    for (let i = 0; i < 5; i++) expect(value(i)).toMatchObject({ replayed: false });
    expect(value(5)).toMatchObject({ replayed: true, row: { id: storedRow.id }, response: first.body });
    expect(settled[6]).toMatchObject({ status: 'rejected', reason: expect.any(IdempotencyKeyReusedError) });
    expect(value(7)).toMatchObject({ replayed: false });
    expect(value(8)).toMatchObject({ replayed: true, row: { id: value(7).row.id } });
    expect(settled[9]).toMatchObject({ status: 'rejected', reason: expect.any(IdempotencyKeyReusedError) });

    const rows = await rowsFor([...fresh.map((f) => f.key), twin.key, storedKey]);
    expect(rows).toHaveLength(7);
    expect(await eventsFor(rows.map((r) => r.id))).toHaveLength(7);
  });

  it('stores the next batch while the last one is still being handed to the signer queue, and answers each caller only after its own hand-off', async () => {
    const render = (row: WithdrawalRow) => ({ id: row.id });
    const input = (key: string): NewWithdrawal => ({
      idempotencyKey: key, requestHash: `h-${key}`, apiKeyId: apiKeyIds.a, userId: 'queue-slow', asset: 'ETH', chainId: CHAIN_ID,
      toAddress: '0x000000000000000000000000000000000000dEaD', amount: 10n ** 17n, fee: 10n ** 14n,
    });
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const handedOff: string[][] = [];
    // One batch at a time, and the first batch's hand-off (an SQS send in production) hangs until the gate opens.
    const intake = createWithdrawalIntake({
      db: services.db, logger: createLogger({ level: 'fatal' }), metrics: createMetrics(), concurrency: 1,
      afterCommit: async (rows) => {
        handedOff.push(rows.map((r) => r.idempotency_key));
        if (handedOff.length === 1) await gate;
      },
    });
    const [k1, k2] = [`slow-1-${randomUUID()}`, `slow-2-${randomUUID()}`];
    let firstAnswered = false;
    const first = intake.create(input(k1), render).then((r) => ((firstAnswered = true), r));
    await waitUntil(() => handedOff.length === 1);
    try {
      const waited = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the second batch waited for the first one's hand-off")), 5_000));
      const second = await Promise.race([intake.create(input(k2), render), waited]);

      // The second batch was stored and answered while the first one's hand-off still hung.
      expect(second.replayed).toBe(false);
      expect(handedOff).toEqual([[k1], [k2]]);
      expect(firstAnswered).toBe(false);
      expect((await rowsFor([k1, k2])).map((r) => r.idempotency_key).sort()).toEqual([k1, k2].sort());
    } finally {
      openGate();
    }
    expect((await first).replayed).toBe(false);
  });

  it('a row the database refuses fails alone: the rest of its batch is stored', async () => {
    const render = (row: WithdrawalRow) => ({ id: row.id });
    const good = Array.from({ length: 4 }, () => `good-${randomUUID()}`);
    const badKey = `bad-${randomUUID()}`;
    const input = (key: string, userId: string | null): NewWithdrawal => ({
      idempotencyKey: key, requestHash: `h-${key}`, apiKeyId: apiKeyIds.a, userId: userId as string, asset: 'ETH', chainId: CHAIN_ID,
      toAddress: '0x000000000000000000000000000000000000dEaD', amount: 10n ** 17n, fee: 10n ** 14n,
    });
    // user_id is NOT NULL: this one row makes the batch's INSERT fail on both databases.
    const before = await batchFigures(services.common.metrics);
    const settled = await Promise.allSettled([
      ...good.slice(0, 2).map((k) => services.withdrawalIntake.create(input(k, 'someone'), render)),
      services.withdrawalIntake.create(input(badKey, null), render),
      ...good.slice(2).map((k) => services.withdrawalIntake.create(input(k, 'someone'), render)),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((settled[2] as PromiseRejectedResult).reason).not.toBeInstanceOf(DatabaseUnavailableError);
    const rows = await rowsFor([...good, badKey]);
    expect(rows.map((r) => r.idempotency_key).sort()).toEqual([...good].sort());
    expect(await eventsFor(rows.map((r) => r.id))).toHaveLength(4);
    // The failed batch of 5 and the 5 transactions of one row after it, each timed.
    const after = await batchFigures(services.common.metrics);
    expect({ batches: after.batches - before.batches, items: after.items - before.items }).toEqual({ batches: 6, items: 10 });
  });

  it('scopes Idempotency-Keys per API key: two clients with one key string get two withdrawals and never see each other\'s', async () => {
    const key = `shared-${randomUUID()}`;
    const bodyA = body({ amount: '0.25' });
    const bodyB = body({ amount: '0.75' });
    const [a, b] = await Promise.all([post(bodyA, key, KEY_A), post(bodyB, key, KEY_B)]);
    expect([a.status, b.status, a.replayed, b.replayed]).toEqual([202, 202, false, false]);
    expect(a.body.id).not.toBe(b.body.id);
    expect(a.body).toMatchObject({ amount: '0.25', userId: bodyA.userId });
    expect(b.body).toMatchObject({ amount: '0.75', userId: bodyB.userId });

    // Each client's replay returns its own withdrawal; another body under the key is a 422 for that client only.
    const [againA, againB] = await Promise.all([post(bodyA, key, KEY_A), post(bodyB, key, KEY_B)]);
    expect([againA.replayed, againA.body.id, againB.replayed, againB.body.id]).toEqual([true, a.body.id, true, b.body.id]);
    const crossed = await post(bodyB, key, KEY_A);
    expect([crossed.status, crossed.body.code]).toEqual([422, 'idempotency_key_reused']);
    expect(crossed.body.id).toBeUndefined();
    expect(await rowsFor([key], apiKeyIds.a)).toHaveLength(1);
    expect(await rowsFor([key], apiKeyIds.b)).toHaveLength(1);
    // The unique index itself, not only the code, keeps one row per (API key, key).
    const row = (await rowsFor([key], apiKeyIds.a))[0]!;
    await expect(services.db.kysely.insertInto('withdrawals').values({ ...row, id: `wd_${randomUUID().slice(0, 20)}` }).execute()).rejects.toThrow();
  });

  it('anonymous /readyz says only ready or not; the checks and their errors need an admin key', async () => {
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready' });

    const down = Fastify({ logger: false });
    const secret = 'error: connect ECONNREFUSED 10.1.2.3:3306 (user sluice_prod)';
    registerHealthRoutes(down, services, async () => ({ ready: false, checks: { database: secret, cache: 'ok' } }));
    await down.listen({ host: '127.0.0.1', port: 0 });
    try {
      const base = `http://127.0.0.1:${(down.server.address() as { port: number }).port}`;
      const anonymous = await fetch(`${base}/readyz`);
      const text = await anonymous.text();
      expect([anonymous.status, JSON.parse(text)]).toEqual([503, { status: 'not_ready' }]);
      expect(text).not.toContain('10.1.2.3');
      expect((await fetch(`${base}/readyz/details`)).status).toBe(401);
      expect((await fetch(`${base}/readyz/details`, { headers: { authorization: `Bearer ${KEY_NO_ADMIN}` } })).status).toBe(403);
      const details = await fetch(`${base}/readyz/details`, { headers: { authorization: `Bearer ${KEY_A}` } });
      expect([details.status, await details.json()]).toEqual([503, { status: 'not_ready', checks: { database: secret, cache: 'ok' } }]);
    } finally {
      await down.close();
    }
  });

  if (dbKind === 'sqlite') {
    it('the database file locked by another process past every retry: 503 and nothing stored, then a retry with the same key is stored once', async () => {
      const keys = Array.from({ length: 20 }, (_, i) => `locked-${i}-${randomUUID()}`);
      const bodies = keys.map(() => body());
      const file = database.url.slice('sqlite:'.length);
      // Three tries of the 5 s busy timeout each: the lock outlasts them all.
      const holder = spawn(process.execPath, ['-e', `const db = new (require('better-sqlite3'))(${JSON.stringify(file)}); db.exec('BEGIN EXCLUSIVE'); console.log('locked'); setTimeout(() => { db.exec('COMMIT'); db.close(); }, 17000);`], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.once('data', () => resolve());
        holder.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
      });
      const during = await Promise.all(keys.map((k, i) => post(bodies[i], k)));
      await new Promise((r) => holder.once('exit', r));

      expect(during.map((r) => [r.status, r.body.code])).toEqual(Array(keys.length).fill([503, 'database_unavailable']));
      expect(await rowsFor(keys)).toEqual([]);
      const after = await Promise.all(keys.map((k, i) => post(bodies[i], k)));
      expect(after.map((r) => [r.status, r.replayed])).toEqual(Array(keys.length).fill([202, false]));
      const rows = await rowsFor(keys);
      expect(rows).toHaveLength(keys.length);
      expect(await eventsFor(rows.map((r) => r.id))).toHaveLength(keys.length);
    });
  }

  if (dbKind === 'mysql') it('connections killed while batches commit: every 202 is stored once with its event, the rest get 503, and a retry with the same key completes', async () => {
    const keys = Array.from({ length: 400 }, (_, i) => `kill-${i}-${randomUUID()}`);
    const bodies = keys.map(() => body());
    const dbName = new URL(database.url).pathname.slice(1);
    const admin = await createConnection(database.url);
    let killed = 0;
    let stop = false;
    const killer = (async () => {
      while (!stop) {
        const [rows] = await admin.query('SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()', [dbName]);
        for (const { id } of rows as Array<{ id: number }>) {
          await admin.query(`KILL CONNECTION ${Number(id)}`).catch(() => {});
          killed += 1;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const first: Array<Awaited<ReturnType<typeof post>>> = [];
    for (let i = 0; i < keys.length; i += 50) first.push(...(await Promise.all(keys.slice(i, i + 50).map((k, j) => post(bodies[i + j], k)))));
    stop = true;
    await killer;
    await admin.end();

    expect(killed).toBeGreaterThan(0);
    expect(first.filter((r) => r.status !== 202 && r.status !== 503).map((r) => [r.status, r.body.code, r.body.detail])).toEqual([]);
    for (const r of first.filter((x) => x.status === 503)) expect(r.body.code).toBe('database_unavailable');
    const accepted = first.filter((r) => r.status === 202);
    const stored = await rowsFor(keys);
    const storedIds = new Set(stored.map((r) => r.id));
    for (const r of accepted) expect(storedIds.has(r.body.id)).toBe(true); // nothing acknowledged is lost

    // Clients retry what failed, with the same key: each key ends with exactly one row and one event.
    const retried = await Promise.all(keys.map((k, i) => (first[i]!.status === 202 ? first[i]! : post(bodies[i], k))));
    expect(retried.map((r) => r.status)).toEqual(Array(keys.length).fill(202));
    const rows = await rowsFor(keys);
    expect(rows).toHaveLength(keys.length);
    for (let i = 0; i < keys.length; i++) expect(rows.find((r) => r.idempotency_key === keys[i])!.id).toBe(retried[i]!.body.id);
    expect(await eventsFor(rows.map((r) => r.id))).toHaveLength(keys.length);
  });
});

/** What sluice_db_batch_seconds and sluice_db_batch_rows_total hold for the API's group commit. */
async function batchFigures(metrics: ReturnType<typeof createMetrics>): Promise<{ batches: number; items: number }> {
  const seconds = await metrics.dbBatchSeconds.get();
  const rows = await metrics.dbBatchRows.get();
  const batches = seconds.values.find((v) => v.metricName === 'sluice_db_batch_seconds_count' && v.labels.batch === 'intake')?.value ?? 0;
  const items = rows.values.find((v) => v.labels.batch === 'intake')?.value ?? 0;
  return { batches, items };
}

async function waitUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!done()) throw new Error('condition not reached within 5 s');
}
