import { randomUUID } from 'node:crypto';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');

/**
 * Between passes the tracker waits for a new block, not for its interval: with the interval at an
 * hour, only the head poll can bring the tracker back after its first idle pass, so a withdrawal
 * that completes here was settled because its blocks woke the tracker.
 */
describe(`tracker woken by new blocks on ${dbKind}`, () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(dbKind, { trackerIntervalMs: 3_600_000, trackerHeadPollMs: 50 });
  });
  afterAll(async () => {
    await stack?.teardown();
  });

  it('completes a withdrawal with the tracker interval at an hour', async () => {
    const userId = `user-${randomUUID().slice(0, 8)}`;
    const credit = await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset: 'ETH', amount: '1', reference: randomUUID() } });
    expect(credit.status).toBe(201);
    // The tracker has had its idle passes by now: it waits on heads only.
    const toAddress = privateKeyToAccount(generatePrivateKey()).address;
    const created = await stack.request('POST', '/v1/withdrawals', {
      body: { userId, asset: 'ETH', chainId: stack.chainId, toAddress, amount: '0.5' },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(created.status).toBe(202);
    const done = await waitFor(`withdrawal ${created.body.id} to complete`, async () => {
      const w = (await stack.request('GET', `/v1/withdrawals/${created.body.id}`)).body;
      return w.status === 'COMPLETED' || w.status === 'FAILED' ? w : undefined;
    }, 60_000);
    expect(done.status).toBe('COMPLETED');
    expect(done.confirmations).toBeGreaterThanOrEqual(2);
  });
});
