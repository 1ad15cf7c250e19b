import { randomUUID } from 'node:crypto';
import { type Address, getAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');

/**
 * A hot wallet whose key ref points at a key of another address (an operator's mix-up, a restored
 * backup). Nothing it signed could ever be sent (invariant 9), so it must get no nonces: a
 * reservation on it would hold a nonce no signature follows, and its lane would stall behind it.
 * It is left out of the pool with an alert: payouts go to the other wallets, or wait visibly when
 * no wallet is left, and go on by themselves once the key is right again.
 */
describe(`a hot wallet whose key signs for another address (${dbKind})`, () => {
  let stack: Stack;
  let good: Address;
  let bad: Address;
  let badKeyRef: string;
  let otherKeyRef: string;

  beforeAll(async () => {
    stack = await startStack(dbKind, { devHotWallets: 2, signerMaxAttempts: 2 });
    [good, bad] = (await stack.services.wallets.forChain(stack.chainId)).map((w) => getAddress(w.address)) as [Address, Address];
    badKeyRef = (await k().selectFrom('wallets').select('key_ref').where('address', '=', bad).executeTakeFirstOrThrow()).key_ref;
    otherKeyRef = (await stack.services.keys!.createKey(`not-the-wallet-${randomUUID().slice(0, 8)}`)).keyRef;
    await k().updateTable('wallets').set({ key_ref: otherKeyRef }).where('address', '=', bad).execute();
    await stack.restart(); // a start with the mix-up in place: no cache holds the right key
  });
  afterAll(async () => {
    await stack?.teardown();
  });

  const k = () => stack.services.db.kysely;
  const userId = `wk-${randomUUID().slice(0, 8)}`;

  async function withdraw(amount: string): Promise<string> {
    const created = await stack.request('POST', '/v1/withdrawals', {
      body: { userId, asset: 'ETH', chainId: stack.chainId, toAddress: privateKeyToAccount(generatePrivateKey()).address, amount },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(created.status).toBe(202);
    return created.body.id;
  }
  const get = async (id: string) => (await stack.request('GET', `/v1/withdrawals/${id}`)).body;
  const completed = (id: string) => waitFor(`${id} to complete`, async () => ((await get(id)).status === 'COMPLETED' ? get(id) : undefined), 60_000, 200);
  const nextNonce = async (address: Address) => Number((await k().selectFrom('wallets').select('next_nonce').where('address', '=', address).executeTakeFirstOrThrow()).next_nonce);

  it('sends every payout from the wallets whose keys are right, and takes no nonce of the other', async () => {
    expect((await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset: 'ETH', amount: '1', reference: randomUUID() } })).status).toBe(201);
    const ids = [await withdraw('0.01'), await withdraw('0.01'), await withdraw('0.01')];
    for (const id of ids) await completed(id);
    const rows = await k().selectFrom('withdrawals').select(['wallet', 'nonce']).where('id', 'in', ids).execute();
    expect(rows.map((r) => getAddress(r.wallet!))).toEqual([good, good, good]);
    expect(await nextNonce(bad)).toBe(0);
    expect(await stack.services.chains.get(stack.chainId)!.transactionCount(bad, 'pending')).toBe(0);
    const metrics = (await stack.request('GET', '/metrics')).body as string;
    expect(metrics).toMatch(new RegExp(`^sluice_hot_wallet_key_unusable_total\\{chain_id="${stack.chainId}",wallet="${bad}"\\} [1-9]`, 'm'));
  });

  it('waits visibly when no wallet has a usable key, reserving nothing, and pays once the key is right again', async () => {
    await k().updateTable('wallets').set({ key_ref: otherKeyRef }).where('address', '=', good).execute();
    await stack.restart();
    const goodNonce = await nextNonce(good);
    const id = await withdraw('0.02');
    const waiting = await waitFor('the visible wait', async () => ((await get(id)).failureCode === 'hot_wallet_key_unusable' ? get(id) : undefined), 60_000, 200);
    expect(waiting.status).toBe('RECEIVED');
    expect(waiting.failureReason).toContain(bad);
    expect(waiting.failureReason).toContain(good);
    const row = await k().selectFrom('withdrawals').select(['wallet', 'nonce', 'tx_hash']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(row).toEqual({ wallet: null, nonce: null, tx_hash: null });
    expect(await k().selectFrom('tx_attempts').select('id').where('withdrawal_id', '=', id).execute()).toEqual([]);
    expect(await k().selectFrom('dead_letters').select('id').where('withdrawal_id', '=', id).execute()).toEqual([]); // a wait, not a failure
    expect([await nextNonce(good), await nextNonce(bad)]).toEqual([goodNonce, 0]);

    // The operator restores the right key: no restart, no re-drive.
    await k().updateTable('wallets').set({ key_ref: badKeyRef }).where('address', '=', bad).execute();
    const done = await completed(id);
    expect(done.failureCode).toBeNull();
    const paidBy = await k().selectFrom('withdrawals').select(['wallet', 'nonce']).where('id', '=', id).executeTakeFirstOrThrow();
    expect({ wallet: getAddress(paidBy.wallet!), nonce: Number(paidBy.nonce) }).toEqual({ wallet: bad, nonce: 0 });
  });
});
