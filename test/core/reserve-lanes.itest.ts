import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { getAddress } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseUnits, rescale } from '../../src/money/decimal.js';
import { buildTransfer, type TransferIntent } from '../../src/signer/build-tx.js';
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
  // On MariaDB a batch locks its users' balance rows only for its last statements (ledger.ts,
  // `lock: 'at-flush'`). A credit committed between its read and that lock turns a hold that
  // was short into one that is covered: the batch must not refuse it on what it read.
  if (dbKind === 'mysql') it('a credit committed while a batch is open is seen: the batch runs again with the balance rows locked first and reserves the payout', async () => {
    const network = (await stack.services.assets.find('ETH', stack.chainId))!;
    const apiKey = await k().selectFrom('api_keys').select('id').executeTakeFirstOrThrow();
    const units = (eth: string) => parseUnits(eth, network.ledgerDecimals);
    const userId = 'moved-user';
    await stack.services.ledger.credit({ userId, asset: 'ETH', amount: units('0.5'), reference: 'moved-credit' });
    const to = privateKeyToAccount(generatePrivateKey()).address;
    const { row } = newWithdrawalRow({ idempotencyKey: randomUUID(), requestHash: 'h', apiKeyId: apiKey.id, userId, asset: 'ETH', chainId: stack.chainId, toAddress: to, amount: units('0.6'), fee: 0n }, () => ({}));
    await insertWithdrawals(stack.services.db, [row]);

    // Runs inside the batch's transaction, after its unlocked read of the balance: another
    // connection (a child process, so this one stays blocked meanwhile) commits a credit of 1 ETH.
    let credits = 0;
    const creditMeanwhile = (intent: TransferIntent) => {
      if (credits++ === 0) {
        const script = "const m = require('mysql2/promise'); (async () => { const c = await m.createConnection(process.argv[1]); await c.query(\"update balances set available = available + ? where user_id = ? and asset = 'ETH'\", [process.argv[2], process.argv[3]]); await c.end(); })().catch((e) => { console.error(e.message); process.exit(1); });";
        execFileSync(process.execPath, ['-e', script, stack.database.url, units('1').toString(), userId], { timeout: 20_000 });
      }
      return buildTransfer(intent);
    };
    const reservations = createTestReservations(stack, (raw) => signed.add(raw), creditMeanwhile);
    const outcome = await reservations.reserve({ w: row, network, to: getAddress(to), chainAmount: rescale(units('0.6'), network.ledgerDecimals, network.decimals) });

    expect(outcome.kind).toBe('reserved');
    expect(credits).toBe(2); // the batch ran twice: the first try saw the credit only at its flush
    expect(await stack.services.ledger.balances(userId)).toEqual([{ asset: 'ETH', available: units('0.9'), held: units('0.6') }]);
  }, 60_000);
});
