import { randomUUID } from 'node:crypto';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');

/**
 * The TX Status API serves a settled withdrawal's view from the shared cache (it can never change
 * again) and an unsettled one always from the database, so a poller never sees a stale status.
 */
describe(`withdrawal status read cache (${dbKind})`, () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(dbKind);
  });
  afterAll(async () => {
    await stack?.teardown();
  });

  it('caches only settled views', async () => {
    const cache = stack.services.cache;
    const userId = `cache-${randomUUID().slice(0, 8)}`;
    await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset: 'ETH', amount: '1', reference: randomUUID() } });
    const created = await stack.request('POST', '/v1/withdrawals', {
      body: { userId, asset: 'ETH', chainId: stack.chainId, toAddress: privateKeyToAccount(generatePrivateKey()).address, amount: '0.1' },
      headers: { 'idempotency-key': randomUUID() },
    });
    const id = created.body.id as string;
    const key = `withdrawal-view:${id}`;

    const early = await stack.request('GET', `/v1/withdrawals/${id}`);
    expect(early.body.status).not.toBe('COMPLETED');
    expect(await cache.get(key)).toBeUndefined(); // in flight: always read from the database

    const done = await waitFor('completion', async () => {
      const r = await stack.request('GET', `/v1/withdrawals/${id}`);
      return r.body.status === 'COMPLETED' ? r.body : undefined;
    });
    expect(JSON.parse((await cache.get(key))!)).toEqual(done);

    // Served from the cache from now on: a change behind its back is not seen...
    await stack.services.db.kysely.updateTable('withdrawals').set({ failure_reason: 'changed behind the cache' }).where('id', '=', id).execute();
    expect((await stack.request('GET', `/v1/withdrawals/${id}`)).body).toEqual(done);
    // ...and without the cache entry the database answers again.
    await cache.del(key);
    expect((await stack.request('GET', `/v1/withdrawals/${id}`)).body.failureReason).toBe('changed behind the cache');
  });
});
