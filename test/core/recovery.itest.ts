import { randomUUID } from 'node:crypto';
import { parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');

/**
 * What happens when a queue message is lost. (A node's permanent refusal and a short hot wallet are
 * covered in test/chain/lanes.itest.ts; open dead letters and the reconciler in money-paths.)
 */
describe(`recovery and dead letters on ${dbKind}`, () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(dbKind, { reconcileAfterSeconds: 1, reconcileIntervalMs: 200 });
  });
  afterAll(async () => {
    await stack?.teardown();
  });

  const statusOf = async (id: string) => (await stack.request('GET', `/v1/withdrawals/${id}`)).body;

  it('re-enqueues a withdrawal whose queue message was lost, and completes it', async () => {
    await stack.request('POST', '/v1/ledger/credits', { body: { userId: 'lost', asset: 'ETH', amount: '1', reference: randomUUID() } });
    // Stored exactly as the API stores it, but never queued: as if the process died before enqueue.
    const { row } = await stack.services.withdrawals.create(
      {
        idempotencyKey: randomUUID(),
        requestHash: 'x'.repeat(64),
        apiKeyId: 'test',
        userId: 'lost',
        asset: 'ETH',
        chainId: stack.chainId,
        toAddress: '0x000000000000000000000000000000000000bEEF',
        amount: parseEther('0.1'),
        fee: parseEther('0.0001'),
      },
      () => ({}),
    );
    const done = await waitFor('reconciler to finish the lost withdrawal', async () => {
      const w = await statusOf(row.id);
      return w.status === 'COMPLETED' ? w : undefined;
    });
    expect(done.txHash).toMatch(/^0x/);
    const requeues = await stack.request('GET', '/metrics');
    expect(requeues.body).toMatch(/sluice_reconciler_requeued_total\{status="RECEIVED"\} [1-9]/);
  });
});
