import { randomUUID } from 'node:crypto';
import { getAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseUnits, rescale } from '../../src/money/decimal.js';
import type { NonceReservations, Reservation } from '../../src/signer/nonce-reservations.js';
import { insertWithdrawals } from '../../src/withdrawals/insert-batch.js';
import { newWithdrawalRow } from '../../src/withdrawals/repository.js';
import { createTestReservations } from '../support/reservations.js';
import { type Stack, startStack } from '../support/stack.js';

const dbKind = inject('db');

/**
 * The signer's nonce reservations on one hot wallet, driven directly so that which requests share
 * a batch is known: a payout signed ahead is stored in the same commit as its nonce and hold only
 * when the nonce it takes is the one it was signed for; otherwise its signature is dropped and the
 * nonce is only reserved. The running signer never sees these withdrawals (nothing queues them).
 */
describe(`signing ahead of the lane's commit (${dbKind})`, () => {
  let stack: Stack;
  let reservations: NonceReservations;
  let replica: NonceReservations;
  const signedAhead: string[] = [];

  beforeAll(async () => {
    stack = await startStack(dbKind, { devHotWallets: 1 });
    const make = () => createTestReservations(stack, (raw) => signedAhead.push(raw));
    reservations = make();
    replica = make();
  });
  afterAll(async () => {
    await stack?.teardown();
  });

  const k = () => stack.services.db.kysely;

  /** A RECEIVED withdrawal of 0.01 ETH stored as the API would, for a user credited `credit` ETH. */
  async function received(userId: string, credit: string | null) {
    if (credit !== null) {
      const res = await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset: 'ETH', amount: credit, reference: randomUUID() } });
      expect(res.status).toBe(201);
    }
    const network = (await stack.services.assets.find('ETH', stack.chainId))!;
    const apiKey = await k().selectFrom('api_keys').select('id').executeTakeFirstOrThrow();
    const to = privateKeyToAccount(generatePrivateKey()).address;
    const amount = parseUnits('0.01', network.ledgerDecimals);
    const { row } = newWithdrawalRow(
      { idempotencyKey: randomUUID(), requestHash: 'h', apiKeyId: apiKey.id, userId, asset: 'ETH', chainId: stack.chainId, toAddress: to, amount, fee: 0n },
      () => ({}),
    );
    await insertWithdrawals(stack.services.db, [row]);
    return { w: row, network, to: getAddress(to), chainAmount: rescale(amount, network.ledgerDecimals, network.decimals) };
  }

  const rowOf = (id: string) => k().selectFrom('withdrawals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const attemptsOf = (id: string) => k().selectFrom('tx_attempts').selectAll().where('withdrawal_id', '=', id).execute();
  const nextNonce = async () => Number((await k().selectFrom('wallets').select('next_nonce').executeTakeFirstOrThrow()).next_nonce);
  const nonceOf = (r: Reservation) => ('nonce' in r ? r.nonce : undefined);

  it('reserves on the first batch of a lane, then stores what it signed ahead in the commit that takes the nonce', async () => {
    const first = await reservations.reserve(await received(`a-${randomUUID()}`, '1'));
    expect(first.kind).toBe('reserved'); // this process did not know the lane's next nonce yet
    expect(signedAhead).toHaveLength(0);

    const second = await received(`a-${randomUUID()}`, '1');
    const stored = await reservations.reserve(second);
    expect(stored.kind).toBe('stored');
    expect(nonceOf(stored)).toBe(nonceOf(first)! + 1);
    const row = await rowOf(second.w.id);
    expect(row.status).toBe('SIGNED');
    expect(Number(row.nonce)).toBe(nonceOf(first)! + 1);
    const attempts = await attemptsOf(second.w.id);
    expect(attempts.map((a) => a.raw_tx)).toEqual([signedAhead.at(-1)]);
    expect(row.tx_hash).toBe(attempts[0]!.tx_hash);
    expect(await nextNonce()).toBe(nonceOf(first)! + 2);
    const held = await k().selectFrom('balances').select('held').where('user_id', '=', second.w.user_id).executeTakeFirstOrThrow();
    expect(BigInt(held.held)).toBe(BigInt(second.w.amount));
  });

  it('after a hold that fails inside a batch, drops the later signatures and only reserves the nonces they take', async () => {
    const tag = randomUUID();
    // One batch (same tick), taking nonces in user order: a (funded), b (no balance), c (funded).
    const [a, b, c] = await Promise.all([received(`a-${tag}`, '1'), received(`b-${tag}`, null), received(`c-${tag}`, '1')]);
    const before = await nextNonce();
    const signedBefore = signedAhead.length;
    const [ra, rb, rc] = await Promise.all([reservations.reserve(a!), reservations.reserve(b!), reservations.reserve(c!)]);
    expect(signedAhead.length - signedBefore).toBe(3); // all three were signed ahead, at before, +1, +2
    expect(ra).toMatchObject({ kind: 'stored', nonce: before });
    expect(rb).toEqual({ kind: 'insufficient_balance' });
    expect(rc).toMatchObject({ kind: 'reserved', nonce: before + 1 }); // not the nonce it was signed for
    expect((await rowOf(c!.w.id)).status).toBe('RECEIVED');
    expect(Number((await rowOf(c!.w.id)).nonce)).toBe(before + 1);
    expect(await attemptsOf(c!.w.id)).toEqual([]);
    expect((await rowOf(b!.w.id)).nonce).toBeNull();
    expect(await nextNonce()).toBe(before + 2);
  });

  it('when another replica took the lane forward meanwhile, reserves at the nonce the lane gives, then stores ahead again', async () => {
    const before = await nextNonce();
    const other = await replica.reserve(await received(`r-${randomUUID()}`, '1'));
    expect(other).toMatchObject({ kind: 'reserved', nonce: before });

    const stale = await received(`s-${randomUUID()}`, '1');
    const signedBefore = signedAhead.length;
    const moved = await reservations.reserve(stale);
    expect(signedAhead.length - signedBefore).toBe(1); // signed for `before`, which the replica took
    expect(moved).toMatchObject({ kind: 'reserved', nonce: before + 1 });
    expect(await attemptsOf(stale.w.id)).toEqual([]);

    const again = await reservations.reserve(await received(`s-${randomUUID()}`, '1'));
    expect(again).toMatchObject({ kind: 'stored', nonce: before + 2 });

    // Every nonce of the lane is held by exactly one withdrawal, none skipped.
    const held = await k().selectFrom('withdrawals').select('nonce').where('nonce', 'is not', null).orderBy('nonce').execute();
    expect(held.map((r) => Number(r.nonce))).toEqual(held.map((_, i) => i));
    expect(await nextNonce()).toBe(before + 3);

    // What operators see of it: every signature made ahead in this file, stored or dropped.
    const counted = (await stack.services.common.metrics.signedAhead.get()).values;
    const count = (outcome: string) => counted.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    expect({ stored: count('stored'), dropped: count('dropped') }).toEqual({ stored: 3, dropped: 3 }); // b (its hold failed) and c in the second test, one here
    expect(signedAhead).toHaveLength(6);
  });
});
