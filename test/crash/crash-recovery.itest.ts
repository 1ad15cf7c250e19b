import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Address, createPublicClient, http, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type AnvilHandle, getFreePort, startAnvil } from '../../src/chain/anvil.js';
import { type Db, openDatabase } from '../../src/db/connect.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { type SluiceChild, spawnSluice } from '../support/child.js';
import { waitFor } from '../support/stack.js';

const dbKind = inject('db');
type CrashPoint = 'after-reserve' | 'signed-ahead' | 'after-sign' | 'after-broadcast';
const API_KEY = 'sk_crash_test_key_0123456789abcdefghij';

/**
 * A real `sluice dev` child process is SIGKILLed at an exact point (SLUICE_CRASH_AT), then
 * restarted on the same data dir and the same chain. Each withdrawal must complete with exactly
 * one on-chain transfer, and the wallet's nonces must stay contiguous.
 */
describe(`crash recovery (${dbKind})`, () => {
  let anvil: AnvilHandle;
  let database: TestDatabase;
  let dataDir: string;
  let port: number;
  let child: SluiceChild | undefined;
  const client = () => createPublicClient({ transport: http(anvil.rpcUrl) });

  beforeAll(async () => {
    anvil = await startAnvil({ blockTime: 0.25, silent: true });
    database = await createTestDatabase(dbKind);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-crash-'));
    port = await getFreePort();
  });
  afterAll(async () => {
    child?.process.kill('SIGKILL');
    await anvil?.stop();
    await database?.drop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const url = (p: string) => `http://127.0.0.1:${port}${p}`;
  const api = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(url(p), {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  async function start(crashAt?: CrashPoint): Promise<SluiceChild> {
    const c = spawnSluice(['dev'], {
      SLUICE_DATA_DIR: dataDir,
      SLUICE_DB_URL: database.url,
      SLUICE_DEVNET_RPC_URL: anvil.rpcUrl,
      SLUICE_PORT: String(port),
      SLUICE_DEV_API_KEY: API_KEY,
      SLUICE_KEYSTORE_PASSWORD: 'crash-test-password',
      SLUICE_LOG_LEVEL: 'fatal',
      SLUICE_TRACKER_INTERVAL_MS: '100',
      ...(crashAt ? { SLUICE_CRASH_AT: crashAt } : {}),
    });
    child = c;
    await waitFor('sluice to be ready', async () => {
      if (c.process.exitCode !== null || c.process.signalCode !== null) throw new Error(`sluice exited early:\n${c.output()}`);
      const res = await fetch(url('/readyz')).catch(() => null);
      return res?.status === 200 ? true : undefined;
    }, 60_000, 200);
    return c;
  }

  async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const db = openDatabase(database.url);
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  }

  async function hotWallet(): Promise<{ address: Address; nextNonce: number }> {
    return withDb(async (db) => {
      const w = await db.kysely.selectFrom('wallets').selectAll().executeTakeFirstOrThrow();
      return { address: w.address as Address, nextNonce: Number(w.next_nonce) };
    });
  }

  /** A withdrawal of its own user, through to COMPLETED (the first signing of a lane after a start reserves first). */
  async function completeOne(): Promise<void> {
    const user = `warm-${randomUUID().slice(0, 8)}`;
    expect((await api('POST', '/v1/ledger/credits', { userId: user, asset: 'ETH', amount: '1', reference: randomUUID() })).status).toBe(201);
    const to = privateKeyToAccount(generatePrivateKey()).address;
    const created = await api('POST', '/v1/withdrawals', { userId: user, asset: 'ETH', chainId: 31337, toAddress: to, amount: '0.1' }, { 'idempotency-key': randomUUID() });
    expect(created.status).toBe(202);
    await waitFor('the warm-up withdrawal to complete', async () => ((await api('GET', `/v1/withdrawals/${created.body.id}`)).body.status === 'COMPLETED' ? true : undefined));
  }

  async function crashScenario(point: CrashPoint, statusAtCrash: string) {
    const c = await start(point);
    // A signature is made ahead of its commit only on a lane this process has already reserved on.
    if (point === 'signed-ahead') await completeOne();
    const user = `crash-${randomUUID().slice(0, 8)}`;
    const to = privateKeyToAccount(generatePrivateKey()).address;
    expect((await api('POST', '/v1/ledger/credits', { userId: user, asset: 'ETH', amount: '1', reference: randomUUID() })).status).toBe(201);
    const { address: wallet } = await hotWallet();
    const chainNonceBefore = await client().getTransactionCount({ address: wallet });

    const created = await api('POST', '/v1/withdrawals', { userId: user, asset: 'ETH', chainId: 31337, toAddress: to, amount: '0.3' }, { 'idempotency-key': randomUUID() });
    expect(created.status).toBe(202);
    const exit = await c.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(c.output()).toContain('SLUICE_CRASH_AT reached');

    const atCrash = await withDb((db) => db.kysely.selectFrom('withdrawals').selectAll().where('id', '=', created.body.id).executeTakeFirstOrThrow());
    expect(atCrash.status).toBe(statusAtCrash);
    if (point === 'after-reserve') {
      // Funds held and a nonce reserved, nothing signed yet: the restart must sign at that nonce.
      expect(atCrash.nonce).not.toBeNull();
      expect(atCrash.tx_hash).toBeNull();
    }
    if (point === 'signed-ahead') {
      // Signed, but the commit that would have taken the nonce, the hold and the bytes never ran.
      expect(atCrash.nonce).toBeNull();
      expect(atCrash.tx_hash).toBeNull();
      expect(await withDb((db) => db.kysely.selectFrom('tx_attempts').select('id').where('withdrawal_id', '=', created.body.id).execute())).toEqual([]);
      const balance = await withDb((db) => db.kysely.selectFrom('balances').select(['held']).where('user_id', '=', user).executeTakeFirstOrThrow());
      expect(BigInt(balance.held)).toBe(0n); // no hold either
    }
    if (point !== 'after-broadcast') {
      // Nothing reached the chain.
      expect(await client().getTransactionCount({ address: wallet, blockTag: 'pending' })).toBe(chainNonceBefore);
    }

    await start();
    const done = await waitFor('withdrawal to complete after restart', async () => {
      const w = (await api('GET', `/v1/withdrawals/${created.body.id}`)).body;
      return ['COMPLETED', 'FAILED', 'REJECTED'].includes(w.status) ? w : undefined;
    });
    expect(done.status).toBe('COMPLETED');
    if (point === 'after-reserve' || point === 'signed-ahead') expect(done.txHash).toMatch(/^0x[0-9a-f]{64}$/);
    else expect(done.txHash).toBe(atCrash.tx_hash); // the stored bytes were sent, not a new signature
    expect(await client().getBalance({ address: to })).toBe(parseEther('0.3')); // paid exactly once

    const attempts = await withDb((db) => db.kysely.selectFrom('tx_attempts').selectAll().where('withdrawal_id', '=', created.body.id).execute());
    expect(attempts).toHaveLength(1);
    expect(Number(attempts[0]!.nonce)).toBe(Number(atCrash.nonce ?? attempts[0]!.nonce));
    const { nextNonce } = await hotWallet();
    expect(await client().getTransactionCount({ address: wallet })).toBe(chainNonceBefore + 1);
    expect(nextNonce).toBe(chainNonceBefore + 1);
    const balances = (await api('GET', `/v1/users/${user}/balances`)).body;
    expect(balances).toEqual([{ asset: 'ETH', available: '0.6999', held: '0' }]);

    child!.process.kill('SIGTERM');
    await child!.exited;
  }

  it('signs at the reserved nonce a withdrawal whose process died after reserving it, before signing', async () => {
    await crashScenario('after-reserve', 'RECEIVED');
  });

  it('signs again a withdrawal whose process died after signing it ahead, before the commit that would store it', async () => {
    await crashScenario('signed-ahead', 'RECEIVED');
  });

  it('finishes a withdrawal whose process died after signing, before broadcast', async () => {
    await crashScenario('after-sign', 'SIGNED');
  });

  it('finishes a withdrawal whose process died after broadcast, before confirmation', async () => {
    await crashScenario('after-broadcast', 'BROADCAST');
  });

  it('keeps every nonce the wallet used contiguous across all four crashes', async () => {
    const rows = await withDb((db) => db.kysely.selectFrom('withdrawals').select(['nonce', 'status']).where('nonce', 'is not', null).orderBy('nonce').execute());
    expect(rows.map((r) => Number(r.nonce))).toEqual(rows.map((_, i) => i));
    expect(rows.every((r) => r.status === 'COMPLETED')).toBe(true);
  });
});
