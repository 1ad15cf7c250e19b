import { WORKER_EXITED } from '../../src/db/sqlite-write-worker.js';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { type Address, getAddress, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadDeployerKey } from '../../src/dev/demo-assets.js';
import { decryptKey } from '../../src/keys/keystore-file.js';
import { createMemoryQueue } from '../../src/queue/memory-queue.js';
import type { RequestMessage } from '../../src/queue/types.js';
import { createReconciler } from '../../src/reconciler/reconciler.js';
import { PAUSED_CODE } from '../../src/settings/pause.js';
import { buildTransfer } from '../../src/signer/build-tx.js';
import { createSigner } from '../../src/signer/signer.js';
import { createTracker } from '../../src/tracker/tracker.js';
import { checkLedger } from '../support/ledger-check.js';
import { type Stack, startStack, TEST_API_KEY, TEST_KEYSTORE_PASSWORD, waitFor } from '../support/stack.js';

const dbKind = inject('db');
const ADMIN_PASSWORD = 'admin-password-that-must-not-leak';

/**
 * The money paths' own guards, each exercised so that removing it makes a test fail: the
 * compare-and-set on every transition, the signer's in-transaction re-check, verify-before-sign,
 * the ledger's account split, the reconciler's respect for open dead letters, and log redaction.
 * The background tracker and reconciler are held off (hour-long intervals) so the tests drive
 * them by hand.
 */
describe(`money-path guards on ${dbKind}`, () => {
  let stack: Stack;
  const logLines: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    stack = await startStack(
      dbKind,
      { logLevel: 'trace', trackerIntervalMs: 3_600_000, trackerHeadPollMs: 3_600_000, reconcileAfterSeconds: 3_600, reconcileIntervalMs: 3_600_000, devAdminPassword: ADMIN_PASSWORD },
      { logDestination: sink },
    );
  });
  afterAll(async () => {
    await stack?.teardown();
  });

  const services = () => stack.services;
  const signerDeps = () => ({ ...services(), keys: services().keys!, requests: services().queues.requests, signed: services().queues.signed });
  const newAddress = () => privateKeyToAccount(generatePrivateKey()).address;

  /** Stored exactly as the API stores it, but not queued: the test decides who handles it. */
  async function storedWithdrawal(amount = '0.1') {
    const userId = `guard-${randomUUID().slice(0, 8)}`;
    await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset: 'ETH', amount: '1', reference: randomUUID() } });
    const to = newAddress();
    const { row } = await services().withdrawals.create(
      { idempotencyKey: randomUUID(), requestHash: 'x'.repeat(64), apiKeyId: 'test', userId, asset: 'ETH', chainId: stack.chainId, toAddress: to, amount: parseEther(amount), fee: parseEther('0.0001') },
      () => ({}),
    );
    return { id: row.id, userId, to };
  }
  const journals = (withdrawalId: string, kind: string) =>
    services().db.kysely.selectFrom('ledger_entries').selectAll().where('withdrawal_id', '=', withdrawalId).where('kind', '=', kind).execute();

  it('signs one request delivered twice at once exactly once: one nonce, one hold', async () => {
    const { id } = await storedWithdrawal();
    const signer = createSigner(signerDeps());
    const outcomes = await Promise.all([signer.signWithdrawal(id), signer.signWithdrawal(id)]);
    expect(outcomes.sort()).toEqual(['signed', 'skipped']);
    const attempts = await services().db.kysely.selectFrom('tx_attempts').selectAll().where('withdrawal_id', '=', id).execute();
    expect(attempts).toHaveLength(1);
    const holds = await journals(id, 'hold');
    expect(new Set(holds.map((e) => e.journal_id)).size).toBe(1);
  });

  it('settles a receipt seen by two tracker passes at once exactly once', async () => {
    const { id, userId, to } = await storedWithdrawal('0.2');
    await createSigner(signerDeps()).signWithdrawal(id);
    const deps = { ...services(), requests: services().queues.requests, signed: services().queues.signed };
    const [a, b] = [createTracker(deps), createTracker(deps)];
    await waitFor('the pipeline to complete under two racing trackers', async () => {
      await Promise.all([a.tick(), b.tick(), a.tick()]);
      return (await services().withdrawals.get(id))?.status === 'COMPLETED' ? true : undefined;
    }, 60_000, 50);
    const settles = await journals(id, 'settle');
    expect(new Set(settles.map((e) => e.journal_id)).size).toBe(1);
    const events = (await services().withdrawals.events(id)).map((e) => `${e.from_status}->${e.to_status}`);
    expect(events.filter((e) => e === 'CONFIRMING->COMPLETED')).toHaveLength(1);
    expect(events.filter((e) => e.endsWith('->CONFIRMING'))).toHaveLength(1);

    // Each account got exactly its share: the amount to payouts, the fee to fees, the hold emptied.
    const byAccount = Object.fromEntries(settles.map((e) => [e.account, BigInt(e.amount)]));
    expect(byAccount).toEqual({ payouts: parseEther('0.2'), fees: parseEther('0.0001'), [`user:${userId}:held`]: -parseEther('0.2001') });
    expect(await stack.services.chains.get(stack.chainId)!.read((c) => c.getBalance({ address: to }))).toBe(parseEther('0.2'));
    expect((await checkLedger(services())).violations).toEqual([]);
  });

  it('refuses to move a withdrawal to a new nonce unless the chain shows its old one taken by someone else', async () => {
    const { id } = await storedWithdrawal();
    const signer = createSigner(signerDeps());
    expect(await signer.signWithdrawal(id)).toBe('signed');
    const row = (await services().withdrawals.get(id))!;
    // A mistaken or stale request: the nonce is not used on chain by a foreign tx.
    expect(await signer.handle({ withdrawalId: id, action: 'resign', nonce: Number(row.nonce) })).toBe('skipped');
    const attempts = await services().db.kysely.selectFrom('tx_attempts').selectAll().where('withdrawal_id', '=', id).execute();
    expect(attempts.map((a) => Number(a.nonce))).toEqual([Number(row.nonce)]);
  });

  it('never signs a transaction that does not match its withdrawal', async () => {
    const { id, userId } = await storedWithdrawal();
    const attacker = newAddress();
    const signer = createSigner({ ...signerDeps(), buildTransfer: (intent) => ({ ...buildTransfer(intent), to: attacker }) });
    await expect(signer.signWithdrawal(id)).rejects.toMatchObject({ code: 'tx_mismatch' });
    const row = await services().withdrawals.get(id);
    expect(row).toMatchObject({ status: 'RECEIVED', nonce: null, tx_hash: null });
    expect(await services().db.kysely.selectFrom('tx_attempts').selectAll().where('withdrawal_id', '=', id).execute()).toHaveLength(0);
    expect(await services().ledger.balances(userId)).toEqual([{ asset: 'ETH', available: parseEther('1'), held: 0n }]);
  });

  it('leaves a withdrawal whose dead letter is open to the operator', async () => {
    const { id } = await storedWithdrawal();
    await services().db.kysely.updateTable('withdrawals').set({ updated_at: 0 }).where('id', '=', id).execute();
    const sent: string[] = [];
    const requests = { ...services().queues.requests, sendBatch: async (ms: { body: { withdrawalId: string } }[]) => void sent.push(...ms.map((m) => m.body.withdrawalId)) };
    const reconciler = createReconciler({ common: services().common, db: services().db, requests: requests as never, signed: services().queues.signed });

    await services().db.kysely.transaction().execute((trx) =>
      services().deadLetters.record(trx, { queue: 'invalid', withdrawalId: id, code: 'signing_failed', reason: 'test', attempts: 10 }),
    );
    await reconciler.tick(0);
    expect(sent).not.toContain(id);

    await services().db.kysely.updateTable('dead_letters').set({ status: 'retried' }).where('withdrawal_id', '=', id).execute();
    await reconciler.tick(0);
    expect(sent).toContain(id);
  });

  it('queues a stuck withdrawal once however many tracker replicas reconcile at the same moment', async () => {
    const ids = await Promise.all(Array.from({ length: 6 }, async () => (await storedWithdrawal('0.01')).id));
    await services().db.kysely.updateTable('withdrawals').set({ updated_at: 0 }).where('id', 'in', ids).execute();
    const sentBy = (sent: string[]) => ({ ...services().queues.requests, sendBatch: async (ms: { body: { withdrawalId: string } }[]) => void sent.push(...ms.map((m) => m.body.withdrawalId)) });
    const sent: string[][] = [[], [], []];
    const replicas = sent.map((s) => createReconciler({ common: services().common, db: services().db, requests: sentBy(s) as never, signed: services().queues.signed }));

    // A minute's spacing: what one replica has just queued is not stuck for the next.
    await Promise.all(replicas.map((r) => r.tick(60_000)));
    for (const id of ids) expect(sent.flat().filter((s) => s === id), id).toHaveLength(1);
  });

  it('queues a withdrawal again at the next pass when its requeue could not be sent', async () => {
    const { id } = await storedWithdrawal('0.01');
    await services().db.kysely.updateTable('withdrawals').set({ updated_at: 0 }).where('id', '=', id).execute();
    const down = { ...services().queues.requests, sendBatch: async () => Promise.reject(new Error('queue down')) };
    await expect(createReconciler({ common: services().common, db: services().db, requests: down as never, signed: services().queues.signed }).tick(60_000)).rejects.toThrow('queue down');

    const sent: string[] = [];
    const up = { ...services().queues.requests, sendBatch: async (ms: { body: { withdrawalId: string } }[]) => void sent.push(...ms.map((m) => m.body.withdrawalId)) };
    await createReconciler({ common: services().common, db: services().db, requests: up as never, signed: services().queues.signed }).tick(60_000);
    expect(sent).toContain(id);
  });

  it('queues a withdrawal whose pause was lifted once however many tracker replicas reconcile at the same moment', async () => {
    const ids = await Promise.all(Array.from({ length: 6 }, async () => (await storedWithdrawal('0.01')).id));
    // As the signer leaves one it let go during a pause (no pause is set now: it was lifted).
    await services().db.kysely.updateTable('withdrawals').set({ failure_code: PAUSED_CODE, failure_reason: 'paused' }).where('id', 'in', ids).execute();
    const sentBy = (sent: string[]) => ({ ...services().queues.requests, sendBatch: async (ms: { body: { withdrawalId: string } }[]) => void sent.push(...ms.map((m) => m.body.withdrawalId)) });
    const sent: string[][] = [[], [], []];
    const replicas = sent.map((s) => createReconciler({ common: services().common, db: services().db, requests: sentBy(s) as never, signed: services().queues.signed, pauses: services().pauses }));

    await Promise.all(replicas.map((r) => r.tick(60_000)));
    for (const id of ids) expect(sent.flat().filter((s) => s === id), id).toHaveLength(1);
  });

  it('resumes a withdrawal at the next pass when its resume could not be sent', async () => {
    const { id } = await storedWithdrawal('0.01');
    await services().db.kysely.updateTable('withdrawals').set({ failure_code: PAUSED_CODE, failure_reason: 'paused' }).where('id', '=', id).execute();
    const down = { ...services().queues.requests, sendBatch: async () => Promise.reject(new Error('queue down')) };
    await expect(createReconciler({ common: services().common, db: services().db, requests: down as never, signed: services().queues.signed, pauses: services().pauses }).tick(60_000)).rejects.toThrow('queue down');

    const sent: string[] = [];
    const up = { ...services().queues.requests, sendBatch: async (ms: { body: { withdrawalId: string } }[]) => void sent.push(...ms.map((m) => m.body.withdrawalId)) };
    await createReconciler({ common: services().common, db: services().db, requests: up as never, signed: services().queues.signed, pauses: services().pauses }).tick(60_000);
    expect(sent).toContain(id);
  });

  it('never dead-letters or rejects a request because the database blinked', async () => {
    const { id } = await storedWithdrawal();
    // The signer's database loses its connection on every transaction, the way mysql2 reports it.
    const lost = Object.assign(new Error('Connection lost: The server closed the connection.'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true });
    const kysely = new Proxy(services().db.kysely, {
      // Other methods run on the real instance (Kysely keeps private fields a Proxy cannot reach).
      get: (target, prop) => {
        if (prop === 'transaction') return () => ({ execute: () => Promise.reject(lost) });
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    // A SQLite file's write transactions run on the write worker: it dies under every task.
    const exited = Object.assign(new Error('The SQLite write worker stopped; the task may or may not have committed.'), { code: WORKER_EXITED });
    const sqliteWriter = services().db.sqliteWriter && { run: () => Promise.reject(exited), start: () => {}, preload: () => {}, close: async () => {} };
    const requests = createMemoryQueue<RequestMessage>('blink-requests');
    const stop = new AbortController();
    const common = { ...services().common, signal: stop.signal, config: { ...services().common.config, signerMaxAttempts: 1 } };
    const db = { ...services().db, kysely, ...(sqliteWriter ? { sqliteWriter } : {}) };
    const running = createSigner({ ...signerDeps(), common, db, requests }).run();
    await requests.send({ withdrawalId: id });
    await waitFor('the request to be given up', async () => ((await requests.depth()) === 0 ? true : undefined), 10_000, 20);
    stop.abort();
    await running;
    expect((await services().withdrawals.get(id))?.status).toBe('RECEIVED');
    const letters = await services().deadLetters.list({});
    expect(letters.filter((l) => l.withdrawal_id === id)).toEqual([]);
  });

  it('writes no secret to any log line, even at trace level', async () => {
    // A full withdrawal through the API, so every component logs.
    const userId = `logs-${randomUUID().slice(0, 8)}`;
    await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset: 'ETH', amount: '1', reference: randomUUID() } });
    const res = await stack.request('POST', '/v1/withdrawals', {
      body: { userId, asset: 'ETH', chainId: stack.chainId, toAddress: getAddress(newAddress()), amount: '0.1' },
      headers: { 'idempotency-key': randomUUID() },
    });
    const deps = { ...services(), requests: services().queues.requests, signed: services().queues.signed };
    const tracker = createTracker(deps);
    await waitFor('completion', async () => {
      await tracker.tick();
      return (await services().withdrawals.get(res.body.id))?.status === 'COMPLETED' ? true : undefined;
    }, 60_000, 100);

    const keystoreDir = path.join(stack.dataDir, 'keystore');
    const hotKeys = await Promise.all(
      fs.readdirSync(keystoreDir).map((f) => decryptKey(JSON.parse(fs.readFileSync(path.join(keystoreDir, f), 'utf8')), TEST_KEYSTORE_PASSWORD)),
    );
    const secrets = [TEST_API_KEY, TEST_KEYSTORE_PASSWORD, ADMIN_PASSWORD, await loadDeployerKey(stack.dataDir, TEST_KEYSTORE_PASSWORD), ...hotKeys];
    expect(hotKeys.length).toBeGreaterThanOrEqual(2); // the hot wallet and the demo deployer
    expect(logLines.length).toBeGreaterThan(20);
    expect(services().common.logger.level).toBe('trace'); // everything any component logs was written
    for (const secret of secrets) {
      const bare = secret.replace(/^0x/, '').toLowerCase();
      const leaked = logLines.filter((l) => l.toLowerCase().includes(bare));
      expect({ secret: `${secret.slice(0, 6)}…`, leaked }).toEqual({ secret: `${secret.slice(0, 6)}…`, leaked: [] });
    }
  });
});
