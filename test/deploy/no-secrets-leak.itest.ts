import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Address } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnvilHandle, startAnvil } from '../../src/chain/anvil.js';
import { decryptKey, type KeystoreV3 } from '../../src/keys/keystore-file.js';
import { chainControl } from '../support/chain-control.js';
import { type SluiceChild, spawnSluice } from '../support/child.js';
import { waitFor } from '../support/stack.js';

const SECRETS = {
  apiKey: 'sk_leakcheck_api_key_7f3a9c1e5b2d4f60',
  keystorePassword: 'leakcheck-keystore-password-41d2',
  adminPassword: 'leakcheck-admin-password-9e8b',
};
const REVERTING_RECIPIENT = '0x00000000000000000000000000000000000bad02' as Address;

/**
 * Secrets never leave through logs or HTTP: `sluice dev` with known secrets runs withdrawals that
 * complete, one that is dead-lettered and retried by an operator, failed logins and bad requests,
 * at debug level in JSON; every log line and every HTTP response (bodies and headers) is scanned
 * for the API key, the keystore password, the admin password, a console session cookie and the hot
 * wallet's private key.
 * The dev banner prints the API key and admin login on purpose (it is the developer's own
 * terminal); it is the only place they may appear.
 */
describe('no secret in any log line or HTTP response', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-leak-'));
  const responses: string[] = [];
  let anvil: AnvilHandle;
  let sluice: SluiceChild;
  let url: string;
  let chainId: number;

  beforeAll(async () => {
    anvil = await startAnvil({ blockTime: 1, silent: true });
    await chainControl(anvil.rpcUrl).setCode(REVERTING_RECIPIENT, '0x60006000fd');
    sluice = spawnSluice(['dev'], {
      SLUICE_DATA_DIR: path.join(dir, 'data'),
      SLUICE_PORT: '0',
      SLUICE_DEVNET_RPC_URL: anvil.rpcUrl,
      SLUICE_DEVNET_CONFIRMATIONS: '1',
      SLUICE_DEV_API_KEY: SECRETS.apiKey,
      SLUICE_KEYSTORE_PASSWORD: SECRETS.keystorePassword,
      SLUICE_DEV_ADMIN_PASSWORD: SECRETS.adminPassword,
      SLUICE_LOG_FORMAT: 'json',
      SLUICE_LOG_LEVEL: 'debug',
    });
    url = await waitFor('sluice dev banner', async () => /API\s+(http:\/\/[\d.:]+)\/v1/.exec(sluice.output())?.[1], 60_000, 200);
    chainId = Number(/\(chain (\d+)/.exec(sluice.output())![1]);
  });

  afterAll(async () => {
    if (sluice) {
      sluice.process.kill('SIGTERM');
      await sluice.exited;
    }
    await anvil?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function call(method: string, route: string, options: { body?: unknown; key?: string; headers?: Record<string, string> } = {}) {
    const res = await fetch(`${url}${route}`, {
      method,
      headers: {
        ...(options.key === '' ? {} : { authorization: `Bearer ${options.key ?? SECRETS.apiKey}` }),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    responses.push(`${method} ${route} ${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${text}`);
    return { status: res.status, json: () => JSON.parse(text) as Record<string, unknown> };
  }

  it('leaks none of them', async () => {
    // A full pipeline: credits, withdrawals that complete (ETH and USDT), one the signer refuses.
    expect((await call('POST', '/v1/ledger/credits', { body: { userId: 'dave', asset: 'ETH', amount: '3', reference: 'leak-1' } })).status).toBe(201);
    expect((await call('POST', '/v1/ledger/credits', { body: { userId: 'dave', asset: 'USDT', amount: '50', reference: 'leak-2' } })).status).toBe(201);
    const ids: string[] = [];
    for (const [asset, to, amount] of [
      ['ETH', '0x000000000000000000000000000000000000dEaD', '0.2'],
      ['USDT', '0x000000000000000000000000000000000000bEEF', '5'],
      ['ETH', REVERTING_RECIPIENT, '0.1'],
    ] as const) {
      const r = await call('POST', '/v1/withdrawals', { body: { userId: 'dave', asset, chainId, toAddress: to, amount }, headers: { 'idempotency-key': `leak-${asset}-${to}` } });
      expect(r.status).toBe(202);
      ids.push(r.json().id as string);
    }
    const settled = await waitFor(
      'withdrawals to settle',
      async () => {
        const views = await Promise.all(ids.map(async (id) => (await call('GET', `/v1/withdrawals/${id}`)).json()));
        return views.every((v) => ['COMPLETED', 'REJECTED'].includes(v.status as string)) ? views : undefined;
      },
      60_000,
      500,
    );
    expect(settled.map((v) => v.status)).toEqual(['COMPLETED', 'COMPLETED', 'REJECTED']);

    // The operator side and the failure paths.
    const letters = await call('GET', '/admin/api/dead-letters?status=open');
    expect(letters.status).toBe(200);
    const letter = (letters.json().items as Array<{ id: number }>)[0]!;
    expect((await call('GET', `/admin/api/dead-letters/${letter.id}`)).status).toBe(200);
    expect((await call('POST', `/admin/api/dead-letters/${letter.id}/discard`, { body: { reason: 'leak check' } })).status).toBe(200);
    expect((await call('GET', '/v1/withdrawals?userId=dave', { key: 'sk_wrong_key' })).status).toBe(401);
    expect((await call('GET', '/v1/withdrawals?userId=dave', { key: '' })).status).toBe(401);
    expect((await call('POST', '/v1/withdrawals', { body: '{"broken', headers: { 'idempotency-key': 'x' } })).status).toBe(400);
    expect((await call('POST', '/v1/withdrawals', { body: { userId: 'dave', asset: 'ETH', chainId, toAddress: '0x1', amount: '1' }, headers: { 'idempotency-key': 'y' } })).status).toBe(400);
    for (const route of ['/v1/users/dave/balances', '/v1/assets', '/metrics', '/healthz', '/readyz', '/docs/json', '/no-such-route']) await call('GET', route);

    // A console session: its cookie is a bearer secret too. Only the login's own Set-Cookie may carry it
    // (that answer is not recorded); the session is then used and ended like an operator would.
    const login = await fetch(`${url}/admin/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: SECRETS.adminPassword }) });
    expect(login.status).toBe(200);
    const sessionCookie = /sluice_session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
    expect(sessionCookie).toBeTruthy();
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const cookie = { cookie: `sluice_session=${sessionCookie}` };
    expect((await call('GET', '/admin/api/session', { key: '', headers: cookie })).status).toBe(200);
    expect((await call('GET', '/admin/api/stats/overview', { key: '', headers: cookie })).status).toBe(200);
    expect((await call('POST', '/admin/api/session', { key: '', body: { username: 'admin', password: 'wrong-password-1234' } })).status).toBe(401);
    expect((await call('DELETE', '/admin/api/session', { key: '', headers: { ...cookie, 'x-csrf-token': csrfToken } })).status).toBe(204);

    // What must not appear anywhere: the secrets, and the hot wallet's private key (with and without 0x).
    const keystoreDir = path.join(dir, 'data', 'keystore');
    const keyFiles = fs.readdirSync(keystoreDir).filter((f) => f.endsWith('.json'));
    expect(keyFiles.length).toBeGreaterThan(0);
    const privateKeys = await Promise.all(keyFiles.map((f) => decryptKey(JSON.parse(fs.readFileSync(path.join(keystoreDir, f), 'utf8')) as KeystoreV3, SECRETS.keystorePassword)));
    const needles = [...Object.values(SECRETS), sessionCookie!, ...privateKeys, ...privateKeys.map((k) => k.slice(2))];

    const output = sluice.output();
    expect(output).toContain(SECRETS.apiKey); // the banner shows it: the scan below would see a leak
    const bannerStart = output.indexOf('Sluice dev is running');
    const bannerEnd = output.indexOf('\n\n', output.indexOf('curl -s $SLUICE_URL/v1/withdrawals?userId=alice'));
    expect(bannerStart).toBeGreaterThan(-1);
    expect(bannerEnd).toBeGreaterThan(bannerStart);
    const logs = output.slice(0, bannerStart) + output.slice(bannerEnd);
    const logLines = logs.split('\n').filter((l) => l.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(20); // debug level over a whole pipeline: the scan has material
    expect(responses.length).toBeGreaterThan(20);
    for (const needle of needles) {
      expect(logs.includes(needle), `a log line contains a secret (${needle.slice(0, 6)}…)`).toBe(false);
      for (const r of responses) expect(r.includes(needle), `a response contains a secret (${needle.slice(0, 6)}…): ${r.split('\n')[0]}`).toBe(false);
    }
  });
});
