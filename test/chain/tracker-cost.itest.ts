import { randomUUID } from 'node:crypto';
import { type Address, keccak256, parseEther, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { countingChain } from '../../bench/lib/counting-chain.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTracker } from '../../src/tracker/tracker.js';
import { newId } from '../../src/util/ids.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');
const STUCK = 10_000;
const STUCK_LANES = 4;

/**
 * 10,000 withdrawals stuck in flight on other lanes (their nonces never mined) must neither cost
 * an RPC call each per tick nor hold up a healthy lane: a real withdrawal completes through the
 * same tracker, and each tick stays within a small, fixed number of RPC calls.
 */
describe(`tracker cost with ${STUCK} in flight on ${dbKind}`, () => {
  let stack: Stack;

  beforeAll(async () => {
    // The background tracker idles for an hour after its first empty tick: this test drives it.
    stack = await startStack(dbKind, { trackerIntervalMs: 3_600_000, trackerHeadPollMs: 3_600_000 });
    const k = stack.services.db.kysely;
    const now = Date.now();
    const lanes = Array.from({ length: STUCK_LANES }, () => privateKeyToAccount(generatePrivateKey()).address);
    const perLane = STUCK / STUCK_LANES;
    for (const [l, wallet] of lanes.entries()) {
      for (let start = 0; start < perLane; start += 500) {
        const rows = Array.from({ length: Math.min(500, perLane - start) }, (_, i) => {
          const nonce = start + i;
          const id = newId('wd', now);
          const txHash = keccak256(toHex(`${wallet}:${nonce}`));
          return { id, nonce, txHash, wallet };
        });
        await k
          .insertInto('withdrawals')
          .values(
            rows.map((r) => ({
              id: r.id,
              idempotency_key: `stuck-${l}-${r.nonce}-${randomUUID()}`,
              request_hash: 'x'.repeat(64),
              api_key_id: 'test',
              user_id: 'stuck',
              asset: 'ETH',
              chain_id: stack.chainId,
              to_address: '0x000000000000000000000000000000000000bEEF',
              amount: '1000',
              fee: '0',
              status: 'BROADCAST' as const,
              wallet: r.wallet,
              nonce: r.nonce,
              tx_hash: r.txHash,
              block_number: null,
              block_hash: null,
              confirmations: 0,
              failure_code: null,
              failure_reason: null,
              create_response: '{}',
              cancel_reason: null,
              requeued_at: null,
              created_at: now,
              updated_at: now,
            })),
          )
          .execute();
        await k
          .insertInto('tx_attempts')
          .values(
            rows.map((r) => ({
              withdrawal_id: r.id,
              chain_id: stack.chainId,
              wallet: r.wallet,
              nonce: r.nonce,
              tx_hash: r.txHash,
              raw_tx: '0x00',
              kind: 'transfer' as const,
              max_fee_per_gas: '1000000000',
              max_priority_fee_per_gas: '1000000000',
              gas_limit: 21_000,
              created_at: now,
              broadcast_at: now,
              last_broadcast_at: now,
              broadcast_count: 1,
              last_error: null,
            })),
          )
          .execute();
      }
    }
  }, 300_000);
  afterAll(async () => {
    await stack?.teardown();
  });

  it('completes a healthy lane and keeps every tick to a bounded number of RPC calls', async () => {
    const userId = `cost-${randomUUID().slice(0, 8)}`;
    await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset: 'ETH', amount: '1', reference: randomUUID() } });
    const to: Address = privateKeyToAccount(generatePrivateKey()).address;
    const res = await stack.request('POST', '/v1/withdrawals', {
      body: { userId, asset: 'ETH', chainId: stack.chainId, toAddress: to, amount: '0.5' },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(res.status).toBe(202);

    const counting = countingChain(stack.services.chains.get(stack.chainId)!);
    const tracker = createTracker({
      ...stack.services,
      chains: new Map([[stack.chainId, counting.chain]]),
      requests: stack.services.queues.requests,
      signed: stack.services.queues.signed,
    });
    const perTick: number[] = [];
    await waitFor('the healthy withdrawal to complete', async () => {
      counting.reset();
      const r = await tracker.tick();
      perTick.push(counting.calls());
      expect(r.checked).toBeGreaterThan(0);
      return (await stack.services.withdrawals.get(res.body.id))?.status === 'COMPLETED' ? true : undefined;
    }, 60_000, 100);

    expect(await stack.services.chains.get(stack.chainId)!.read((c) => c.getBalance({ address: to }))).toBe(parseEther('0.5'));
    // head + one nonce lookup per lane (5) + the healthy tx's receipt and block checks; never per stuck row.
    expect(Math.max(...perTick)).toBeLessThanOrEqual(12);
    const stillStuck = await stack.services.db.kysely
      .selectFrom('withdrawals')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', 'stuck')
      .where('status', '=', 'BROADCAST')
      .executeTakeFirstOrThrow();
    expect(Number(stillStuck.n)).toBe(STUCK);
  });
});
