import { randomUUID } from 'node:crypto';
import { type Address, createPublicClient, erc20Abi, http, parseEther, parseUnits } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkLedger } from '../support/ledger-check.js';
import { type FaultyRpc, seededRandom, startFaultyRpc } from '../support/faulty-rpc.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');
const seed = inject('seed');

type Case = { id?: string; userId: string; asset: 'ETH' | 'USDT'; amount: string; to: Address; expect: 'COMPLETED' | 'REJECTED' };

/**
 * Seeded fault injection (reproduce with SEED=<n> npm test): the chain sits behind a proxy that
 * drops requests, loses responses (including to broadcasts the node accepted) and adds latency,
 * and Sluice is restarted mid-run. Checked against ground truth: each withdrawal ends as its
 * funding says, every completed one paid exactly once on chain, ledger conserved, nonces
 * contiguous, nothing ever re-signed.
 */
describe(`fault injection on ${dbKind} (SEED=${seed})`, () => {
  let stack: Stack;
  let proxy: FaultyRpc;

  beforeAll(async () => {
    stack = await startStack(dbKind, { reconcileAfterSeconds: 2, reconcileIntervalMs: 300, senderMaxAttempts: 6 });
    proxy = await startFaultyRpc(stack.rpcUrl, seed, { failBefore: 0.15, failAfter: 0.1, delay: 0.1, loseFirstBroadcasts: 3 });
    await stack.restart({ devnetRpcUrl: proxy.url }); // boot cleanly through the proxy, faults off
  });
  afterAll(async () => {
    await stack?.teardown();
    await proxy?.close();
  });

  it('pays exactly what ground truth says, once each, through RPC faults and a restart', async () => {
    const random = seededRandom(seed);
    const cases: Case[] = Array.from({ length: 40 }, (_, i) => {
      const asset = random() < 0.5 ? 'ETH' : 'USDT';
      const amount = asset === 'ETH' ? `0.0${1 + Math.floor(random() * 9)}` : `${1 + Math.floor(random() * 50)}`;
      return {
        userId: `sim-${seed}-${i}`,
        asset,
        amount,
        to: privateKeyToAccount(generatePrivateKey()).address,
        expect: random() < 0.2 ? 'REJECTED' : 'COMPLETED',
      };
    });
    for (const c of cases) {
      // Enough for amount + fee, or one base unit short of it.
      const fee = c.asset === 'ETH' ? parseEther('0.0001') : parseUnits('1', 6);
      const need = (c.asset === 'ETH' ? parseEther(c.amount) : parseUnits(c.amount, 6)) + fee - (c.expect === 'REJECTED' ? 1n : 0n);
      const decimals = c.asset === 'ETH' ? 18 : 6;
      const amount = `${need / 10n ** BigInt(decimals)}.${(need % 10n ** BigInt(decimals)).toString().padStart(decimals, '0')}`;
      const res = await stack.request('POST', '/v1/ledger/credits', { body: { userId: c.userId, asset: c.asset, amount, reference: randomUUID() } });
      expect(res.status).toBe(201);
    }

    proxy.enabled = true;
    const firstHalf = cases.slice(0, 20);
    for (const c of firstHalf) c.id = (await submit(c)).body.id;
    await new Promise((r) => setTimeout(r, 800));

    proxy.enabled = false; // the restart itself boots cleanly; faults resume right after
    await stack.restart();
    proxy.enabled = true;
    for (const c of cases.slice(20)) c.id = (await submit(c)).body.id;

    const finals = await Promise.all(
      cases.map((c) =>
        waitFor(`withdrawal ${c.id} to finish`, async () => {
          const w = (await stack.request('GET', `/v1/withdrawals/${c.id}`)).body;
          return ['COMPLETED', 'REJECTED', 'FAILED'].includes(w.status) ? w : undefined;
        }, 120_000, 200),
      ),
    );
    proxy.enabled = false;

    expect(finals.map((f) => f.status)).toEqual(cases.map((c) => c.expect));
    const client = createPublicClient({ transport: http(stack.rpcUrl) });
    const token = (await stack.services.assets.find('USDT', stack.chainId))!.contract!;
    for (const c of cases) {
      const paid =
        c.asset === 'ETH'
          ? await client.getBalance({ address: c.to })
          : await client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [c.to] });
      const expected = c.expect === 'COMPLETED' ? (c.asset === 'ETH' ? parseEther(c.amount) : parseUnits(c.amount, 6)) : 0n;
      expect({ id: c.id, paid }).toEqual({ id: c.id, paid: expected });
    }

    const k = stack.services.db.kysely;
    const attempts = await k.selectFrom('tx_attempts').select(['withdrawal_id', 'nonce']).execute();
    const completed = cases.filter((c) => c.expect === 'COMPLETED').length;
    expect(attempts).toHaveLength(completed); // one signature per paid withdrawal, never re-signed
    const nonces = attempts.map((a) => Number(a.nonce)).sort((a, b) => a - b);
    expect(nonces).toEqual(nonces.map((_, i) => nonces[0]! + i));
    const wallet = (await stack.services.wallets.forChain(stack.chainId))[0]!;
    const row = await stack.services.wallets.get(stack.chainId, wallet.address);
    expect(await client.getTransactionCount({ address: wallet.address as Address })).toBe(Number(row!.next_nonce));
    expect((await checkLedger(stack.services)).violations).toEqual([]);
    expect(proxy.lostBroadcasts).toBeGreaterThanOrEqual(3);
    expect(proxy.counts.failBefore).toBeGreaterThan(0);
  });

  function submit(c: Case) {
    return stack
      .request('POST', '/v1/withdrawals', {
        body: { userId: c.userId, asset: c.asset, chainId: stack.chainId, toAddress: c.to, amount: c.amount },
        headers: { 'idempotency-key': `${c.userId}-wd` },
      })
      .then((res) => {
        expect(res.status).toBe(202);
        return res;
      });
  }
});
