import { randomUUID } from 'node:crypto';
import { getAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseUnits, rescale } from '../../src/money/decimal.js';
import type { NonceReservations, Reservation, ReserveRequest } from '../../src/signer/nonce-reservations.js';
import { insertWithdrawals } from '../../src/withdrawals/insert-batch.js';
import { newWithdrawalRow, type WithdrawalRow } from '../../src/withdrawals/repository.js';
import { createTestReservations } from '../support/reservations.js';
import { type Stack, startStack } from '../support/stack.js';

const dbKind = inject('db');
const LANES = 3;
const USERS = 25;

/**
 * The hot-wallet pool's reservations across several lanes, driven directly: a batch takes every
 * lane's nonces, holds and signatures in one transaction, and batches in flight side by side take
 * each lane in the order they guessed its nonces in, so what they signed ahead is what they store.
 * The running signer never sees these withdrawals (nothing queues them).
 */
describe(`reserving several lanes per batch (${dbKind})`, () => {
  let stack: Stack;
  let reservations: NonceReservations;
  const signed = new Set<string>();

  beforeAll(async () => {
    stack = await startStack(dbKind, { devHotWallets: LANES, devnetMaxPendingPerWallet: 10_000 });
    const { assets, ledger } = stack.services;
    reservations = createTestReservations(stack, (raw) => signed.add(raw));
    const network = (await assets.find('ETH', stack.chainId))!;
    for (let u = 0; u < USERS; u++) await ledger.credit({ userId: `pool-user-${u}`, asset: 'ETH', amount: parseUnits('100', network.ledgerDecimals), reference: `pool-credit-${u}` });
  }, 60_000);
  afterAll(async () => {
    await stack?.teardown();
  });

  const k = () => stack.services.db.kysely;

  /** `count` RECEIVED withdrawals of 0.01 ETH over the credited users, stored as the API would. */
  async function received(count: number): Promise<ReserveRequest[]> {
    const network = (await stack.services.assets.find('ETH', stack.chainId))!;
    const apiKey = await k().selectFrom('api_keys').select('id').executeTakeFirstOrThrow();
    const amount = parseUnits('0.01', network.ledgerDecimals);
    const requests: ReserveRequest[] = [];
    const rows: WithdrawalRow[] = [];
    for (let i = 0; i < count; i++) {
      const to = privateKeyToAccount(generatePrivateKey()).address;
      const { row } = newWithdrawalRow(
        { idempotencyKey: randomUUID(), requestHash: 'h', apiKeyId: apiKey.id, userId: `pool-user-${i % USERS}`, asset: 'ETH', chainId: stack.chainId, toAddress: to, amount, fee: 0n },
        () => ({}),
      );
      rows.push(row);
      requests.push({ w: row, network, to: getAddress(to), chainAmount: rescale(amount, network.ledgerDecimals, network.decimals) });
    }
    await insertWithdrawals(stack.services.db, rows);
    return requests;
  }

  const nextNonces = async () => new Map((await k().selectFrom('wallets').select(['address', 'next_nonce']).execute()).map((w) => [w.address, Number(w.next_nonce)]));
  const held = async () => {
    const rows = await k().selectFrom('balances').select('held').where('user_id', 'like', 'pool-user-%').execute();
    return rows.reduce((sum, r) => sum + BigInt(r.held), 0n);
  };

  it('batches in flight over every lane store all they signed ahead, at contiguous nonces per lane, with one hold each', async () => {
    // The first batch of each lane after a start only reserves: this process does not know its
    // next nonce yet. One at a time, so each goes to the least busy lane: one per lane.
    const warm: Reservation[] = [];
    for (const r of await received(LANES)) warm.push(await reservations.reserve(r));
    expect(warm.every((r) => r.kind === 'reserved')).toBe(true);
    expect(new Set(warm.map((r) => (r.kind === 'reserved' ? r.wallet.address : null))).size).toBe(LANES);

    const before = await nextNonces();
    const heldBefore = await held();
    // More than one batch holds (256 each): several are planned, signed and locked side by side.
    const requests = await received(600);
    const outcomes: Reservation[] = await Promise.all(requests.map((r) => reservations.reserve(r)));

    expect(outcomes.filter((o) => o.kind !== 'stored')).toEqual([]);
    const byLane = new Map<string, number[]>();
    for (const o of outcomes) if (o.kind === 'stored') byLane.set(o.wallet.address, [...(byLane.get(o.wallet.address) ?? []), o.nonce]);
    expect(byLane.size).toBe(LANES);
    const after = await nextNonces();
    for (const [lane, nonces] of byLane) {
      const from = before.get(lane)!;
      expect([...nonces].sort((a, b) => a - b)).toEqual(Array.from({ length: nonces.length }, (_, i) => from + i));
      expect(after.get(lane)).toBe(from + nonces.length);
    }

    const rows = await k().selectFrom('withdrawals').select(['id', 'status', 'wallet', 'nonce', 'tx_hash']).where('id', 'in', requests.map((r) => r.w.id)).execute();
    const attempts = await k().selectFrom('tx_attempts').select(['withdrawal_id', 'wallet', 'nonce', 'tx_hash', 'raw_tx']).where('withdrawal_id', 'in', requests.map((r) => r.w.id)).execute();
    expect(rows).toHaveLength(600);
    expect(attempts).toHaveLength(600);
    const attemptOf = new Map(attempts.map((a) => [a.withdrawal_id, a]));
    for (const row of rows) {
      expect(row.status).not.toBe('RECEIVED');
      const attempt = attemptOf.get(row.id)!;
      expect({ wallet: attempt.wallet, nonce: Number(attempt.nonce), tx_hash: attempt.tx_hash }).toEqual({ wallet: row.wallet, nonce: Number(row.nonce), tx_hash: row.tx_hash });
      expect(signed.has(attempt.raw_tx)).toBe(true); // the bytes signed ahead, not signed again
    }
    expect((await held()) - heldBefore).toBe(600n * BigInt(requests[0]!.w.amount));
  }, 60_000);

  it('batches planned side by side go to different lanes, so neither waits for the other\'s wallet rows', async () => {
    // Two full batches in one burst: the batcher takes the first 256 and the next 256, both at once.
    const requests = await received(512);
    const outcomes: Reservation[] = await Promise.all(requests.map((r) => reservations.reserve(r)));
    const lanesOf = (part: Reservation[]) => new Set(part.map((o) => (o.kind === 'stored' || o.kind === 'reserved' ? o.wallet.address : o.kind)));
    const first = lanesOf(outcomes.slice(0, 256));
    const second = lanesOf(outcomes.slice(256));
    expect([...first, ...second].every((lane) => lane.startsWith('0x'))).toBe(true);
    expect([...first].filter((lane) => second.has(lane))).toEqual([]);
  }, 60_000);
});
