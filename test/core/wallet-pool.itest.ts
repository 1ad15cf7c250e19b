import { randomUUID } from 'node:crypto';
import { type Address, getAddress, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createFileKeyStore } from '../../src/keys/keystore-file.js';
import { type ChainControl, chainControl } from '../support/chain-control.js';
import { checkLedger } from '../support/ledger-check.js';
import { type Stack, startStack, TEST_KEYSTORE_PASSWORD, waitFor } from '../support/stack.js';

const dbKind = inject('db');
const LIMIT = 4;

/**
 * The hot-wallet pool: each withdrawal goes to the wallet with the fewest txs in flight that can
 * cover it, no wallet ever has more than the chain's limit in flight, a full pool makes new
 * withdrawals wait (never reject), and a wallet added while Sluice runs joins the pool.
 */
describe(`hot-wallet pool on ${dbKind}`, () => {
  let stack: Stack;
  let chain: ChainControl;
  let pool: Address[];

  beforeAll(async () => {
    stack = await startStack(dbKind, { devHotWallets: 3, devnetMaxPendingPerWallet: LIMIT, devnetConfirmations: 1 });
    chain = chainControl(stack.rpcUrl);
    pool = (await stack.services.wallets.forChain(stack.chainId)).map((w) => getAddress(w.address));
  });
  afterAll(async () => {
    await chain?.resumeMining(1).catch(() => {});
    await stack?.teardown();
  });

  const k = () => stack.services.db.kysely;
  const newAddress = () => privateKeyToAccount(generatePrivateKey()).address;

  async function withdrawMany(n: number, amount = '0.01'): Promise<string[]> {
    const userId = `pool-${randomUUID().slice(0, 8)}`;
    await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset: 'ETH', amount: '100', reference: randomUUID() } });
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await stack.request('POST', '/v1/withdrawals', {
        body: { userId, asset: 'ETH', chainId: stack.chainId, toAddress: newAddress(), amount },
        headers: { 'idempotency-key': randomUUID() },
      });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    return ids;
  }

  async function inFlightPerWallet(ids: string[]): Promise<Map<string, number>> {
    const rows = await k().selectFrom('withdrawals').select(['wallet', 'status', 'nonce']).where('id', 'in', ids).execute();
    const counts = new Map<string, number>();
    for (const r of rows) {
      if (r.wallet === null || r.nonce === null || !['RECEIVED', 'SIGNED', 'BROADCAST'].includes(r.status)) continue;
      counts.set(r.wallet, (counts.get(r.wallet) ?? 0) + 1);
    }
    return counts;
  }

  async function expectPaidOnceWithContiguousNonces(ids: string[]) {
    const rows = await k().selectFrom('withdrawals').selectAll().where('id', 'in', ids).execute();
    for (const r of rows) {
      expect(r.status).toBe('COMPLETED');
      const receipt = await chain.client.getTransactionReceipt({ hash: r.tx_hash as `0x${string}` });
      expect(receipt.status).toBe('success');
      expect(getAddress(receipt.from)).toBe(getAddress(r.wallet!));
      expect(await chain.client.getBalance({ address: r.to_address as Address })).toBe(parseEther('0.01'));
    }
    for (const wallet of pool) {
      const nonces = rows.filter((r) => r.wallet === wallet).map((r) => Number(r.nonce)).sort((a, b) => a - b);
      for (let i = 1; i < nonces.length; i++) expect(nonces[i]).toBe(nonces[i - 1]! + 1);
    }
  }

  it('spreads withdrawals over the wallets, never past the in-flight limit, and makes the rest wait', async () => {
    await chain.pauseMining();
    const ids = await withdrawMany(20);
    // 3 wallets × 4 in flight: 12 take a nonce, 8 wait RECEIVED with none (not rejected).
    await waitFor('the pool to fill', async () => {
      const counts = await inFlightPerWallet(ids);
      return [...counts.values()].reduce((a, b) => a + b, 0) === 3 * LIMIT ? counts : undefined;
    }, 20_000, 50);
    await new Promise((r) => setTimeout(r, 1_000)); // the signer keeps trying; nothing more may get in
    const counts = await inFlightPerWallet(ids);
    expect([...counts.keys()].sort()).toEqual([...pool].sort());
    for (const n of counts.values()) expect(n).toBe(LIMIT);
    const waiting = await k().selectFrom('withdrawals').select(['status', 'nonce']).where('id', 'in', ids).where('nonce', 'is', null).execute();
    expect(waiting).toHaveLength(8);
    for (const w of waiting) expect(w.status).toBe('RECEIVED');

    const metrics = (await stack.request('GET', '/metrics')).body as string;
    for (const wallet of pool) expect(metrics).toContain(`sluice_hot_wallet_pending_txs{chain_id="${stack.chainId}",wallet="${wallet}"} ${LIMIT}`);

    await chain.resumeMining(1);
    await waitFor('all 20 to complete', async () => {
      const rows = await k().selectFrom('withdrawals').select('status').where('id', 'in', ids).execute();
      return rows.every((r) => r.status === 'COMPLETED') ? true : undefined;
    }, 60_000, 200);
    await expectPaidOnceWithContiguousNonces(ids);
    expect((await checkLedger(stack.services)).violations).toEqual([]);
  });

  it('passes over a wallet that cannot cover the payout instead of waiting for it', async () => {
    const drained = pool[0]!;
    const before = await chain.client.getBalance({ address: drained });
    await chain.setBalance(drained, parseEther('0.001')); // gas money only: no 0.01 payout fits
    try {
      const ids = await withdrawMany(6);
      await waitFor('all 6 to complete', async () => {
        const rows = await k().selectFrom('withdrawals').select('status').where('id', 'in', ids).execute();
        return rows.every((r) => r.status === 'COMPLETED') ? true : undefined;
      }, 60_000, 200);
      const rows = await k().selectFrom('withdrawals').select(['wallet', 'failure_code']).where('id', 'in', ids).execute();
      for (const r of rows) {
        expect(r.wallet).not.toBe(drained);
        expect(r.failure_code).toBeNull();
      }
      await expectPaidOnceWithContiguousNonces(ids);
    } finally {
      await chain.setBalance(drained, before);
    }
  });

  it('takes a wallet added while running into the pool', async () => {
    // What `sluice wallet create` does: a new key and a wallets row; the signer sees it on its next refresh.
    const keys = createFileKeyStore({ dir: `${stack.dataDir}/keystore`, password: TEST_KEYSTORE_PASSWORD });
    const { keyRef, address } = await keys.createKey('hot');
    await chain.setBalance(address, parseEther('100'));
    await stack.services.wallets.register({ chainId: stack.chainId, address, keyRef, nextNonce: 0 });
    pool.push(getAddress(address));
    await chain.pauseMining();
    const ids = await withdrawMany(16);
    // 4 wallets × 4: the new wallet must take its share for all 16 to get a nonce.
    await waitFor('all 16 to take a nonce', async () => {
      const counts = await inFlightPerWallet(ids);
      return [...counts.values()].reduce((a, b) => a + b, 0) === 16 ? counts : undefined;
    }, 30_000, 100);
    expect((await inFlightPerWallet(ids)).get(getAddress(address))).toBe(LIMIT);
    await chain.resumeMining(1);
    await waitFor('all 16 to complete', async () => {
      const rows = await k().selectFrom('withdrawals').select('status').where('id', 'in', ids).execute();
      return rows.every((r) => r.status === 'COMPLETED') ? true : undefined;
    }, 60_000, 200);
    await expectPaidOnceWithContiguousNonces(ids);
    expect((await checkLedger(stack.services)).violations).toEqual([]);
  });
});
