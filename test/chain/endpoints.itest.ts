import { randomUUID } from 'node:crypto';
import { type Address, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chainControl } from '../support/chain-control.js';
import { type ProxyMode, type RpcProxy, startRpcProxy } from '../support/rpc-proxy.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');
const TERMINAL = ['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];

/**
 * Two RPC endpoints in front of one anvil. Whatever goes wrong with one of them — down, 503s,
 * hanging, serving a stale head — withdrawals complete through the other, paid once each. With both
 * gone, withdrawals wait (nothing fails, nothing is dead-lettered) and go on when one is back.
 */
describe(`RPC endpoint failures on ${dbKind}`, () => {
  let stack: Stack;
  let a: RpcProxy;
  let b: RpcProxy;

  beforeAll(async () => {
    stack = await startStack(dbKind, { rpcTimeoutMs: 1_000, rebroadcastAfterSeconds: 1, reconcileAfterSeconds: 1, reconcileIntervalMs: 300 });
    a = await startRpcProxy(stack.rpcUrl);
    b = await startRpcProxy(stack.rpcUrl);
    await stack.restart({ devnetRpcUrl: `${a.url},${b.url}` });
  });
  afterAll(async () => {
    await stack?.teardown();
    await a?.close();
    await b?.close();
  });

  const newAddress = () => privateKeyToAccount(generatePrivateKey()).address;
  const get = async (id: string) => (await stack.request('GET', `/v1/withdrawals/${id}`)).body;
  const rpcOf = () => stack.services.chains.get(stack.chainId)!;

  async function payOut(count: number): Promise<Array<{ id: string; to: Address }>> {
    const userId = `ep-${randomUUID().slice(0, 8)}`;
    await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset: 'ETH', amount: '1', reference: randomUUID() } });
    const out = [];
    for (let i = 0; i < count; i++) {
      const to = newAddress();
      const res = await stack.request('POST', '/v1/withdrawals', {
        body: { userId, asset: 'ETH', chainId: stack.chainId, toAddress: to, amount: '0.01' },
        headers: { 'idempotency-key': randomUUID() },
      });
      expect(res.status).toBe(202);
      out.push({ id: res.body.id as string, to });
    }
    return out;
  }

  async function expectPaidOnce(items: Array<{ id: string; to: Address }>) {
    const client = chainControl(stack.rpcUrl).client;
    for (const { id, to } of items) {
      const done = await waitFor(`withdrawal ${id}`, async () => {
        const w = await get(id);
        return TERMINAL.includes(w.status) ? w : undefined;
      }, 60_000);
      expect({ id, status: done.status }).toEqual({ id, status: 'COMPLETED' });
      expect(await client.getBalance({ address: to })).toBe(parseEther('0.01'));
    }
  }

  it.each<[ProxyMode, string[]]>([
    ['down', ['open', 'half-open']],
    ['http503', ['open', 'half-open']],
    ['hang', ['open', 'half-open']],
    ['stale', ['lagging', 'open', 'half-open']],
  ])('completes withdrawals while one endpoint is %s', async (mode, expectedStates) => {
    await a.setMode(mode);
    try {
      const items = await payOut(2);
      if (mode === 'stale') await chainControl(stack.rpcUrl).mine(8); // let the frozen head fall behind
      await expectPaidOnce(items);
      // A hanging call counts against A only once it times out, which may be after the payouts.
      const stateOfA = () => rpcOf().endpoints().find((e) => a.url.startsWith(e.url))?.state;
      await waitFor(`endpoint A to be marked ${expectedStates.join(' or ')}`, async () => (expectedStates.includes(stateOfA() ?? '') ? true : undefined), 20_000, 100).catch(() => {});
      expect(expectedStates).toContain(stateOfA());
    } finally {
      await a.setMode('pass');
    }
    // Back in service once it recovers.
    await waitFor('endpoint A to recover', async () => (rpcOf().endpoints().find((e) => a.url.startsWith(e.url))?.state === 'up' ? true : undefined), 40_000, 200);
  });

  it('lets withdrawals wait while every endpoint is down, and completes them when one is back', async () => {
    await a.setMode('down');
    await b.setMode('hang');
    let items: Array<{ id: string; to: Address }>;
    try {
      items = await payOut(2); // the API needs no chain to accept
      await new Promise((r) => setTimeout(r, 4_000)); // past reconcile and rebroadcast timers
      for (const { id } of items) expect(TERMINAL).not.toContain((await get(id)).status);
      const letters = await stack.services.deadLetters.list({ status: 'open' });
      expect(letters.filter((l) => items.some((i) => i.id === l.withdrawal_id))).toEqual([]);
      const metrics = (await stack.request('GET', '/metrics')).body as string;
      expect(metrics).not.toMatch(/sluice_rpc_endpoint_up\{[^}]*state="up"[^}]*\} 1/);
      expect((await stack.request('GET', '/readyz')).status).toBe(503);
    } finally {
      await a.setMode('pass');
      await b.setMode('pass');
    }
    await expectPaidOnce(items!);
  });
});
