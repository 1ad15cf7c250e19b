import { randomUUID } from 'node:crypto';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');

/**
 * Invariant 9's last check: a hot wallet whose key ref points at a key of another address (an
 * operator's mix-up, a restored backup). Whatever the signer signs with it recovers to another
 * address, so nothing is stored or sent: the withdrawal waits RECEIVED (its nonce reserved), and ends
 * in the Invalid DLQ as `wrong_signing_key` for an operator, instead of being paid from a wallet
 * whose nonces and balance Sluice does not track.
 */
describe(`a hot wallet whose key signs for another address (${dbKind})`, () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(dbKind, { devHotWallets: 1, signerMaxAttempts: 2 });
    const other = await stack.services.keys!.createKey(`not-the-wallet-${randomUUID().slice(0, 8)}`);
    await stack.services.db.kysely.updateTable('wallets').set({ key_ref: other.keyRef }).execute();
    await stack.restart(); // a start with the mix-up in place: no cache holds the right key
  });
  afterAll(async () => {
    await stack?.teardown();
  });

  it('stores and sends nothing it signed, and hands the withdrawal to an operator', async () => {
    const userId = `wk-${randomUUID().slice(0, 8)}`;
    expect((await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset: 'ETH', amount: '1', reference: randomUUID() } })).status).toBe(201);
    const toAddress = privateKeyToAccount(generatePrivateKey()).address;
    const created = await stack.request('POST', '/v1/withdrawals', {
      body: { userId, asset: 'ETH', chainId: stack.chainId, toAddress, amount: '0.1' },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(created.status).toBe(202);

    const k = stack.services.db.kysely;
    const letter = await waitFor('the withdrawal in the Invalid DLQ', () => k.selectFrom('dead_letters').selectAll().where('withdrawal_id', '=', created.body.id).executeTakeFirst(), 60_000, 200);
    expect(letter).toMatchObject({ queue: 'invalid', code: 'wrong_signing_key', status: 'open' });

    const row = await k.selectFrom('withdrawals').selectAll().where('id', '=', created.body.id).executeTakeFirstOrThrow();
    expect(row.status).toBe('RECEIVED');
    expect(row.tx_hash).toBeNull();
    expect(await k.selectFrom('tx_attempts').select('id').where('withdrawal_id', '=', created.body.id).execute()).toEqual([]);
    const wallet = await k.selectFrom('wallets').select(['address', 'next_nonce']).executeTakeFirstOrThrow();
    expect(await stack.services.chains.get(stack.chainId)!.transactionCount(wallet.address as `0x${string}`, 'pending')).toBe(0);
  });
});
