import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnvilHandle, getFreePort, startAnvil } from '../../src/chain/anvil.js';
import { type SluiceChild, spawnSluice } from '../support/child.js';
import { chainControl } from '../support/chain-control.js';
import { waitFor } from '../support/stack.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SHOTS = path.join(ROOT, 'test-results');
const CHROMIUM = '/usr/bin/chromium';
const API_KEY = 'sk_browser_test_key_0123456789abcdefgh';
const ADMIN_PASSWORD = 'browser-admin-password-1';
const VIEWER_PASSWORD = 'browser-viewer-password-1';
const CHAIN_ID = 31337;
const TERMINAL = ['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];

/**
 * The operator console in a real Chromium against a real `sluice dev` (its own anvil, SQLite):
 * every flow an operator needs, as clicks. Each page is saved under test-results/ at 1366×768.
 */
describe('operator console in Chromium', () => {
  let anvil: AnvilHandle;
  let dataDir: string;
  let port: number;
  let child: SluiceChild | undefined;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  const url = (p: string) => `http://127.0.0.1:${port}${p}`;
  const api = async (method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(url(p), {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  };
  const credit = async (userId: string, asset: string, amount: string) => expect((await api('POST', '/v1/ledger/credits', { userId, asset, amount, reference: randomUUID() })).status).toBe(201);
  const withdraw = async (userId: string, asset: string, amount: string) => {
    const res = await api('POST', '/v1/withdrawals', { userId, asset, chainId: CHAIN_ID, toAddress: '0x000000000000000000000000000000000000dEaD', amount }, { 'idempotency-key': randomUUID() });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  const withdrawal = async (id: string) => (await api('GET', `/v1/withdrawals/${id}`)).body;
  const waitStatus = (id: string, statuses: string[]) =>
    waitFor(`withdrawal ${id} to be ${statuses.join('/')}`, async () => {
      const w = await withdrawal(id);
      return statuses.includes(w.status) ? w : undefined;
    }, 90_000, 250);
  const shot = async (name: string, p: Page = page) => {
    await p.waitForLoadState('networkidle').catch(() => {});
    await p.screenshot({ path: path.join(SHOTS, `console-${name}.png`), fullPage: true });
  };
  const signIn = async (p: Page, username: string, password: string) => {
    await p.goto(url('/admin'));
    await p.getByLabel('Username').fill(username);
    await p.getByLabel('Password').fill(password);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByRole('heading', { name: 'Dashboard' }).waitFor();
  };
  const go = async (p: Page, navLabel: string, heading: string) => {
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: navLabel }).click();
    await p.getByRole('heading', { name: heading, level: 1 }).waitFor();
  };

  beforeAll(async () => {
    if (!fs.existsSync(path.join(ROOT, 'admin/dist/index.html'))) throw new Error('admin/dist is not built: run `npm run build` first (npm test does)');
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: scripts/provision-test-services.sh installs Debian's chromium`);
    fs.mkdirSync(SHOTS, { recursive: true });
    anvil = await startAnvil({ blockTime: 0.5, silent: true });
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-browser-'));
    port = await getFreePort();
    const c = spawnSluice(['dev'], {
      SLUICE_DATA_DIR: dataDir,
      SLUICE_DEVNET_RPC_URL: anvil.rpcUrl,
      SLUICE_PORT: String(port),
      SLUICE_DEV_API_KEY: API_KEY,
      SLUICE_DEV_ADMIN_PASSWORD: ADMIN_PASSWORD,
      SLUICE_KEYSTORE_PASSWORD: 'browser-test-password',
      SLUICE_LOG_LEVEL: 'fatal',
      SLUICE_TRACKER_INTERVAL_MS: '200',
    });
    child = c;
    await waitFor('sluice dev to be ready', async () => {
      if (c.process.exitCode !== null || c.process.signalCode !== null) throw new Error(`sluice exited early:\n${c.output()}`);
      const res = await fetch(url('/readyz')).catch(() => null);
      return res?.status === 200 ? true : undefined;
    }, 90_000, 250);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    child?.process.kill('SIGTERM');
    if (child) await Promise.race([child.exited, new Promise((r) => setTimeout(r, 10_000))]);
    child?.process.kill('SIGKILL');
    await anvil?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  let paidId: string;
  let paidHash: string;

  it('signs in as admin with the dev password; a wrong password is refused in place', async () => {
    await page.goto(url('/admin'));
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot('login');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Wrong username or password.').waitFor();
    await signIn(page, 'admin', ADMIN_PASSWORD);
    expect(await page.getByTestId('current-user').textContent()).toBe('admin');
  });

  it('renders the dashboard charts with data from real withdrawals', async () => {
    await credit('alice', 'ETH', '5');
    await credit('alice', 'USDT', '500');
    const ids = [await withdraw('alice', 'ETH', '0.5'), await withdraw('alice', 'USDT', '25'), await withdraw('alice', 'ETH', '0.25')];
    const done = await Promise.all(ids.map((id) => waitStatus(id, TERMINAL)));
    expect(done.map((w) => w.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    paidId = done[0].id;
    paidHash = done[0].txHash;

    await go(page, 'Dashboard', 'Dashboard');
    // The dashboard refreshes by itself: the new withdrawals show up without a reload.
    await page.locator('[data-testid=chart-throughput][data-has-data=true]').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid=chart-latency][data-has-data=true]').waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-testid=chart-throughput] .recharts-bar-rectangle path').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-testid=chart-throughput] .recharts-line-curve').count()).toBe(1);
    expect(await page.locator('[data-testid=chart-latency] .recharts-line-curve').count()).toBe(3);
    const completedRow = page.getByTestId('status-counts').locator('a', { hasText: 'COMPLETED' });
    await expect.poll(async () => (await completedRow.textContent())?.replace('COMPLETED', '').trim()).toBe('3');
    await shot('dashboard-first');
  });

  it('finds a withdrawal by its tx hash and opens its timeline, attempts and ledger entries', async () => {
    await go(page, 'Withdrawals', 'Withdrawals');
    await page.getByTestId('withdrawals-table').locator('tbody tr').first().waitFor();
    await shot('withdrawals');
    await page.getByLabel('Search withdrawals').fill(paidHash);
    await page.getByLabel('Search withdrawals').press('Enter');
    const rows = page.getByTestId('withdrawals-table').locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(1);
    await expect.poll(() => rows.first().textContent()).toContain(paidId);
    await rows.first().click();
    await page.getByTestId('timeline').waitFor();
    const timeline = await page.getByTestId('timeline').textContent();
    for (const s of ['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING', 'COMPLETED']) expect(timeline).toContain(s);
    expect(await page.getByTestId('detail-tx-hash').locator('.hash').getAttribute('title')).toBe(paidHash);
    expect(await page.getByTestId('attempts-table').locator('tbody tr').count()).toBeGreaterThanOrEqual(1);
    expect(await page.getByTestId('attempts-table').textContent()).toContain('transfer');
    expect(await page.getByTestId('ledger-table').locator('tbody tr').count()).toBeGreaterThanOrEqual(2);
    await shot('withdrawal-detail');
  });

  it('discards a dead letter with a reason, shows the consequence first, and leaves nothing held', async () => {
    await credit('bob', 'ETH', '1');
    const id = await withdraw('bob', 'ETH', '3'); // more than bob has: the signer refuses it (Invalid DLQ)
    expect((await waitStatus(id, TERMINAL)).status).toBe('REJECTED');
    const letterId = await waitFor('the Invalid DLQ letter', async () => (await api('GET', '/admin/api/dead-letters?status=open')).body.items.find((l: any) => l.withdrawalId === id)?.id as number | undefined);

    await go(page, 'Dead letters', 'Dead letters');
    const row = page.getByTestId('dead-letters-table').locator('tbody tr', { hasText: id });
    await row.waitFor();
    await shot('dead-letters');
    await row.click();
    await page.getByRole('heading', { name: /Dead letter #/ }).waitFor();
    await shot('dead-letter-detail');
    await page.getByRole('button', { name: 'Discard' }).click();
    const dialog = page.getByRole('dialog');
    // What the server says discard would do, shown before confirming.
    const preview = (await api('GET', `/admin/api/dead-letters/${letterId}`)).body.consequences.discard as string;
    expect(preview).toMatch(/nothing held/);
    expect((await dialog.getByTestId('consequence').textContent())!.toLowerCase()).toContain(preview.toLowerCase());
    // The reason is required: Discard stays disabled until one is given.
    expect(await dialog.getByTestId('confirm-action').isDisabled()).toBe(true);
    await dialog.getByLabel(/Reason/).fill('user over-withdrew; support confirmed');
    await shot('dead-letter-discard-dialog');
    await dialog.getByTestId('confirm-action').click();
    await dialog.waitFor({ state: 'detached' });
    await page.locator('.page-header .badge', { hasText: 'discarded' }).waitFor();
    expect(await page.getByRole('button', { name: 'Discard' }).count()).toBe(0);

    const letter = (await api('GET', '/admin/api/dead-letters?status=discarded')).body.items.find((l: any) => l.withdrawalId === id);
    expect(letter).toMatchObject({ status: 'discarded', resolutionReason: 'user over-withdrew; support confirmed', resolvedBy: 'user:admin' });

    await page.goto(url('/admin/users/bob'));
    await page.getByTestId('held-ETH').waitFor();
    expect(await page.getByTestId('held-ETH').textContent()).toBe('0');
    expect(await page.locator('[data-asset=ETH] .num.big').textContent()).toBe('1');
    await shot('user');
  });

  it('discards a TX-DLQ letter while its nonce is pending: the hold is shown, then released when the cancel mines', async () => {
    const chain = chainControl(anvil.rpcUrl);
    const setBlockGasLimit = (gas: number) => chain.client.request({ method: 'anvil_setBlockGasLimit', params: [`0x${gas.toString(16)}`] } as never);
    await credit('dave', 'USDT', '100');
    let id: string;
    let letterId: number;
    try {
      // The USDT transfer (gas 100,000) cannot fit a 50,000-gas block: every node refuses it for
      // good. Its cancel (21,000) is accepted but not mined while mining is paused.
      await chain.pauseMining();
      await setBlockGasLimit(50_000);
      id = await withdraw('dave', 'USDT', '30');
      letterId = await waitFor('the TX DLQ letter with the cancel signed', async () => {
        const letter = (await api('GET', '/admin/api/dead-letters?queue=tx&status=open')).body.items.find((l: any) => l.withdrawalId === id);
        if (!letter) return undefined;
        const detail = (await api('GET', `/admin/api/dead-letters/${letter.id}`)).body;
        return detail.attempts.at(-1)?.kind === 'cancel' ? (letter.id as number) : undefined;
      }, 60_000, 250);

      await page.goto(url('/admin/users/dave'));
      await page.getByTestId('held-USDT').waitFor();
      expect(await page.getByTestId('held-USDT').textContent()).toBe('31');

      await go(page, 'Dead letters', 'Dead letters');
      await page.getByRole('tab', { name: 'TX DLQ' }).click();
      await page.getByTestId('dead-letters-table').locator('tbody tr', { hasText: id }).click();
      await page.getByRole('heading', { name: `Dead letter #${letterId}` }).waitFor();
      expect(await page.getByTestId('letter-withdrawal-status').textContent()).toMatch(/SIGNED|BROADCAST/);
      await shot('dead-letter-tx');
      await page.getByRole('button', { name: 'Discard' }).click();
      const dialog = page.getByRole('dialog');
      expect(await dialog.getByTestId('consequence').textContent()).toMatch(/filled with a 0-value cancel; the hold is released when the cancel is mined/);
      await dialog.getByLabel(/Reason/).fill('wrong gas setting; refund the user');
      await dialog.getByTestId('confirm-action').click();
      await dialog.waitFor({ state: 'detached' });
      await page.locator('.page-header .badge', { hasText: 'discarded' }).waitFor();
      // Nothing mined yet: the hold stays until the cancel is.
      expect((await api('GET', '/v1/users/dave/balances')).body).toContainEqual({ asset: 'USDT', available: '69', held: '31' });
    } finally {
      await setBlockGasLimit(30_000_000);
      await chain.resumeMining(1);
    }
    expect(await waitStatus(id!, TERMINAL)).toMatchObject({ status: 'CANCELLED', failureReason: 'operator: wrong gas setting; refund the user' });

    await page.goto(url('/admin/users/dave'));
    await page.getByTestId('held-USDT').waitFor();
    expect(await page.getByTestId('held-USDT').textContent()).toBe('0');
    expect(await page.locator('[data-asset=USDT] .num.big').textContent()).toBe('100');
    await shot('user-hold-released');
  });

  it('pauses the chain: a new withdrawal waits (RECEIVED, paused), then completes once resumed', async () => {
    await go(page, 'Settings', 'Settings');
    await page.getByTestId(`pause-chain-${CHAIN_ID}`).click();
    let dialog = page.getByRole('dialog');
    await dialog.getByLabel(/Reason/).fill('node maintenance');
    await dialog.getByTestId('confirm-action').click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByTestId(`resume-chain-${CHAIN_ID}`).waitFor();
    await shot('settings-paused');

    await credit('carol', 'ETH', '2');
    const id = await withdraw('carol', 'ETH', '1');
    const waiting = await waitFor('the withdrawal to wait as paused', async () => {
      const w = await withdrawal(id);
      expect(w.status).toBe('RECEIVED');
      return w.failureCode === 'paused' ? w : undefined;
    }, 30_000, 250);
    expect(waiting).toMatchObject({ status: 'RECEIVED', failureCode: 'paused', txHash: null });

    await page.goto(url(`/admin/withdrawals/${id}`));
    await page.getByText('Waiting: paused').waitFor();
    expect(await page.locator('.page-header .badge').first().textContent()).toBe('RECEIVED');
    await shot('withdrawal-paused');

    await go(page, 'Settings', 'Settings');
    await page.getByTestId(`resume-chain-${CHAIN_ID}`).click();
    dialog = page.getByRole('dialog');
    await dialog.getByLabel(/Reason/).fill('maintenance over');
    await dialog.getByTestId('confirm-action').click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByTestId(`pause-chain-${CHAIN_ID}`).waitFor();

    await page.goto(url(`/admin/withdrawals/${id}`));
    // The detail page refreshes by itself until the withdrawal completes.
    await page.locator('.page-header .badge', { hasText: 'COMPLETED' }).waitFor({ timeout: 90_000 });
    expect((await withdrawal(id)).status).toBe('COMPLETED');
  });

  it('shows hot wallets, RPC endpoints, API keys and console users, and the audit log of every write above', async () => {
    await go(page, 'Hot wallets', 'Hot wallets');
    await page.getByTestId('wallets').locator('.card').first().waitFor();
    expect(await page.getByTestId('wallets').textContent()).toMatch(/ETH[\s\S]*USDT/);
    await shot('wallets');

    await go(page, 'RPC endpoints', 'RPC endpoints');
    const endpoint = page.getByTestId('endpoints-table').locator('tbody tr').first();
    await endpoint.waitFor();
    expect(await endpoint.textContent()).toContain('up');
    await shot('endpoints');

    await go(page, 'API keys & admins', 'API keys & admins');
    await page.getByTestId('api-keys-table').locator('tbody tr').first().waitFor();
    await page.getByRole('button', { name: 'New user' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Username').fill('vera');
    await dialog.getByRole('button', { name: 'Create user' }).click();
    const secret = await page.getByTestId('secret').locator('code').textContent();
    expect(secret!.length).toBeGreaterThanOrEqual(12);
    await shot('access-secret');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.getByTestId('admin-users-table').locator('tbody tr', { hasText: 'vera' }).waitFor();
    await shot('access');

    await go(page, 'Audit log', 'Audit log');
    const audit = page.getByTestId('audit-table');
    await audit.locator('tbody tr').first().waitFor();
    for (const action of ['dead_letter.discard', 'pause', 'admin_user']) await audit.getByText(new RegExp(action.replace('.', '\\.'))).first().waitFor();
    await shot('audit');
    await page.getByLabel('Action').fill('dead_letter.discard');
    await expect.poll(() => audit.locator('tbody tr').count()).toBe(2);
    expect(await audit.textContent()).toContain('user over-withdrew; support confirmed');
    expect(await audit.textContent()).toContain('wrong gas setting; refund the user');
  });

  it('a viewer sees every page but no action button', async () => {
    const created = await api('POST', '/admin/api/admin-users', { username: 'victor', role: 'viewer', password: VIEWER_PASSWORD });
    expect(created.status).toBe(201);
    const viewerContext = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    const p = await viewerContext.newPage();
    try {
      await signIn(p, 'victor', VIEWER_PASSWORD);
      expect(await p.getByTestId('current-user').textContent()).toBe('victor');

      await go(p, 'Dead letters', 'Dead letters');
      await p.getByRole('tab', { name: 'Discarded' }).click();
      await p.getByTestId('dead-letters-table').locator('tbody tr').first().click();
      await p.getByRole('heading', { name: /Dead letter #/ }).waitFor();
      await p.getByText('Letter', { exact: true }).waitFor();

      await go(p, 'Settings', 'Settings');
      await p.getByTestId('chains-table').locator('tbody tr').first().waitFor();
      await p.getByTestId('networks-table').locator('tbody tr').first().waitFor();
      await shot('viewer-settings', p);
      for (const name of [/^Pause/, /^Resume/, /^Edit/, /^Retry/, /^Discard/]) expect(await p.getByRole('button', { name }).count()).toBe(0);

      await go(p, 'API keys & admins', 'API keys & admins');
      await p.getByText('Admins only').waitFor();
      for (const name of [/New API key/, /New user/, /Revoke/, /Rotate/]) expect(await p.getByRole('button', { name }).count()).toBe(0);

      await go(p, 'Dashboard', 'Dashboard');
      await p.locator('[data-testid=chart-latency][data-has-data=true]').waitFor();
      await shot('viewer-dashboard', p);

      // The same as an admin shows them (so the checks above could fail).
      await go(page, 'Settings', 'Settings');
      expect(await page.getByRole('button', { name: /^Pause/ }).count()).toBeGreaterThan(0);
      expect(await page.getByRole('button', { name: /^Edit/ }).count()).toBeGreaterThan(0);
    } finally {
      await viewerContext.close();
    }
  });
});
