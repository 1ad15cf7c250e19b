import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RANGES } from '../../src/stats/tx-stats.js';
import { asConsole, type ConsoleLogin, consoleLogin } from '../support/admin-session.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');
const PASSWORD = 'correct horse battery staple';

type Route = { method: string; path: string };

/**
 * The operator console's Admin API against a real database and anvil: every route from the
 * OpenAPI document refuses anonymous callers, viewers on writes and writes without the session's
 * CSRF token; every write leaves an audit entry; lockout and session expiry; search, timeline,
 * stats, wallets, endpoints, keys and users; and the console app served at /admin.
 */
describe(`operator console Admin API on ${dbKind}`, () => {
  let stack: Stack;
  let consoleDir: string;
  const logins: Record<'viewer' | 'operator' | 'admin', ConsoleLogin> = {} as never;

  beforeAll(async () => {
    consoleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-console-'));
    fs.mkdirSync(path.join(consoleDir, 'assets'));
    fs.writeFileSync(path.join(consoleDir, 'index.html'), '<!doctype html><title>Sluice console</title><div id="root"></div>');
    fs.writeFileSync(path.join(consoleDir, 'assets', 'app-1234.js'), 'console.log("sluice")');
    stack = await startStack(dbKind, { consoleDir, reconcileAfterSeconds: 2, reconcileIntervalMs: 300 });
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      await stack.services.adminUsers.ensure({ username: `${role}-1`, role, password: PASSWORD });
      logins[role] = await consoleLogin(stack, `${role}-1`, PASSWORD);
    }
  });
  afterAll(async () => {
    await stack?.teardown();
    fs.rmSync(consoleDir, { recursive: true, force: true });
  });

  const k = () => stack.services.db.kysely;
  const auditCount = async () => (await k().selectFrom('audit_log').select('id').execute()).length;
  const newAddress = () => privateKeyToAccount(generatePrivateKey()).address;

  async function adminRoutes(): Promise<Route[]> {
    const docs = await stack.request('GET', '/docs/json');
    expect(docs.status).toBe(200);
    const routes: Route[] = [];
    for (const [p, ops] of Object.entries(docs.body.paths as Record<string, Record<string, unknown>>)) {
      if (!p.startsWith('/admin/api/')) continue;
      for (const method of Object.keys(ops)) routes.push({ method: method.toUpperCase(), path: p });
    }
    return routes;
  }
  const concrete = (p: string) =>
    p.replace('{id}', '1').replace('{chainId}', String(stack.chainId)).replace('{asset}', 'ETH').replace('{userId}', 'nobody').replace('{username}', 'nobody');
  const isWrite = (r: Route) => r.method !== 'GET';
  const key = (r: Route) => `${r.method} ${r.path}`;

  async function fundedUser(asset: 'ETH' | 'USDT', amount: string): Promise<string> {
    const userId = `console-${randomUUID().slice(0, 8)}`;
    expect((await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset, amount, reference: randomUUID() } })).status).toBe(201);
    return userId;
  }
  async function withdraw(userId: string, amount = '0.01', to = newAddress()): Promise<string> {
    const res = await stack.request('POST', '/v1/withdrawals', { body: { userId, asset: 'ETH', chainId: stack.chainId, toAddress: to, amount }, headers: { 'idempotency-key': randomUUID() } });
    expect(res.status).toBe(202);
    return res.body.id;
  }
  const wd = async (id: string) => (await stack.request('GET', `/v1/withdrawals/${id}`)).body;
  const waitStatus = (id: string, status: string) => waitFor(`${id} ${status}`, async () => ((await wd(id)).status === status ? true : undefined), 60_000);
  async function letterOnReceived(): Promise<{ id: string; letterId: number }> {
    const userId = await fundedUser('ETH', '1');
    const { row } = await stack.services.withdrawals.create(
      { idempotencyKey: randomUUID(), requestHash: 'x'.repeat(64), apiKeyId: 'test', userId, asset: 'ETH', chainId: stack.chainId, toAddress: newAddress(), amount: parseEther('0.01'), fee: parseEther('0.0001') },
      () => ({}),
    );
    const letter = { queue: 'invalid' as const, withdrawalId: row.id, code: 'signing_failed', reason: 'test letter', attempts: 10 };
    await k().transaction().execute((trx) => stack.services.deadLetters.record(trx, letter));
    const found = await k().selectFrom('dead_letters').select('id').where('withdrawal_id', '=', row.id).executeTakeFirstOrThrow();
    return { id: row.id, letterId: Number(found.id) };
  }

  it('refuses every admin route from the OpenAPI: anonymous 401, viewer on a write 403, a write without the CSRF token 403; nothing changes', async () => {
    const routes = await adminRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(25);
    const audit = await auditCount();
    const login = key({ method: 'POST', path: '/admin/api/session' });
    const logout = key({ method: 'DELETE', path: '/admin/api/session' });
    const checked: string[] = [];
    for (const r of routes) {
      if (key(r) === login) continue;
      const url = concrete(r.path);
      const body = isWrite(r) ? { reason: 'auth table' } : undefined;
      const anonymous = await asConsole(stack, null, r.method, url, { body });
      expect({ route: key(r), status: anonymous.status, code: anonymous.body.code }).toEqual({ route: key(r), status: 401, code: 'unauthorized' });
      const forged = await stack.request(r.method, url, { headers: { authorization: '', cookie: 'sluice_session=forged-token' }, ...(body ? { body } : {}) });
      expect({ route: key(r), status: forged.status }).toEqual({ route: key(r), status: 401 });
      if (isWrite(r)) {
        const noCsrf = await asConsole(stack, logins.admin, r.method, url, { body, csrf: null });
        expect({ route: key(r), status: noCsrf.status, code: noCsrf.body.code }).toEqual({ route: key(r), status: 403, code: 'csrf_failed' });
        const wrongCsrf = await asConsole(stack, logins.admin, r.method, url, { body, csrf: logins.viewer.csrf });
        expect({ route: key(r), status: wrongCsrf.status, code: wrongCsrf.body.code }).toEqual({ route: key(r), status: 403, code: 'csrf_failed' });
        if (key(r) !== logout) {
          const viewer = await asConsole(stack, logins.viewer, r.method, url, { body });
          expect({ route: key(r), status: viewer.status, code: viewer.body.code }).toEqual({ route: key(r), status: 403, code: 'forbidden' });
        }
      } else {
        const viewer = await asConsole(stack, logins.viewer, r.method, url);
        expect({ route: key(r), refused: [401, 403].includes(viewer.status) }).toEqual({ route: key(r), refused: r.path.startsWith('/admin/api/api-keys') || r.path.startsWith('/admin/api/admin-users') });
      }
      checked.push(key(r));
    }
    // Operators may act on dead letters and pauses, not on settings, keys or users.
    for (const [method, p, allowed] of [
      ['POST', '/admin/api/pause', true],
      ['POST', '/admin/api/dead-letters/1/retry', true],
      ['PATCH', `/admin/api/settings/chains/${stack.chainId}`, false],
      ['PATCH', `/admin/api/settings/networks/ETH/${stack.chainId}`, false],
      ['POST', '/admin/api/api-keys', false],
      ['POST', '/admin/api/admin-users', false],
    ] as const) {
      const res = await asConsole(stack, logins.operator, method, p, { body: { bad: 'body' } });
      expect({ p, forbidden: res.status === 403 }).toEqual({ p, forbidden: !allowed });
    }
    expect(checked).toContain(logout);
    expect(await auditCount()).toBe(audit);
  });

  it('has the dev admin user with the dev admin password (generated and kept in the data dir)', async () => {
    const secrets = JSON.parse(fs.readFileSync(path.join(stack.dataDir, 'dev-secrets.json'), 'utf8'));
    const dev = await consoleLogin(stack, 'admin', secrets.adminPassword);
    expect(dev.body.user).toEqual({ username: 'admin', role: 'admin' });
    expect((await asConsole(stack, dev, 'GET', '/admin/api/admin-users')).status).toBe(200);
  });

  it('logs in with an httpOnly SameSite=Strict cookie (Secure off localhost), answers the session, logs out', async () => {
    const me = await consoleLogin(stack, 'viewer-1', PASSWORD);
    expect(me.setCookie).toMatch(/^sluice_session=[\w-]{40,};/);
    expect(me.setCookie).toContain('HttpOnly');
    expect(me.setCookie).toContain('SameSite=Strict');
    expect(me.setCookie).toContain('Path=/admin');
    expect(me.setCookie).not.toContain('Secure');
    expect(me.body).toMatchObject({ user: { username: 'viewer-1', role: 'viewer' }, csrfToken: expect.any(String) });
    expect(me.body.expiresAt).toBeGreaterThan(Date.now());
    const session = await asConsole(stack, me, 'GET', '/admin/api/session');
    expect(session.body).toEqual(me.body);

    // Behind a real host name the cookie is Secure.
    const port = new URL(stack.url).port;
    const secure = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/admin/api/session', headers: { host: 'sluice.example.com', 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(String(res.headers['set-cookie'] ?? ''));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ username: 'viewer-1', password: PASSWORD }));
    });
    expect(secure).toContain('Secure');

    expect((await asConsole(stack, me, 'DELETE', '/admin/api/session')).status).toBe(204);
    expect((await asConsole(stack, me, 'GET', '/admin/api/session')).status).toBe(401);
    const bad = await stack.request('POST', '/admin/api/session', { headers: { authorization: '' }, body: { username: 'viewer-1', password: 'wrong password!' } });
    expect({ status: bad.status, code: bad.body.code }).toEqual({ status: 401, code: 'invalid_credentials' });
    await k().deleteFrom('admin_login_failures').execute();
  });

  it('ends sessions after the idle and the absolute limit, and when the user is disabled', async () => {
    const idle = await consoleLogin(stack, 'viewer-1', PASSWORD);
    const absolute = await consoleLogin(stack, 'viewer-1', PASSWORD);
    const config = stack.services.common.config;
    const rows = await k().selectFrom('admin_sessions').selectAll().orderBy('created_at', 'desc').limit(2).execute();
    expect(rows).toHaveLength(2);
    const [newer, older] = rows;
    // Age the sessions in the database rather than waiting 30 minutes.
    await k().updateTable('admin_sessions').set({ last_seen_at: Date.now() - config.adminSessionIdleSeconds * 1000 - 1 }).where('token_hash', '=', older!.token_hash).execute();
    await k().updateTable('admin_sessions').set({ created_at: Date.now() - config.adminSessionMaxSeconds * 1000 - 1 }).where('token_hash', '=', newer!.token_hash).execute();
    expect((await asConsole(stack, idle, 'GET', '/admin/api/session')).status).toBe(401);
    expect((await asConsole(stack, absolute, 'GET', '/admin/api/session')).status).toBe(401);
    // A session in use stays alive; a disabled user's does not.
    await stack.services.adminUsers.ensure({ username: 'temp-1', role: 'operator', password: PASSWORD });
    const temp = await consoleLogin(stack, 'temp-1', PASSWORD);
    expect((await asConsole(stack, temp, 'GET', '/admin/api/stats/overview')).status).toBe(200);
    const disabled = await asConsole(stack, logins.admin, 'PATCH', '/admin/api/admin-users/temp-1', { body: { disabled: true, reason: 'left the team' } });
    expect(disabled.status).toBe(200);
    expect(disabled.body.user).toMatchObject({ username: 'temp-1', disabledAt: expect.any(Number) });
    expect((await asConsole(stack, temp, 'GET', '/admin/api/stats/overview')).status).toBe(401);
    const again = await stack.request('POST', '/admin/api/session', { headers: { authorization: '' }, body: { username: 'temp-1', password: PASSWORD } });
    expect(again.status).toBe(401);
    await k().deleteFrom('admin_login_failures').execute();
  });

  it('leaves an audit entry for every write route, naming the console user', async () => {
    const { letterId: retryLetter } = await letterOnReceived();
    const { letterId: discardLetter } = await letterOnReceived();
    let probeKey = '';
    // Before confirming, the console shows what each action would do to the hold and the nonce.
    const preview = await asConsole(stack, logins.viewer, 'GET', `/admin/api/dead-letters/${retryLetter}`);
    expect(preview.body.consequences).toEqual({ retry: expect.stringContaining('queued for signing again'), discard: expect.stringContaining('nothing is held') });
    const rotated = await asConsole(stack, logins.admin, 'POST', '/admin/api/api-keys', { body: { name: 'audit-rotate', scopes: ['withdrawals:read'] } });
    const writes: Record<string, { call: () => Promise<{ status: number }>; action: string; actor?: string }> = {
      'POST /admin/api/session': { call: () => stack.request('POST', '/admin/api/session', { headers: { authorization: '' }, body: { username: 'operator-1', password: PASSWORD } }), action: 'session.create', actor: 'user:operator-1' },
      'DELETE /admin/api/session': {
        call: async () => asConsole(stack, await consoleLogin(stack, 'operator-1', PASSWORD), 'DELETE', '/admin/api/session'),
        action: 'session.delete',
        actor: 'user:operator-1',
      },
      'POST /admin/api/dead-letters/{id}/retry': { call: () => asConsole(stack, logins.operator, 'POST', `/admin/api/dead-letters/${retryLetter}/retry`, { body: { reason: 'fixed' } }), action: 'dead_letter.retry', actor: 'user:operator-1' },
      'POST /admin/api/dead-letters/{id}/discard': { call: () => asConsole(stack, logins.operator, 'POST', `/admin/api/dead-letters/${discardLetter}/discard`, { body: { reason: 'user asked' } }), action: 'dead_letter.discard', actor: 'user:operator-1' },
      'PATCH /admin/api/settings/chains/{chainId}': {
        call: () => asConsole(stack, logins.admin, 'PATCH', `/admin/api/settings/chains/${stack.chainId}`, { body: { maxFeePerGasGwei: '500', reason: 'same cap' } }),
        action: 'settings.chain',
      },
      'PATCH /admin/api/settings/networks/{asset}/{chainId}': {
        call: () => asConsole(stack, logins.admin, 'PATCH', `/admin/api/settings/networks/USDT/${stack.chainId}`, { body: { maxAmount: '1000000', reason: 'raise limit' } }),
        action: 'settings.network',
      },
      'POST /admin/api/pause': {
        call: () => asConsole(stack, logins.operator, 'POST', '/admin/api/pause', { body: { scope: 'chain', chainId: 999999, paused: false, reason: 'nothing paused' } }),
        action: 'pause.lift',
        actor: 'user:operator-1',
      },
      'POST /admin/api/api-keys': {
        call: async () => {
          const created = await asConsole(stack, logins.admin, 'POST', '/admin/api/api-keys', { body: { name: 'audit-probe', scopes: ['withdrawals:read'] } });
          probeKey = created.body.apiKey.id;
          return created;
        },
        action: 'api_key.create',
      },
      'POST /admin/api/api-keys/{id}/revoke': { call: () => asConsole(stack, logins.admin, 'POST', `/admin/api/api-keys/${probeKey}/revoke`, { body: { reason: 'unused' } }), action: 'api_key.revoke' },
      'POST /admin/api/api-keys/{id}/rotate': { call: () => asConsole(stack, logins.admin, 'POST', `/admin/api/api-keys/${rotated.body.apiKey.id}/rotate`, { body: { reason: 'leaked' } }), action: 'api_key.rotate' },
      'POST /admin/api/admin-users': { call: () => asConsole(stack, logins.admin, 'POST', '/admin/api/admin-users', { body: { username: 'audit-user', role: 'viewer' } }), action: 'admin_user.create' },
      'PATCH /admin/api/admin-users/{username}': { call: () => asConsole(stack, logins.admin, 'PATCH', '/admin/api/admin-users/audit-user', { body: { role: 'operator', reason: 'promoted' } }), action: 'admin_user.update' },
    };
    // Every write route in the OpenAPI has a row here: a new write cannot skip this check.
    expect(Object.keys(writes).sort()).toEqual((await adminRoutes()).filter(isWrite).map(key).sort());
    for (const [route, w] of Object.entries(writes)) {
      const before = await k().selectFrom('audit_log').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst();
      const res = await w.call();
      expect({ route, status: res.status }).toEqual({ route, status: expect.toSatisfy((s: number) => s >= 200 && s < 300) });
      const entries = await k().selectFrom('audit_log').selectAll().where('id', '>', Number(before?.id ?? 0)).execute();
      expect({ route, actions: entries.map((e) => e.action) }).toEqual({ route, actions: expect.arrayContaining([w.action]) });
      expect({ route, actor: entries.find((e) => e.action === w.action)!.actor }).toEqual({ route, actor: w.actor ?? 'user:admin-1' });
    }
    // The audit log filters by actor and action.
    const after = await asConsole(stack, logins.viewer, 'GET', `/admin/api/dead-letters/${retryLetter}`);
    expect(after.body.consequences.retry).toContain('not possible: the letter is retried');
    const byActor = await asConsole(stack, logins.viewer, 'GET', '/admin/api/audit-log?actor=user:operator-1&action=dead_letter.discard');
    expect(byActor.body.items).toHaveLength(1);
    expect(byActor.body.items[0]).toMatchObject({ actor: 'user:operator-1', action: 'dead_letter.discard', targetId: String(discardLetter), reason: 'user asked' });
  });

  it('manages API keys: the secret is shown once, works with its scopes, stops when revoked; rotation replaces it', async () => {
    const created = await asConsole(stack, logins.admin, 'POST', '/admin/api/api-keys', { body: { name: 'reports', scopes: ['withdrawals:read'] } });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^sk_/);
    const list = await asConsole(stack, logins.admin, 'GET', '/admin/api/api-keys');
    expect(JSON.stringify(list.body)).not.toContain(created.body.secret);
    expect(list.body.items.find((i: { id: string }) => i.id === created.body.apiKey.id)).toMatchObject({ name: 'reports', scopes: ['withdrawals:read'], revokedAt: null });
    const rotated = await asConsole(stack, logins.admin, 'POST', `/admin/api/api-keys/${created.body.apiKey.id}/rotate`, { body: { reason: 'rotation' } });
    expect(rotated.status).toBe(200);
    const use = (secret: string) => stack.request('GET', '/v1/assets', { headers: { authorization: `Bearer ${secret}` } });
    expect((await use(created.body.secret)).status).toBe(401);
    expect((await use(rotated.body.secret)).status).toBe(200);
    expect((await stack.request('POST', '/v1/ledger/credits', { headers: { authorization: `Bearer ${rotated.body.secret}` }, body: { userId: 'x', asset: 'ETH', amount: '1', reference: 'r' } })).status).toBe(403);
    const again = await asConsole(stack, logins.admin, 'POST', `/admin/api/api-keys/${created.body.apiKey.id}/revoke`, { body: { reason: 'twice' } });
    expect({ status: again.status, code: again.body.code }).toEqual({ status: 409, code: 'api_key_revoked' });
  });

  it('creates console users with a generated password shown once; refuses duplicates and self-demotion', async () => {
    const created = await asConsole(stack, logins.admin, 'POST', '/admin/api/admin-users', { body: { username: 'carol', role: 'operator' } });
    expect(created.status).toBe(201);
    expect(created.body.user).toMatchObject({ username: 'carol', role: 'operator', disabledAt: null, lastLoginAt: null });
    const carol = await consoleLogin(stack, 'carol', created.body.password);
    expect(carol.body.user).toEqual({ username: 'carol', role: 'operator' });
    const users = await asConsole(stack, logins.admin, 'GET', '/admin/api/admin-users');
    expect(users.body.items.find((u: { username: string }) => u.username === 'carol').lastLoginAt).toEqual(expect.any(Number));
    expect((await asConsole(stack, logins.admin, 'POST', '/admin/api/admin-users', { body: { username: 'carol', role: 'viewer' } })).body.code).toBe('user_exists');
    expect((await asConsole(stack, logins.admin, 'PATCH', '/admin/api/admin-users/admin-1', { body: { role: 'viewer', reason: 'oops' } })).body.code).toBe('cannot_demote_self');
  });

  it('searches withdrawals by every filter and shows a completed one\'s whole timeline with explorer links', async () => {
    await k().updateTable('chains').set({ explorer_url: 'https://explorer.example/' }).where('chain_id', '=', stack.chainId).execute();
    const userId = await fundedUser('ETH', '1');
    const to = newAddress();
    const id = await withdraw(userId, '0.02', to);
    await waitStatus(id, 'COMPLETED');
    const done = await wd(id);
    const search = async (q: string) => (await asConsole(stack, logins.viewer, 'GET', `/admin/api/withdrawals?${q}`)).body;
    for (const q of [`id=${id}`, `userId=${userId}`, `toAddress=${to.toLowerCase()}`, `toAddress=${to}`, `txHash=${done.txHash}`, `userId=${userId}&status=COMPLETED&asset=ETH&chainId=${stack.chainId}`, `userId=${userId}&from=${Date.now() - 600_000}&to=${Date.now() + 1}`]) {
      const res = await search(q);
      expect({ q, ids: res.items.map((w: { id: string }) => w.id) }).toEqual({ q, ids: [id] });
    }
    expect((await search(`userId=${userId}&status=FAILED`)).items).toEqual([]);
    expect((await search(`userId=${userId}&to=${Date.now() - 600_000}`)).items).toEqual([]);
    expect(((await search(`id=${id}`)).items[0])).toMatchObject({ id, userId, status: 'COMPLETED', wallet: expect.any(String), nonce: expect.any(Number) });
    // Paging: two more, one per page.
    const more = [await withdraw(userId), await withdraw(userId)];
    const p1 = await search(`userId=${userId}&limit=2`);
    expect(p1.items.map((w: { id: string }) => w.id)).toEqual([more[1], more[0]]);
    const p2 = await search(`userId=${userId}&limit=2&cursor=${p1.nextCursor}`);
    expect(p2.items.map((w: { id: string }) => w.id)).toEqual([id]);
    expect(p2.nextCursor).toBeNull();

    const detail = (await asConsole(stack, logins.viewer, 'GET', `/admin/api/withdrawals/${id}`)).body;
    expect(detail.events.map((e: { toStatus: string }) => e.toStatus)).toEqual(['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING', 'COMPLETED']);
    expect(detail.events.every((e: { createdAt: unknown }) => typeof e.createdAt === 'number')).toBe(true);
    expect(detail.attempts).toHaveLength(1);
    expect(detail.attempts[0]).toMatchObject({ txHash: done.txHash, kind: 'transfer', nonce: detail.withdrawal.nonce });
    expect(detail.ledgerEntries.map((e: { kind: string }) => e.kind)).toEqual(expect.arrayContaining(['hold', 'settle']));
    expect(detail.explorer.txUrlTemplate).toBe('https://explorer.example/tx/{hash}');
    expect((await asConsole(stack, logins.viewer, 'GET', '/admin/api/withdrawals/wd_nope')).status).toBe(404);

    const user = (await asConsole(stack, logins.viewer, 'GET', `/admin/api/users/${userId}?limit=2`)).body;
    expect(user.balances).toEqual([{ asset: 'ETH', available: expect.any(String), held: expect.any(String) }]);
    expect(user.ledger.items).toHaveLength(2);
    expect(user.ledger.nextCursor).not.toBeNull();
    const rest = (await asConsole(stack, logins.viewer, 'GET', `/admin/api/users/${userId}?cursor=${user.ledger.nextCursor}`)).body;
    expect(rest.ledger.items.at(-1)).toMatchObject({ kind: 'credit', account: 'available', amount: '1', withdrawalId: null });
    expect((await asConsole(stack, logins.viewer, 'GET', '/admin/api/users/never-seen')).status).toBe(404);
    for (const m of more) await waitStatus(m, 'COMPLETED');
  });

  it('answers the TX Status API: counts, dead letters, queues, SLA, pauses, throughput and latency buckets', async () => {
    const overview = (await asConsole(stack, logins.viewer, 'GET', '/admin/api/stats/overview')).body;
    const byStatus = await k().selectFrom('withdrawals').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
    for (const s of ['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING', 'COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED']) {
      expect({ s, n: overview.counts[s] }).toEqual({ s, n: Number(byStatus.find((r) => r.status === s)?.n ?? 0) });
    }
    expect(overview.counts.COMPLETED).toBeGreaterThan(0);
    expect(overview.queues.map((q: { name: string }) => q.name)).toEqual(expect.arrayContaining(['tx-requests', 'signed-tx']));
    expect(overview.slaBreaches).toEqual({ broadcastOver30s: expect.any(Number), completionOver5m: expect.any(Number) });
    expect(overview.paused).toEqual({ global: false, chains: [], networks: [] });
    expect(overview.openDeadLetters).toEqual({ invalid: expect.any(Number), tx: expect.any(Number) });

    // Charts are cached for a few seconds (the auth test above polled them): wait that out.
    await new Promise((r) => setTimeout(r, RANGES['1h'].cacheMs));
    const throughput = (await asConsole(stack, logins.viewer, 'GET', '/admin/api/stats/throughput?range=1h')).body;
    expect(throughput.bucketSeconds).toBe(60);
    expect(throughput.buckets.length).toBeGreaterThanOrEqual(59);
    const sum = (f: string) => throughput.buckets.reduce((a: number, b: Record<string, number>) => a + b[f]!, 0);
    expect(sum('created')).toBe(Number((await k().selectFrom('withdrawals').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n));
    expect(sum('completed')).toBe(overview.counts.COMPLETED);

    const latency = (await asConsole(stack, logins.viewer, 'GET', '/admin/api/stats/latency?range=24h')).body;
    expect(latency.bucketSeconds).toBe(900);
    const withData = latency.buckets.filter((b: { completed: unknown }) => b.completed !== null);
    expect(withData.length).toBeGreaterThan(0);
    const c = withData.at(-1).completed;
    expect(c.p50).toBeGreaterThan(0);
    expect(c.p50).toBeLessThanOrEqual(c.p95);
    expect(c.p95).toBeLessThanOrEqual(c.p99);
    expect((await asConsole(stack, logins.viewer, 'GET', '/admin/api/stats/latency?range=7d')).status).toBe(400);
  });

  it('pauses one network, a chain and everything: withdrawals wait RECEIVED with failureCode paused (never rejected) and complete after the pause is lifted', async () => {
    const userId = await fundedUser('ETH', '1');
    const pause = (body: Record<string, unknown>) => asConsole(stack, logins.operator, 'POST', '/admin/api/pause', { body });
    for (const scope of [{ scope: 'network', asset: 'ETH', chainId: stack.chainId }, { scope: 'chain', chainId: stack.chainId }, { scope: 'global' }]) {
      const on = await pause({ ...scope, paused: true, reason: `incident ${scope.scope}` });
      expect(on.status).toBe(200);
      const eth = on.body.networks.find((n: { asset: string }) => n.asset === 'ETH');
      expect(eth).toMatchObject({ paused: true, pausedReason: expect.stringContaining(`incident ${scope.scope}`) });
      // Signers honour it within SLUICE_SETTINGS_CACHE_MS; a withdrawal made after that waits.
      await new Promise((r) => setTimeout(r, stack.services.common.config.settingsCacheMs + 100));
      const id = await withdraw(userId);
      const waiting = await waitFor(`${id} to wait paused`, async () => {
        const w = await wd(id);
        return w.failureCode === 'paused' ? w : undefined;
      });
      expect(waiting).toMatchObject({ status: 'RECEIVED', txHash: null });
      // Well past the reconciler's timeout (2 s here): still waiting, no dead letter, no nonce taken.
      await new Promise((r) => setTimeout(r, 4_000));
      expect(await wd(id)).toMatchObject({ status: 'RECEIVED', failureCode: 'paused' });
      expect(await k().selectFrom('dead_letters').select('id').where('withdrawal_id', '=', id).execute()).toEqual([]);
      expect((await k().selectFrom('withdrawals').select('nonce').where('id', '=', id).executeTakeFirstOrThrow()).nonce).toBeNull();
      const overview = (await asConsole(stack, logins.viewer, 'GET', '/admin/api/stats/overview')).body;
      expect(overview.paused.global || overview.paused.chains.length > 0 || overview.paused.networks.length > 0).toBe(true);
      // The alert `SluicePausedLong` reads this gauge.
      const label = scope.scope === 'global' ? 'global' : scope.scope === 'chain' ? String(stack.chainId) : `ETH@${stack.chainId}`;
      expect((await stack.request('GET', '/metrics')).body).toMatch(new RegExp(`^sluice_paused\\{scope="${label}"\\} 1$`, 'm'));

      const off = await pause({ ...scope, paused: false, reason: 'resolved' });
      expect(off.body.networks.find((n: { asset: string }) => n.asset === 'ETH')).toMatchObject({ paused: false });
      await waitStatus(id, 'COMPLETED');
      expect((await wd(id)).failureCode).toBeNull();
    }
    const audit = (await asConsole(stack, logins.viewer, 'GET', '/admin/api/audit-log?targetType=pause&actor=user:operator-1')).body.items;
    expect(audit.filter((a: { action: string }) => a.action === 'pause.set')).toHaveLength(3);
    expect(audit.find((a: { action: string }) => a.action === 'pause.lift')).toMatchObject({ before: { paused: true }, after: { paused: false }, reason: 'resolved' });
    expect((await pause({ scope: 'network', chainId: stack.chainId, paused: true, reason: 'x' })).body.code).toBe('invalid_request');
  });

  it('changes network settings at run time and shows them', async () => {
    const patched = await asConsole(stack, logins.admin, 'PATCH', `/admin/api/settings/networks/ETH/${stack.chainId}`, { body: { minAmount: '0.005', reason: 'dust' } });
    expect(patched.status).toBe(200);
    expect(patched.body.networks.find((n: { asset: string }) => n.asset === 'ETH')).toMatchObject({ minAmount: '0.005', enabled: true, kind: 'native' });
    const userId = await fundedUser('ETH', '1');
    const below = await stack.request('POST', '/v1/withdrawals', { body: { userId, asset: 'ETH', chainId: stack.chainId, toAddress: newAddress(), amount: '0.004' }, headers: { 'idempotency-key': randomUUID() } });
    expect({ status: below.status, code: below.body.code }).toEqual({ status: 422, code: 'amount_below_minimum' });
    const bad = await asConsole(stack, logins.admin, 'PATCH', `/admin/api/settings/networks/ETH/${stack.chainId}`, { body: { minAmount: '2', maxAmount: '1', reason: 'min over max' } });
    expect({ status: bad.status, code: bad.body.code }).toEqual({ status: 400, code: 'invalid_limits' });
    const inFlight = stack.services.chains.get(stack.chainId)!.chain.maxPendingPerWallet;
    expect((await asConsole(stack, logins.admin, 'PATCH', `/admin/api/settings/chains/${stack.chainId}`, { body: { maxPendingPerWallet: 0, reason: 'none' } })).status).toBe(400);
    const chain = await asConsole(stack, logins.admin, 'PATCH', `/admin/api/settings/chains/${stack.chainId}`, { body: { confirmations: 3, maxPendingPerWallet: inFlight + 7, reason: 'safer' } });
    expect(chain.body.chains.find((c: { chainId: number }) => c.chainId === stack.chainId)).toMatchObject({ confirmations: 3, maxFeePerGasGwei: '500', maxPendingPerWallet: inFlight + 7 });
    // Running workers take it without a restart: the next withdrawal completes only at 3 confirmations.
    await waitFor('the workers to read 3 confirmations', async () => (stack.services.chains.get(stack.chainId)!.chain.confirmations === 3 ? true : undefined), 15_000, 100);
    expect(stack.services.chains.get(stack.chainId)!.chain.maxPendingPerWallet).toBe(inFlight + 7);
    const deeper = await withdraw(userId);
    await waitStatus(deeper, 'COMPLETED');
    expect((await wd(deeper)).confirmations).toBeGreaterThanOrEqual(3);
    expect((await asConsole(stack, logins.admin, 'PATCH', '/admin/api/settings/chains/424242', { body: { confirmations: 3, reason: 'x' } })).status).toBe(404);
    await asConsole(stack, logins.admin, 'PATCH', `/admin/api/settings/chains/${stack.chainId}`, { body: { maxPendingPerWallet: inFlight, reason: 'back' } });
    await asConsole(stack, logins.admin, 'PATCH', `/admin/api/settings/networks/ETH/${stack.chainId}`, { body: { minAmount: '0.001', reason: 'back' } });
  });

  it('reports hot wallets and RPC endpoints', async () => {
    const wallets = (await asConsole(stack, logins.viewer, 'GET', '/admin/api/wallets')).body.items;
    expect(wallets.length).toBeGreaterThan(0);
    const w = wallets[0];
    expect(w).toMatchObject({ chainId: stack.chainId, keyScheme: 'keystore', enabled: true, native: { symbol: 'ETH', balance: expect.any(String) }, tokens: [{ asset: 'USDT', balance: expect.any(String) }], lowBalance: false });
    expect(w.chainNonceLatest).toBe(w.dbNextNonce);
    expect(w.error).toBeUndefined();
    // A fee cap so high that the wallet's ETH no longer covers the gas reserve: flagged, with why.
    await asConsole(stack, logins.admin, 'PATCH', `/admin/api/settings/chains/${stack.chainId}`, { body: { maxFeePerGasGwei: '100000000000', reason: 'low balance probe' } });
    try {
      const low = (await asConsole(stack, logins.viewer, 'GET', '/admin/api/wallets')).body.items[0];
      expect(low).toMatchObject({ lowBalance: true, lowBalanceReason: expect.stringContaining('native balance is under') });
    } finally {
      await asConsole(stack, logins.admin, 'PATCH', `/admin/api/settings/chains/${stack.chainId}`, { body: { maxFeePerGasGwei: '500', reason: 'restore' } });
    }
    const endpoints = (await asConsole(stack, logins.viewer, 'GET', '/admin/api/endpoints')).body.items;
    expect(endpoints).toEqual([expect.objectContaining({ chainId: stack.chainId, url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), state: 'up', headLagBlocks: 0, errorRate: expect.any(Number) })]);
  });

  it('serves the console app at /admin with index.html for its routes, never for /admin/api', async () => {
    const page = await fetch(`${stack.url}/admin`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Sluice console');
    const deep = await fetch(`${stack.url}/admin/withdrawals/wd_123`);
    expect(await deep.text()).toContain('Sluice console');
    const asset = await fetch(`${stack.url}/admin/assets/app-1234.js`);
    expect(await asset.text()).toBe('console.log("sluice")');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    const api = await fetch(`${stack.url}/admin/api/nope`);
    expect(api.status).toBe(404);
    expect(api.headers.get('content-type')).toContain('application/problem+json');
    const traversal = await fetch(`${stack.url}/admin/..%2f..%2fpackage.json`);
    expect(await traversal.text()).not.toContain('"dependencies"');
    const ready = await fetch(`${stack.url}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready' }); // anonymous: ready or not, no dependency text
  });

  it('locks a username out after 5 failures with 429 and Retry-After, even for the right password', async () => {
    await k().deleteFrom('admin_login_failures').execute();
    const attempt = (password: string) => stack.request('POST', '/admin/api/session', { headers: { authorization: '' }, body: { username: 'operator-1', password } });
    for (let i = 0; i < 5; i++) expect((await attempt(`wrong-${i}-password`)).status).toBe(401);
    const locked = await attempt(PASSWORD);
    expect({ status: locked.status, code: locked.body.code }).toEqual({ status: 429, code: 'too_many_attempts' });
    const retryAfter = Number(locked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(stack.services.common.config.adminLockoutWindowSeconds);
    // Once the failures leave the window, the right password works again.
    await k().updateTable('admin_login_failures').set({ created_at: Date.now() - stack.services.common.config.adminLockoutWindowSeconds * 1000 - 1 }).execute();
    expect((await attempt(PASSWORD)).status).toBe(200);
  });
});
