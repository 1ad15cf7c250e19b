import { randomUUID } from 'node:crypto';
import { type Address, parseEther } from 'viem';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { setDevBalance } from '../../src/chain/devnet.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');

/** What happens when a queue message is lost, and when a node refuses a transaction for good. */
describe(`recovery and dead letters on ${dbKind}`, () => {
  let stack: Stack;
  let hotWallet: Address;

  beforeAll(async () => {
    stack = await startStack(dbKind, { reconcileAfterSeconds: 1, reconcileIntervalMs: 200 });
    hotWallet = (await stack.services.wallets.forChain(stack.chainId))[0]!.address as Address;
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

  it('dead-letters a transaction the node refuses for good, keeps it SIGNED, and does not re-drive it', async () => {
    await stack.request('POST', '/v1/ledger/credits', { body: { userId: 'broke', asset: 'ETH', amount: '1', reference: randomUUID() } });
    await setDevBalance(stack.rpcUrl, hotWallet, 0n); // no gas money: "insufficient funds"
    try {
      const res = await stack.request('POST', '/v1/withdrawals', {
        body: { userId: 'broke', asset: 'ETH', chainId: stack.chainId, toAddress: '0x000000000000000000000000000000000000bEEF', amount: '0.2' },
        headers: { 'idempotency-key': randomUUID() },
      });
      const letter = await waitFor('a TX DLQ entry', async () => {
        const letters = await stack.services.deadLetters.list({ queue: 'tx' });
        return letters.find((l) => l.withdrawal_id === res.body.id);
      });
      expect(letter).toMatchObject({ code: 'insufficient_funds', status: 'open' });
      expect(letter.reason.length).toBeGreaterThan(0);
      const attempt = await stack.services.db.kysely.selectFrom('tx_attempts').selectAll().where('withdrawal_id', '=', res.body.id).executeTakeFirstOrThrow();
      expect(attempt.last_error).toContain('insufficient_funds');

      await new Promise((r) => setTimeout(r, 1_500)); // past the reconcile timeout
      const w = await statusOf(res.body.id);
      expect(w.status).toBe('SIGNED'); // waits visibly for an operator; hold kept
      const balances = (await stack.request('GET', '/v1/users/broke/balances')).body;
      expect(balances).toEqual([{ asset: 'ETH', available: '0.7999', held: '0.2001' }]);
      const [{ n }] = await stack.services.db.kysely
        .selectFrom('tx_attempts')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('withdrawal_id', '=', res.body.id)
        .execute() as [{ n: number }];
      expect(Number(n)).toBe(1); // never re-signed
    } finally {
      await setDevBalance(stack.rpcUrl, hotWallet, parseEther('10000'));
    }
  });
});
