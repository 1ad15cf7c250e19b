import { randomUUID } from 'node:crypto';
import { type Address, erc20Abi, parseEther, parseUnits } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { DeadLetter } from '../../src/dlq/dead-letters.js';
import { type ChainControl, chainControl } from '../support/chain-control.js';
import { checkLedger } from '../support/ledger-check.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');
const TERMINAL = ['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];

/**
 * The operator's side of the dead-letter queues (Admin API, scope `admin`): retry and discard of
 * Invalid-DLQ and TX-DLQ letters against a real anvil, each checked on chain and in the ledger,
 * each leaving exactly one audit entry written with the change.
 */
describe(`dead letters handled by operators on ${dbKind}`, () => {
  let stack: Stack;
  let chain: ChainControl;
  let token: Address;
  let opsKey: string;
  let readerKey: string;

  beforeAll(async () => {
    stack = await startStack(dbKind, { rebroadcastAfterSeconds: 1, feeBumpAfterSeconds: 5, reconcileAfterSeconds: 2, reconcileIntervalMs: 300 });
    chain = chainControl(stack.rpcUrl);
    token = (await stack.services.assets.find('USDT', stack.chainId))!.contract! as Address;
    opsKey = (await stack.services.apiKeys.create({ name: 'ops-alice', scopes: ['admin'] })).key;
    readerKey = (await stack.services.apiKeys.create({ name: 'no-admin', scopes: ['withdrawals:read', 'withdrawals:write', 'ledger:read', 'ledger:write'] })).key;
  });
  afterAll(async () => {
    await chain?.resumeMining(1).catch(() => {});
    await stack?.teardown();
  });

  const services = () => stack.services;
  const k = () => stack.services.db.kysely;
  const newAddress = () => privateKeyToAccount(generatePrivateKey()).address;
  const admin = (method: string, path: string, body?: unknown) =>
    stack.request(method, path, { headers: { authorization: `Bearer ${opsKey}` }, ...(body !== undefined ? { body } : {}) });

  async function fund(asset: 'ETH' | 'USDT', amount: string): Promise<string> {
    const userId = `dlq-${randomUUID().slice(0, 8)}`;
    const res = await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset, amount, reference: randomUUID() } });
    expect(res.status).toBe(201);
    return userId;
  }
  async function withdraw(userId: string, asset: 'ETH' | 'USDT', to: Address, amount: string): Promise<string> {
    const res = await stack.request('POST', '/v1/withdrawals', {
      body: { userId, asset, chainId: stack.chainId, toAddress: to, amount },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(res.status).toBe(202);
    return res.body.id as string;
  }
  /** A RECEIVED withdrawal the signer gave up on (as its onGiveUp does), never queued: only an operator moves it. */
  async function invalidLetterOnReceived(amount = '0.1') {
    const userId = await fund('ETH', '1');
    const to = newAddress();
    const { row } = await services().withdrawals.create(
      { idempotencyKey: randomUUID(), requestHash: 'x'.repeat(64), apiKeyId: 'test', userId, asset: 'ETH', chainId: stack.chainId, toAddress: to, amount: parseEther(amount), fee: parseEther('0.0001') },
      () => ({}),
    );
    const letterId = await record({ queue: 'invalid', withdrawalId: row.id, code: 'signing_failed', reason: 'Signing failed 10 times: keystore unreadable', attempts: 10 });
    return { id: row.id, userId, to, letterId };
  }
  async function record(letter: DeadLetter): Promise<number> {
    await k().transaction().execute((trx) => services().deadLetters.record(trx, letter));
    const row = await k().selectFrom('dead_letters').select('id').where('queue', '=', letter.queue).where('withdrawal_id', '=', letter.withdrawalId).executeTakeFirstOrThrow();
    return Number(row.id);
  }
  const get = async (id: string) => (await stack.request('GET', `/v1/withdrawals/${id}`)).body;
  const waitStatus = (id: string, statuses: string[], timeoutMs = 60_000) =>
    waitFor(`withdrawal ${id} to reach ${statuses.join('/')}`, async () => {
      const w = await get(id);
      return statuses.includes(w.status) ? w : undefined;
    }, timeoutMs);
  const balance = async (userId: string, asset: string) =>
    ((await stack.request('GET', `/v1/users/${userId}/balances`)).body as Array<{ asset: string; available: string; held: string }>).find((b) => b.asset === asset);
  const paid = (asset: 'ETH' | 'USDT', to: Address) =>
    asset === 'ETH' ? chain.client.getBalance({ address: to }) : chain.client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [to] });
  const attemptsOf = (id: string) => k().selectFrom('tx_attempts').selectAll().where('withdrawal_id', '=', id).orderBy('id').execute();
  const auditOf = async (letterId: number) => {
    const res = await admin('GET', `/admin/api/audit-log?targetType=dead_letter&targetId=${letterId}`);
    expect(res.status).toBe(200);
    return res.body.items as Array<{ actor: string; action: string; targetType: string; targetId: string; reason: string | null; before: any; after: any }>;
  };
  const snapshot = async (letterId: number, withdrawalId: string) => ({
    letter: await k().selectFrom('dead_letters').selectAll().where('id', '=', letterId).executeTakeFirst(),
    withdrawal: await k().selectFrom('withdrawals').selectAll().where('id', '=', withdrawalId).executeTakeFirst(),
    attempts: (await attemptsOf(withdrawalId)).length,
    audit: (await k().selectFrom('audit_log').select('id').execute()).length,
  });

  /** A USDT withdrawal whose bytes every node refuses (gas above the block limit), with mining paused: TX DLQ, cancel signed, nothing mined. */
  async function refusedWhilePaused(amount: string) {
    const user = await fund('USDT', '100');
    const to = newAddress();
    const network = (await services().assets.find('USDT', stack.chainId))!;
    await chain.pauseMining();
    await services().assets.upsertNetwork({ ...network, gasLimit: 40_000_000 });
    let id: string;
    try {
      id = await withdraw(user, 'USDT', to, amount);
      await waitFor('the TX DLQ letter and the cancel at the refused nonce', async () => {
        const letter = await k().selectFrom('dead_letters').selectAll().where('queue', '=', 'tx').where('withdrawal_id', '=', id).executeTakeFirst();
        const attempts = await attemptsOf(id);
        return letter && attempts.at(-1)?.kind === 'cancel' ? true : undefined;
      });
    } finally {
      // The operator fixes the setting; the refused bytes stay refused.
      await services().assets.upsertNetwork(network);
    }
    const letterId = Number((await k().selectFrom('dead_letters').select('id').where('queue', '=', 'tx').where('withdrawal_id', '=', id).executeTakeFirstOrThrow()).id);
    return { id, user, to, letterId };
  }

  it('answers 401 without a key and 403 without the admin scope on every admin route, and publishes them in the OpenAPI document', async () => {
    const { letterId, id } = await invalidLetterOnReceived();
    const before = await snapshot(letterId, id);
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/admin/api/dead-letters'],
      ['GET', `/admin/api/dead-letters/${letterId}`],
      ['POST', `/admin/api/dead-letters/${letterId}/retry`, {}],
      ['POST', `/admin/api/dead-letters/${letterId}/discard`, { reason: 'nope' }],
      ['GET', '/admin/api/audit-log'],
    ];
    for (const [method, path, body] of routes) {
      const anonymous = await stack.request(method, path, { headers: { authorization: '' }, ...(body !== undefined ? { body } : {}) });
      expect({ path, status: anonymous.status, code: anonymous.body.code }).toEqual({ path, status: 401, code: 'unauthorized' });
      expect(anonymous.headers.get('content-type')).toContain('application/problem+json');
      const reader = await stack.request(method, path, { headers: { authorization: `Bearer ${readerKey}` }, ...(body !== undefined ? { body } : {}) });
      expect({ path, status: reader.status, code: reader.body.code }).toEqual({ path, status: 403, code: 'forbidden' });
      if (method === 'GET') expect({ path, status: (await admin('GET', path)).status }).toEqual({ path, status: 200 });
    }
    expect(await snapshot(letterId, id)).toEqual(before);
    // An admin key is not a withdrawals key.
    expect((await stack.request('GET', '/v1/withdrawals', { headers: { authorization: `Bearer ${opsKey}` } })).status).toBe(403);

    const docs = await stack.request('GET', '/docs/json');
    for (const path of ['/admin/api/dead-letters', '/admin/api/dead-letters/{id}', '/admin/api/dead-letters/{id}/retry', '/admin/api/dead-letters/{id}/discard', '/admin/api/audit-log']) {
      const ops = Object.values(docs.body.paths[path] ?? {}) as Array<{ tags?: string[] }>;
      expect({ path, tags: ops.map((o) => o.tags) }).toEqual({ path, tags: [expect.arrayContaining(['admin'])] });
    }
    // Tidy: close it so later listings only hold what the next tests make.
    expect((await admin('POST', `/admin/api/dead-letters/${letterId}/discard`, { reason: 'auth test' })).status).toBe(200);
  });

  it('lists letters newest first with cursor paging and filters, and shows one with its withdrawal and attempts', async () => {
    const a = await invalidLetterOnReceived();
    const b = await invalidLetterOnReceived();
    const page1 = await admin('GET', '/admin/api/dead-letters?queue=invalid&status=open&limit=1');
    expect(page1.status).toBe(200);
    expect(page1.body.items.map((l: { id: number }) => l.id)).toEqual([b.letterId]);
    expect(page1.body.items[0]).toMatchObject({ queue: 'invalid', status: 'open', withdrawalId: b.id, code: 'signing_failed', attempts: 10, withdrawalStatus: 'RECEIVED', resolvedBy: null });
    const page2 = await admin('GET', `/admin/api/dead-letters?queue=invalid&status=open&limit=1&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items.map((l: { id: number }) => l.id)).toEqual([a.letterId]);
    expect((await admin('GET', '/admin/api/dead-letters?queue=tx&status=open')).body.items.map((l: { withdrawalId: string }) => l.withdrawalId)).not.toContain(a.id);
    expect((await admin('GET', '/admin/api/dead-letters?cursor=bm9wZQ')).body.code).toBe('invalid_cursor');
    expect((await admin('GET', '/admin/api/dead-letters?status=closed')).status).toBe(400);

    const one = await admin('GET', `/admin/api/dead-letters/${a.letterId}`);
    expect(one.status).toBe(200);
    expect(one.body.letter).toMatchObject({ id: a.letterId, queue: 'invalid', status: 'open', reason: 'Signing failed 10 times: keystore unreadable' });
    expect(one.body.withdrawal).toMatchObject({ id: a.id, status: 'RECEIVED', amount: '0.1', nonce: null, txHash: null, failureCode: null, cancelReason: null });
    expect(one.body.attempts).toEqual([]);
    const missing = await admin('GET', '/admin/api/dead-letters/999999999');
    expect({ status: missing.status, code: missing.body.code }).toEqual({ status: 404, code: 'dead_letter_not_found' });

    for (const x of [a, b]) expect((await admin('POST', `/admin/api/dead-letters/${x.letterId}/discard`, { reason: 'listing test' })).status).toBe(200);
  });

  it('retries an Invalid-DLQ letter on a RECEIVED withdrawal: signed again, completed, the recipient paid once', async () => {
    const { id, userId, to, letterId } = await invalidLetterOnReceived('0.25');
    const res = await admin('POST', `/admin/api/dead-letters/${letterId}/retry`, { reason: 'keystore restored' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      action: 'requeued',
      letter: { id: letterId, status: 'retried', resolvedBy: 'apikey:ops-alice', resolutionReason: 'keystore restored' },
      withdrawal: { id, status: 'RECEIVED' },
    });
    expect(res.body.consequence).toContain('queued for signing');

    const done = await waitStatus(id, TERMINAL);
    expect(done.status).toBe('COMPLETED');
    expect(await paid('ETH', to)).toBe(parseEther('0.25'));
    const attempts = await attemptsOf(id);
    expect(new Set(attempts.map((a) => Number(a.nonce))).size).toBe(1);
    expect(await balance(userId, 'ETH')).toEqual({ asset: 'ETH', available: '0.7499', held: '0' });

    const again = await admin('POST', `/admin/api/dead-letters/${letterId}/retry`, {});
    expect({ status: again.status, code: again.body.code }).toEqual({ status: 409, code: 'dead_letter_not_open' });

    const audit = await auditOf(letterId);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      actor: 'apikey:ops-alice',
      action: 'dead_letter.retry',
      targetType: 'dead_letter',
      targetId: String(letterId),
      reason: 'keystore restored',
      before: { letter: { status: 'open' }, withdrawal: { status: 'RECEIVED', cancelReason: null } },
      after: { letter: { status: 'retried' }, withdrawal: { status: 'RECEIVED', cancelReason: null } },
    });
  });

  it('discards a RECEIVED withdrawal: CANCELLED, nothing held, never signed; a reason is required', async () => {
    const { id, userId, to, letterId } = await invalidLetterOnReceived();
    const before = await snapshot(letterId, id);
    for (const body of [{}, { reason: '' }, { reason: '   ' }, { reason: 'x'.repeat(501) }, { reason: 'ok', extra: 1 }]) {
      const bad = await admin('POST', `/admin/api/dead-letters/${letterId}/discard`, body);
      expect({ body, status: bad.status }).toEqual({ body, status: 400 });
      expect(bad.headers.get('content-type')).toContain('application/problem+json');
    }
    const noBody = await stack.request('POST', `/admin/api/dead-letters/${letterId}/discard`, { headers: { authorization: `Bearer ${opsKey}` } });
    expect(noBody.status).toBe(400);
    expect(await snapshot(letterId, id)).toEqual(before);

    const res = await admin('POST', `/admin/api/dead-letters/${letterId}/discard`, { reason: 'user asked to cancel' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      action: 'cancelled',
      consequence: 'nothing held',
      letter: { status: 'discarded', resolvedBy: 'apikey:ops-alice', resolutionReason: 'user asked to cancel' },
      withdrawal: { id, status: 'CANCELLED', failureCode: 'discarded', failureReason: 'user asked to cancel' },
    });
    // A late sign request (a redelivery, the reconciler) must not sign it now.
    await services().queues.requests.send({ withdrawalId: id });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await get(id)).toMatchObject({ status: 'CANCELLED', txHash: null });
    expect(await attemptsOf(id)).toHaveLength(0);
    expect(await balance(userId, 'ETH')).toEqual({ asset: 'ETH', available: '1', held: '0' });
    expect(await paid('ETH', to)).toBe(0n);
    const events = await services().withdrawals.events(id);
    expect(events.at(-1)).toMatchObject({ from_status: 'RECEIVED', to_status: 'CANCELLED', code: 'discarded' });

    const audit = await auditOf(letterId);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: 'dead_letter.discard',
      reason: 'user asked to cancel',
      before: { letter: { status: 'open' }, withdrawal: { status: 'RECEIVED', cancelReason: null } },
      after: { letter: { status: 'discarded' }, withdrawal: { status: 'CANCELLED', cancelReason: null } },
    });
  });

  it('discards a TX-DLQ letter while its nonce is pending: the cancel mines, the hold is released, the lane goes on', async () => {
    const { id, user, to, letterId } = await refusedWhilePaused('30');
    let nextId: string;
    try {
      const detail = await admin('GET', `/admin/api/dead-letters/${letterId}`);
      expect(detail.body.letter).toMatchObject({ queue: 'tx', status: 'open' });
      expect(detail.body.withdrawal.cancelReason).toMatch(/^node refused the transaction/);
      expect(['SIGNED', 'BROADCAST']).toContain(detail.body.withdrawal.status);
      expect(detail.body.attempts.map((a: { kind: string }) => a.kind)).toEqual(expect.arrayContaining(['transfer', 'cancel']));
      expect(new Set(detail.body.attempts.map((a: { nonce: number }) => a.nonce)).size).toBe(1);
      expect(detail.body.attempts[0].lastError).toBeTruthy();

      const res = await admin('POST', `/admin/api/dead-letters/${letterId}/discard`, { reason: 'wrong gas setting; user refunded' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        action: 'cancel_requested',
        consequence: 'nonce will be filled with a cancel; hold released when it is mined',
        letter: { status: 'discarded' },
        withdrawal: { id, cancelReason: 'operator: wrong gas setting; user refunded' },
      });
      // Nothing mined yet: the hold stays until the cancel is.
      expect(await balance(user, 'USDT')).toEqual({ asset: 'USDT', available: '69', held: '31' });
      nextId = await withdraw(user, 'USDT', newAddress(), '10');
      await waitStatus(nextId, ['SIGNED', 'BROADCAST']);
    } finally {
      await chain.resumeMining(1);
    }
    const [done, nextDone] = await Promise.all([waitStatus(id, TERMINAL), waitStatus(nextId, TERMINAL)]);
    expect(done).toMatchObject({ status: 'CANCELLED', failureReason: 'operator: wrong gas setting; user refunded' });
    expect(nextDone.status).toBe('COMPLETED');
    const mined = (await attemptsOf(id)).find((a) => a.tx_hash === done.txHash)!;
    expect(mined.kind).toBe('cancel');
    expect(await paid('USDT', to)).toBe(0n);
    expect(await balance(user, 'USDT')).toEqual({ asset: 'USDT', available: '89', held: '0' }); // 100 - (10 + 1); the 31 released

    const audit = await auditOf(letterId);
    expect(audit).toHaveLength(1);
    expect(audit[0]!.before).toMatchObject({ letter: { status: 'open' }, withdrawal: { cancelReason: expect.stringMatching(/^node refused/) } });
    expect(audit[0]!.after).toMatchObject({ letter: { status: 'discarded' }, withdrawal: { cancelReason: 'operator: wrong gas setting; user refunded' } });
    expect((await checkLedger(services())).violations).toEqual([]);
  });

  it('retries a TX-DLQ letter after the gas limit is fixed: the payout is re-signed at the same nonce and completes, paid once', async () => {
    const { id, user, to, letterId } = await refusedWhilePaused('20');
    let cancelNonce: number;
    try {
      const cancel = (await attemptsOf(id)).at(-1)!;
      cancelNonce = Number(cancel.nonce);
      const res = await admin('POST', `/admin/api/dead-letters/${letterId}/retry`, { reason: 'gas limit fixed' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ action: 'payout_resigned', letter: { status: 'retried' }, withdrawal: { id, cancelReason: null, failureCode: null } });
      expect(res.body.consequence).toContain(`nonce ${cancelNonce}`);
      // The signer puts a fresh transfer (current gas limit) over the cancel, at the same nonce.
      await waitFor('the re-signed payout', async () => {
        const latest = (await attemptsOf(id)).at(-1)!;
        return latest.kind === 'transfer' && latest.id > cancel.id ? latest : undefined;
      });
    } finally {
      await chain.resumeMining(1);
    }
    const done = await waitStatus(id, TERMINAL);
    expect(done.status).toBe('COMPLETED');
    const attempts = await attemptsOf(id);
    expect(attempts.every((a) => Number(a.nonce) === cancelNonce)).toBe(true);
    const mined = attempts.find((a) => a.tx_hash === done.txHash)!;
    expect(mined.kind).toBe('transfer');
    expect(mined.gas_limit).toBeLessThan(40_000_000);
    expect(await paid('USDT', to)).toBe(parseUnits('20', 6));
    expect(await balance(user, 'USDT')).toEqual({ asset: 'USDT', available: '79', held: '0' });
    expect(done.failureCode).toBeNull();

    const audit = await auditOf(letterId);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      action: 'dead_letter.retry',
      reason: 'gas limit fixed',
      before: { letter: { status: 'open' }, withdrawal: { cancelReason: expect.stringMatching(/^node refused/) } },
      after: { letter: { status: 'retried' }, withdrawal: { cancelReason: null } },
    });
    expect((await checkLedger(services())).violations).toEqual([]);
  });

  it('refuses to retry a terminal withdrawal and changes nothing; discard just closes its letter; a closed letter is 409', async () => {
    // A completed withdrawal with an (artificially) open letter.
    const user = await fund('ETH', '1');
    const to = newAddress();
    const id = await withdraw(user, 'ETH', to, '0.2');
    expect((await waitStatus(id, TERMINAL)).status).toBe('COMPLETED');
    const letterId = await record({ queue: 'invalid', withdrawalId: id, code: 'signing_failed', reason: 'stale letter', attempts: 10 });
    const before = await snapshot(letterId, id);

    const retry = await admin('POST', `/admin/api/dead-letters/${letterId}/retry`, { reason: 'try' });
    expect({ status: retry.status, code: retry.body.code }).toEqual({ status: 409, code: 'withdrawal_terminal' });
    expect(retry.body.detail).toContain('COMPLETED');
    expect(retry.headers.get('content-type')).toContain('application/problem+json');
    expect(await snapshot(letterId, id)).toEqual(before);

    const discard = await admin('POST', `/admin/api/dead-letters/${letterId}/discard`, { reason: 'already paid' });
    expect(discard.status).toBe(200);
    expect(discard.body).toMatchObject({ action: 'closed', letter: { status: 'discarded' }, withdrawal: { status: 'COMPLETED' } });
    const after = await snapshot(letterId, id);
    expect(after.withdrawal).toEqual(before.withdrawal);
    expect(after.attempts).toBe(before.attempts);
    expect(after.audit).toBe(before.audit + 1);

    for (const [path, body] of [['retry', {}], ['retry', undefined], ['discard', { reason: 'again' }]] as const) {
      const res = await admin('POST', `/admin/api/dead-letters/${letterId}/${path}`, body);
      expect({ path, status: res.status, code: res.body.code }).toEqual({ path, status: 409, code: 'dead_letter_not_open' });
    }
    expect(await snapshot(letterId, id)).toEqual(after);
    expect(await auditOf(letterId)).toHaveLength(1);
    expect(await paid('ETH', to)).toBe(parseEther('0.2'));
    expect(await balance(user, 'ETH')).toEqual({ asset: 'ETH', available: '0.7999', held: '0' });
  });

  it('refuses to discard a withdrawal whose transaction is already mined (409 already_mined); it settles as paid', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    await chain.pauseMining();
    let id: string;
    let letterId: number;
    try {
      id = await withdraw(user, 'ETH', to, '0.3');
      await waitStatus(id, ['BROADCAST']);
      letterId = await record({ queue: 'tx', withdrawalId: id, code: 'node_rejected', reason: 'test letter', attempts: 1 });
      await chain.mine(1); // the payout is in a block now, whatever the tracker has seen yet
      const res = await admin('POST', `/admin/api/dead-letters/${letterId}/discard`, { reason: 'too late' });
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 409, code: 'already_mined' });
      expect(res.body.detail).toContain('already in a block');
      expect((await k().selectFrom('withdrawals').select('cancel_reason').where('id', '=', id).executeTakeFirstOrThrow()).cancel_reason).toBeNull();
    } finally {
      await chain.resumeMining(1);
    }
    expect((await waitStatus(id, TERMINAL)).status).toBe('COMPLETED');
    expect(await paid('ETH', to)).toBe(parseEther('0.3'));
    expect((await admin('GET', `/admin/api/dead-letters/${letterId}`)).body.letter.status).toBe('open');
    expect(await auditOf(letterId)).toHaveLength(0);
  });
});
