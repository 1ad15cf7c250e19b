import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPublicClient, erc20Abi, http, parseEther, parseUnits } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFreePort } from '../../src/chain/anvil.js';
import { loadConfig } from '../../src/config/load.js';
import { type DevHandle, startDev } from '../../src/dev/dev-mode.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { waitFor } from '../support/stack.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * `SLUICE_DEVNET_RPC_URL` pointing at hardhat instead of anvil: other cheat calls
 * (hardhat_setBalance), other error wording, and automine only, so confirmations come from the
 * dev block pacer.
 */
describe('dev mode on a hardhat node', () => {
  let hardhat: ReturnType<typeof spawn>;
  let rpcUrl: string;
  let dev: DevHandle;
  let database: TestDatabase;
  let dataDir: string;
  let hardhatOutput = '';

  beforeAll(async () => {
    const port = await getFreePort();
    rpcUrl = `http://127.0.0.1:${port}`;
    hardhat = spawn(
      process.execPath,
      [path.join(ROOT, 'node_modules/hardhat/internal/cli/cli.js'), '--config', path.join(ROOT, 'test/compat/hardhat.config.cjs'), 'node', '--hostname', '127.0.0.1', '--port', String(port)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: 'true' } },
    );
    hardhat.stdout!.on('data', (d) => (hardhatOutput += d));
    hardhat.stderr!.on('data', (d) => (hardhatOutput += d));
    await waitFor('hardhat node', async () => {
      if (hardhat.exitCode !== null) throw new Error(`hardhat exited: ${hardhatOutput}`);
      const res = await fetch(rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion","params":[]}' }).catch(() => null);
      return res?.ok ? true : undefined;
    }, 60_000, 250);

    database = await createTestDatabase('sqlite');
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-hardhat-'));
    dev = await startDev(
      loadConfig({}, { port: 0, dataDir, dbUrl: database.url, devnetRpcUrl: rpcUrl, keystorePassword: 'pw', logLevel: 'fatal', trackerIntervalMs: 100 }),
      () => {},
    );
  });
  afterAll(async () => {
    await dev?.stop();
    hardhat?.kill('SIGTERM');
    await database?.drop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const api = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${dev.url}${p}`, {
      method,
      headers: { authorization: `Bearer ${dev.apiKey}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('pays ETH and USDT withdrawals to completion', async () => {
    const client = createPublicClient({ transport: http(rpcUrl) });
    expect(await client.request({ method: 'web3_clientVersion' })).toMatch(/hardhat/i);
    const ethTo = privateKeyToAccount(generatePrivateKey()).address;
    const usdtTo = privateKeyToAccount(generatePrivateKey()).address;
    await api('POST', '/v1/ledger/credits', { userId: 'hh', asset: 'ETH', amount: '1', reference: randomUUID() });
    await api('POST', '/v1/ledger/credits', { userId: 'hh', asset: 'USDT', amount: '10', reference: randomUUID() });
    const eth = await api('POST', '/v1/withdrawals', { userId: 'hh', asset: 'ETH', chainId: 31337, toAddress: ethTo, amount: '0.25' }, { 'idempotency-key': randomUUID() });
    const usdt = await api('POST', '/v1/withdrawals', { userId: 'hh', asset: 'USDT', chainId: 31337, toAddress: usdtTo, amount: '4' }, { 'idempotency-key': randomUUID() });

    for (const id of [eth.body.id, usdt.body.id]) {
      const done = await waitFor(`withdrawal ${id}`, async () => {
        const w = (await api('GET', `/v1/withdrawals/${id}`)).body;
        return ['COMPLETED', 'FAILED', 'REJECTED'].includes(w.status) ? w : undefined;
      });
      expect(done.status).toBe('COMPLETED');
    }
    expect(await client.getBalance({ address: ethTo })).toBe(parseEther('0.25'));
    const token = (await dev.services.assets.find('USDT', 31337))!.contract!;
    expect(await client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [usdtTo] })).toBe(parseUnits('4', 6));
  });
});
