import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Address, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainControl } from '../../test/support/chain-control.js';
import { spawnSluice } from '../../test/support/child.js';
import { type AnvilHandle, getFreePort, startAnvil } from '../chain/anvil.js';
import { type Db, openDatabase } from '../db/connect.js';
import { migrateToLatest } from '../db/migrate.js';
import { newId } from '../util/ids.js';
import { formatNonceReport, rpcNonceSource, walletNonceReport } from './nonce-report.js';
import { createWallets } from './wallets.js';

/** `sluice wallet nonces` against a real anvil and a SQLite database with a registered hot wallet. */
describe('wallet nonce report', () => {
  let anvil: AnvilHandle;
  let dir: string;
  let dbFile: string;
  let db: Db;
  let wallet: Address;
  const chainId = 31337;

  beforeAll(async () => {
    anvil = await startAnvil({ silent: true }); // automine: a sent tx is mined at once
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-nonces-'));
    dbFile = path.join(dir, 'sluice.db');
    db = openDatabase(`sqlite:${dbFile}`);
    await migrateToLatest(db);
    wallet = privateKeyToAccount(generatePrivateKey()).address;
    await createWallets(db).register({ chainId, address: wallet, keyRef: 'keystore:test', nextNonce: 0 });
    await chainControl(anvil.rpcUrl).setBalance(wallet, parseEther('10'));
  });
  afterAll(async () => {
    await db?.close();
    await anvil?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const chains = () => new Map([[chainId, rpcNonceSource(anvil.rpcUrl)]]);
  const report = async () => {
    const rows = await walletNonceReport({ db, chains: chains() });
    expect(rows).toHaveLength(1);
    return rows[0]!;
  };
  const setNextNonce = (n: number) => db.kysely.updateTable('wallets').set({ next_nonce: n }).where('address', '=', wallet).execute();
  async function withdrawalOnLane(status: 'SIGNED' | 'CANCELLED', nonce: number): Promise<string> {
    const id = newId('wd');
    const now = Date.now();
    await db.kysely
      .insertInto('withdrawals')
      .values({
        id, idempotency_key: id, request_hash: 'x', api_key_id: 'test', user_id: 'u', asset: 'ETH', chain_id: chainId,
        to_address: privateKeyToAccount(generatePrivateKey()).address, amount: '1', fee: '0', status, wallet, nonce, tx_hash: null,
        block_number: null, block_hash: null, confirmations: 0, failure_code: null, failure_reason: null, create_response: '{}',
        cancel_reason: null, requeued_at: null, created_at: now, updated_at: now,
      })
      .execute();
    return id;
  }
  const cli = async (args: string[], env: Record<string, string>) => {
    const child = spawnSluice(['wallet', 'nonces', ...args], env);
    const { code } = await child.exited;
    return { code, output: child.output() };
  };

  it('says in_step when database, mined and pending nonces agree', async () => {
    expect(await report()).toEqual({
      chainId, address: wallet, enabled: true, dbNextNonce: 0, latest: 0, pending: 0, inFlight: 0, verdict: 'in_step', detail: expect.any(String),
    });
  });

  it('says in_flight while Sluice has signed a nonce not mined yet, and gap when nothing in flight explains it', async () => {
    const id = await withdrawalOnLane('SIGNED', 0);
    await setNextNonce(1);
    try {
      expect(await report()).toMatchObject({ dbNextNonce: 1, latest: 0, pending: 0, inFlight: 1, verdict: 'in_flight' });
      await db.kysely.updateTable('withdrawals').set({ status: 'CANCELLED' }).where('id', '=', id).execute();
      const gap = await report();
      expect(gap).toMatchObject({ dbNextNonce: 1, latest: 0, pending: 0, inFlight: 0, verdict: 'gap' });
      expect(gap.detail).toContain('nonces 0..0');
    } finally {
      await db.kysely.deleteFrom('withdrawals').where('id', '=', id).execute();
      await setNextNonce(0);
    }
    expect((await report()).verdict).toBe('in_step');
  });

  it('reports no_endpoint and unreachable instead of guessing', async () => {
    expect((await walletNonceReport({ db, chains: new Map() }))[0]).toMatchObject({ verdict: 'no_endpoint', latest: null, pending: null });
    const dead = rpcNonceSource(`http://127.0.0.1:${await getFreePort()}`, 1_000);
    expect((await walletNonceReport({ db, chains: new Map([[chainId, dead]]) }))[0]).toMatchObject({ verdict: 'unreachable', latest: null });
  });

  it('says chain_ahead after a transaction from the wallet that Sluice did not sign', async () => {
    const chain = chainControl(anvil.rpcUrl);
    const hash = await chain.sendAs(wallet, { to: privateKeyToAccount(generatePrivateKey()).address, value: 1n });
    await chain.client.waitForTransactionReceipt({ hash });
    const row = await report();
    expect(row).toMatchObject({ dbNextNonce: 0, latest: 1, pending: 1, inFlight: 0, verdict: 'chain_ahead' });
    expect(formatNonceReport([row])).toContain('wallet was used outside Sluice');
  });

  it('runs as `sluice wallet nonces`: JSON and an aligned table, endpoint from --rpc-url, SLUICE_DEVNET_RPC_URL or the dev anvil pid file', async () => {
    const env = { SLUICE_DB_URL: `sqlite:${dbFile}`, SLUICE_DATA_DIR: dir };
    const json = await cli(['--rpc-url', anvil.rpcUrl, '--json'], env);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.output.slice(json.output.indexOf('['), json.output.lastIndexOf(']') + 1));
    expect(rows).toEqual([expect.objectContaining({ chainId, address: wallet, dbNextNonce: 0, latest: 1, pending: 1, inFlight: 0, verdict: 'chain_ahead' })]);

    const table = await cli([], { ...env, SLUICE_DEVNET_RPC_URL: anvil.rpcUrl });
    expect(table.code).toBe(0);
    const lines = table.output.split('\n');
    const header = lines.find((l) => l.startsWith('CHAIN'))!;
    const row = lines.find((l) => l.startsWith(String(chainId)))!;
    expect(header).toMatch(/^CHAIN\s+WALLET\s+DB NEXT\s+LATEST\s+PENDING\s+IN FLIGHT\s+VERDICT$/);
    expect(row).toContain(wallet);
    // Aligned: each value ends where its column's header ends (numbers right-aligned) or starts where it starts.
    expect(row.indexOf(wallet)).toBe(header.indexOf('WALLET'));
    expect(row.indexOf('chain_ahead')).toBe(header.indexOf('VERDICT'));
    expect(row.slice(0, header.indexOf('LATEST') + 'LATEST'.length).trimEnd().endsWith('1')).toBe(true);

    // No flag, no env: the anvil `sluice dev` recorded in its pid file.
    fs.mkdirSync(path.join(dir, 'anvil'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'anvil', 'anvil.pid.json'), JSON.stringify({ pid: anvil.pid, rpcUrl: anvil.rpcUrl, chainId }));
    try {
      const fromPidFile = await cli(['--json'], env);
      expect(fromPidFile.code).toBe(0);
      expect(fromPidFile.output).toContain('"verdict": "chain_ahead"');
    } finally {
      fs.rmSync(path.join(dir, 'anvil'), { recursive: true, force: true });
    }
  });

  it('fails clearly when no endpoint is configured or reachable', async () => {
    const env = { SLUICE_DB_URL: `sqlite:${dbFile}`, SLUICE_DATA_DIR: dir };
    const none = await cli([], env);
    expect(none.code).toBe(1);
    expect(none.output).toContain('No RPC endpoint: pass --rpc-url URL, set SLUICE_DEVNET_RPC_URL, or start `sluice dev`');

    const deadUrl = `http://127.0.0.1:${await getFreePort()}`;
    const dead = await cli(['--rpc-url', deadUrl], env);
    expect(dead.code).toBe(1);
    expect(dead.output).toContain('No reachable RPC endpoint (from --rpc-url)');
    expect(dead.output).toContain(deadUrl);
    expect(dead.output).not.toContain('    at '); // an operator's error, not a stack trace

    const noDb = await cli(['--rpc-url', anvil.rpcUrl], { SLUICE_DATA_DIR: path.join(dir, 'nowhere') });
    expect(noDb.code).toBe(1);
    expect(noDb.output).toContain('No database at sqlite:');
    expect(fs.existsSync(path.join(dir, 'nowhere', 'sluice.db'))).toBe(false);
  });
});
