import { randomUUID } from 'node:crypto';
import { type Address, createPublicClient, http, parseEther, type TransactionSerializableEIP1559 } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { KeyStore } from '../../src/keys/types.js';
import { createSigner } from '../../src/signer/signer.js';
import { checkLedgerDb } from '../support/ledger-check.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');

/**
 * Invariant 1 with signing outside the lane lock: several signer replicas with a slow key store
 * (KMS-like, 40 ms a signature) all handle every withdrawal at once. The nonce is reserved in a
 * short transaction and the signature stored by compare-and-set, so: no nonce is given out twice,
 * no withdrawal is signed at two nonces (every signature any replica made, stored or dropped, is
 * at the withdrawal's one nonce), one stored tx each, and everything is paid exactly once.
 */
describe(`signer replicas with a slow key store (${dbKind})`, () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(dbKind, { devHotWallets: 2, reconcileAfterSeconds: 3_600, reconcileIntervalMs: 3_600_000 });
  });
  afterAll(async () => {
    await stack?.teardown();
  });

  it('4 replicas × 40 withdrawals: one nonce each, contiguous per wallet, paid once', async () => {
    const services = stack.services;
    const signatures: { to: string; nonce: number }[] = [];
    const slowKeys: KeyStore = {
      kind: 'slow',
      createKey: (label) => services.keys!.createKey(label),
      async signer(keyRef) {
        const inner = await services.keys!.signer(keyRef);
        return {
          address: inner.address,
          async signTransaction(tx: TransactionSerializableEIP1559) {
            signatures.push({ to: String(tx.to).toLowerCase(), nonce: Number(tx.nonce) });
            await new Promise((r) => setTimeout(r, 40));
            return inner.signTransaction(tx);
          },
        };
      },
    };
    const replicas = Array.from({ length: 4 }, () =>
      createSigner({ ...services, keys: slowKeys, requests: services.queues.requests, signed: services.queues.signed }),
    );

    const userId = `replicas-${randomUUID().slice(0, 8)}`;
    await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset: 'ETH', amount: '10', reference: randomUUID() } });
    const made: { id: string; to: Address }[] = [];
    for (let i = 0; i < 40; i++) {
      const to = privateKeyToAccount(generatePrivateKey()).address;
      // Stored as the API stores it but not queued: only the replicas below handle it.
      const { row } = await services.withdrawals.create(
        { idempotencyKey: randomUUID(), requestHash: 'x'.repeat(64), apiKeyId: 'test', userId, asset: 'ETH', chainId: stack.chainId, toAddress: to, amount: parseEther('0.01'), fee: parseEther('0.0001') },
        () => ({}),
      );
      made.push({ id: row.id, to });
    }
    const outcomes = await Promise.all(made.flatMap((w) => replicas.map((r) => r.signWithdrawal(w.id))));
    expect(outcomes.filter((o) => o === 'signed')).toHaveLength(40);

    const k = services.db.kysely;
    const rows = await k.selectFrom('withdrawals').selectAll().where('user_id', '=', userId).execute();
    const attempts = await k.selectFrom('tx_attempts').selectAll().where('withdrawal_id', 'in', made.map((w) => w.id)).execute();
    expect(attempts).toHaveLength(40); // one stored tx per withdrawal
    for (const w of made) {
      const row = rows.find((r) => r.id === w.id)!;
      const signedAt = new Set(signatures.filter((s) => s.to === w.to.toLowerCase()).map((s) => s.nonce));
      expect([...signedAt], `every signature for ${w.id} is at its one nonce`).toEqual([Number(row.nonce)]);
    }
    // Per wallet, the nonces given out are distinct and contiguous, and match the wallet's next nonce.
    const wallets = await k.selectFrom('wallets').selectAll().execute();
    for (const wallet of wallets) {
      const nonces = rows.filter((r) => r.wallet === wallet.address).map((r) => Number(r.nonce)).sort((a, b) => a - b);
      expect(nonces).toEqual(nonces.map((_, i) => i));
      expect(Number(wallet.next_nonce)).toBe(nonces.length);
    }
    expect(new Set(rows.map((r) => r.wallet)).size).toBe(2); // both lanes were used

    // Queued by whichever replica stored it; the stack's sender and tracker take it from there.
    await waitFor('every withdrawal to complete', async () => {
      const done = await k.selectFrom('withdrawals').select('status').where('user_id', '=', userId).where('status', '=', 'COMPLETED').execute();
      return done.length === 40 ? true : undefined;
    }, 60_000, 200);
    const chain = createPublicClient({ transport: http(stack.rpcUrl) });
    for (const w of made) expect(await chain.getBalance({ address: w.to })).toBe(parseEther('0.01'));
    expect((await checkLedgerDb(k, { expectNothingHeld: true })).violations).toEqual([]);
  });
});
