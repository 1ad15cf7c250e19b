import { createPublicClient, type Hash, type Hex, http, parseEther, parseGwei, type TransactionReceipt } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { type ProxyMode, type RpcProxy, startRpcProxy } from '../../test/support/rpc-proxy.js';
import { type AnvilHandle, getFreePort, startAnvil } from './anvil.js';
import { setDevBalance } from './devnet.js';
import { InsufficientFundsError, NodeUnavailableError, NonceTooLowError } from './errors.js';
import { type ChainRpc, type ChainRpcOptions, createChainRpc } from './rpc.js';
import { type ChainConfig, DEFAULT_CHAIN_POLICY } from './types.js';

/** The node-error mapper and failover against a real anvil's own wording and behaviour. */
describe('chain rpc against anvil', () => {
  let anvil: AnvilHandle;
  let deadUrl: string;
  const logger = pino({ level: 'silent' });
  const config = (rpcUrls: string[]): ChainConfig => ({
    chainId: 31337,
    name: 'test',
    rpc: rpcUrls.map((url) => ({ url, weight: 1 })),
    confirmations: 1,
    maxFeePerGas: parseGwei('100'),
    defaultPriorityFee: parseGwei('1'),
    maxPendingPerWallet: 16,
    policy: DEFAULT_CHAIN_POLICY,
  });

  beforeAll(async () => {
    anvil = await startAnvil({ silent: true }); // automine: each accepted tx is mined at once
    deadUrl = `http://127.0.0.1:${await getFreePort()}`; // nothing listens there
  });
  afterAll(async () => {
    await anvil?.stop();
  });

  /** anvil's automine answers eth_sendRawTransaction before the block is sealed: wait for it. */
  async function expectMined(rpc: ChainRpc, hash: Hash) {
    await expect.poll(async () => (await rpc.receipt(hash))?.status, { timeout: 5_000, interval: 20 }).toBe('success');
  }

  async function signedTransfer(nonce: number, funded = true): Promise<{ raw: Hex; from: `0x${string}` }> {
    const account = privateKeyToAccount(generatePrivateKey());
    if (funded) await setDevBalance(anvil.rpcUrl, account.address, parseEther('1'));
    const raw = await account.signTransaction({
      type: 'eip1559',
      chainId: 31337,
      nonce,
      to: '0x000000000000000000000000000000000000dEaD',
      value: 1n,
      gas: 21_000n,
      maxFeePerGas: parseGwei('50'),
      maxPriorityFeePerGas: parseGwei('1'),
    });
    return { raw, from: account.address };
  }

  it('falls over to a live endpoint when the first is down, for reads and broadcasts', async () => {
    const rpc = createChainRpc(config([deadUrl, anvil.rpcUrl]), logger);
    expect(await rpc.chainId()).toBe(31337);
    const { raw } = await signedTransfer(0);
    await expect(rpc.broadcast(raw)).resolves.toMatch(/^0x[0-9a-f]{64}$/);
  });

  it('reports an all-down chain as retryable NodeUnavailableError', async () => {
    const rpc = createChainRpc(config([deadUrl]), logger);
    const err = await rpc.blockNumber().catch((e) => e);
    expect(err).toBeInstanceOf(NodeUnavailableError);
    expect(err.retryable).toBe(true);
  });

  it('treats a rebroadcast of a mined tx as nonce-too-low, and knows our hash', async () => {
    const rpc = createChainRpc(config([anvil.rpcUrl]), logger);
    const { raw } = await signedTransfer(0);
    const hash = await rpc.broadcast(raw);
    const again = await rpc.broadcast(raw).catch((e) => e);
    // anvil answers either "already known" (swallowed: resolves) or "nonce too low" once mined.
    if (again instanceof Error) expect(again).toBeInstanceOf(NonceTooLowError);
    expect(await rpc.knowsTransaction(hash)).toBe(true);
    await expectMined(rpc, hash);
  });

  it('maps an unfunded sender to a permanent InsufficientFundsError', async () => {
    const rpc = createChainRpc(config([anvil.rpcUrl]), logger);
    const { raw } = await signedTransfer(0, false);
    const err = await rpc.broadcast(raw).catch((e) => e);
    expect(err).toBeInstanceOf(InsufficientFundsError);
    expect(err.retryable).toBe(false);
  });

  it('broadcasts made together share one JSON-RPC batch per endpoint, and each caller gets its own verdict', async () => {
    const proxy = await startRpcProxy(anvil.rpcUrl);
    const rpc = createChainRpc(config([proxy.url, deadUrl]), logger);
    try {
      const good = await Promise.all([0, 1, 2].map(() => signedTransfer(0)));
      const unfunded = await signedTransfer(0, false);
      const mined = await signedTransfer(0);
      const minedHash = await rpc.broadcast(mined.raw);
      await expectMined(rpc, minedHash);
      proxy.resetCounts();
      const results = await Promise.all([...good.map((g) => g.raw), unfunded.raw, mined.raw].map((raw) => rpc.broadcast(raw).catch((e: unknown) => e)));
      expect(results.slice(0, 3).every((r) => typeof r === 'string' && /^0x[0-9a-f]{64}$/.test(r))).toBe(true);
      expect(results[3]).toBeInstanceOf(InsufficientFundsError); // the node's verdict beats the dead endpoint's "unreachable"
      expect(results[4]).toBeInstanceOf(NonceTooLowError);
      expect(proxy.count('eth_sendRawTransaction')).toBe(5);
      expect(proxy.httpRequests - (proxy.counts.eth_blockNumber ?? 0)).toBe(1);
      for (const r of results.slice(0, 3)) await expectMined(rpc, r as Hash);
    } finally {
      rpc.close();
      await proxy.close();
    }
  });

  it('returns null for a receipt the node does not have', async () => {
    const rpc = createChainRpc(config([anvil.rpcUrl]), logger);
    expect(await rpc.receipt(`0x${'ab'.repeat(32)}`)).toBeNull();
    expect(await rpc.knowsTransaction(`0x${'ab'.repeat(32)}`)).toBe(false);
  });

  // ---- two endpoints (proxies A and B) in front of the one anvil --------------------------------

  describe('two endpoints, A misbehaving, B healthy', () => {
    const timeoutMs = 1_500;
    const maxLag = 2;
    const rpcOptions: ChainRpcOptions = {
      headPollMs: 100,
      headGraceMs: 100,
      circuit: { failureThreshold: 3, openBaseMs: 1_000, openMaxMs: 2_000 },
    };
    let a: RpcProxy;
    let b: RpcProxy;
    let rpc: ChainRpc;
    const clients: ChainRpc[] = [];

    function twoEndpoints(): ChainRpc {
      const client = createChainRpc(
        {
          ...config([]),
          rpc: [
            { url: `${a.url}/v1/secret-api-key`, weight: 2 }, // A is preferred while healthy
            { url: b.url, weight: 1 },
          ],
          policy: { ...DEFAULT_CHAIN_POLICY, rpcTimeoutMs: timeoutMs, maxHeadLagBlocks: maxLag },
        },
        logger,
        rpcOptions,
      );
      clients.push(client);
      return client;
    }
    const stateOf = (which: RpcProxy) => rpc.endpoints().find((e) => e.url === which.url)!.state;
    /** Read calls that A must not see while it is out (head polls and probes are allowed). */
    const readsSeenBy = (p: RpcProxy) =>
      ['eth_getTransactionReceipt', 'eth_getTransactionCount', 'eth_getBlockByNumber', 'eth_getTransactionByHash', 'eth_chainId'].reduce((n, m) => n + p.count(m), 0);

    async function anvilCall(method: string, params: unknown[] = []): Promise<unknown> {
      const res = await fetch(anvil.rpcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      });
      return ((await res.json()) as { result: unknown }).result;
    }
    const anvilHead = async () => BigInt((await anvilCall('eth_blockNumber')) as string);
    async function mineBlocks(n: number) {
      for (let i = 0; i < n; i++) await anvilCall('evm_mine');
    }
    /** A transfer sent straight to anvil (automine: mined at once). */
    async function minedTransfer(): Promise<{ hash: Hash; from: `0x${string}`; receipt: TransactionReceipt }> {
      const { raw, from } = await signedTransfer(0);
      const hash = (await anvilCall('eth_sendRawTransaction', [raw])) as Hash;
      const receipt = await createPublicClient({ transport: http(anvil.rpcUrl), pollingInterval: 50 }).waitForTransactionReceipt({ hash });
      return { hash, from, receipt };
    }

    /** Every read answers right, whichever endpoint answered. */
    async function expectCorrectReads(tx: { hash: Hash; from: `0x${string}`; receipt: TransactionReceipt }) {
      const receipt = await rpc.receipt(tx.hash);
      expect(receipt?.blockHash).toBe(tx.receipt.blockHash);
      expect(receipt?.status).toBe('success');
      expect(await rpc.transactionCount(tx.from, 'latest')).toBe(1);
      expect(await rpc.transactionCount(tx.from, tx.receipt.blockNumber)).toBe(1);
      expect(await rpc.transactionCount(tx.from, tx.receipt.blockNumber - 1n)).toBe(0);
      expect(await rpc.blockHash(tx.receipt.blockNumber)).toBe(tx.receipt.blockHash);
      expect(await rpc.knowsTransaction(tx.hash)).toBe(true);
      expect(await rpc.blockNumber()).toBeGreaterThanOrEqual(tx.receipt.blockNumber);
    }

    beforeEach(async () => {
      a = await startRpcProxy(anvil.rpcUrl);
      b = await startRpcProxy(anvil.rpcUrl);
      rpc = twoEndpoints();
      expect(await rpc.blockNumber()).toBe(await anvilHead());
      expect(rpc.endpoints().map((e) => e.state)).toEqual(['up', 'up']);
    });
    afterEach(async () => {
      for (const c of clients.splice(0)) c.close();
      await Promise.all([a?.close(), b?.close()]);
    });

    it('reports endpoints with redacted URLs, weights, heads and latency', async () => {
      const [ea, eb] = rpc.endpoints();
      expect(ea!.url).toBe(a.url); // path with the API key dropped
      expect(ea!.weight).toBe(2);
      expect(eb!.weight).toBe(1);
      const head = await anvilHead();
      expect(ea!.head).toBe(head);
      expect(ea!.lagBlocks).toBe(0);
      expect(ea!.latencyMs).toBeGreaterThanOrEqual(0);
      expect(ea!.errorRate).toBe(0);
      expect(ea!.consecutiveFailures).toBe(0);
      // Reads prefer A (higher weight) while it is healthy.
      a.resetCounts();
      await rpc.transactionCount('0x000000000000000000000000000000000000dEaD', 'latest');
      expect(a.count('eth_getTransactionCount')).toBe(1);
      expect(b.count('eth_getTransactionCount')).toBe(0);
    });

    it.each<Exclude<ProxyMode, 'pass' | 'stale'>>(['down', 'http503', 'hang'])(
      'A %s: reads and broadcasts go to B, A is reported open and skipped, then used again once it recovers',
      async (mode) => {
        await a.setMode(mode);
        const tx = await minedTransfer();
        await expectCorrectReads(tx); // the first calls may still try A (and time out on it, once)
        await expect.poll(() => stateOf(a), { timeout: 10_000, interval: 50 }).toBe('open');
        expect(stateOf(b)).toBe('up');
        const reported = rpc.endpoints()[0]!;
        expect(reported.consecutiveFailures).toBeGreaterThanOrEqual(1);
        expect(reported.errorRate).toBeGreaterThan(0);

        // With A's circuit open, no read waits on it any more: together well under one timeout.
        const seenBefore = readsSeenBy(a);
        const started = Date.now();
        await expectCorrectReads(tx);
        const { raw } = await signedTransfer(0);
        const hash = await rpc.broadcast(raw);
        await expectMined(rpc, hash);
        expect(Date.now() - started).toBeLessThan(timeoutMs);
        expect(readsSeenBy(a)).toBe(seenBefore);

        // A comes back: a half-open probe (the head poll) finds it, reads go to it again.
        await a.setMode('pass');
        await expect.poll(() => stateOf(a), { timeout: 10_000, interval: 50 }).toBe('up');
        a.resetCounts();
        expect(await rpc.transactionCount(tx.from, 'latest')).toBe(1);
        expect(a.count('eth_getTransactionCount')).toBe(1);
        expect(rpc.endpoints()[0]!.consecutiveFailures).toBe(0);
      },
    );

    it('A hanging: opens after the first timeout, and later calls never wait on it again', async () => {
      await a.setMode('hang');
      const tx = await minedTransfer();
      const first = Date.now();
      expect(await rpc.transactionCount(tx.from, 'latest')).toBe(1);
      // Whichever hit A first (this read or a head poll) waited one timeout and opened the circuit.
      expect(Date.now() - first).toBeLessThan(timeoutMs * 2);
      await expect.poll(() => stateOf(a), { timeout: timeoutMs * 2, interval: 20 }).toBe('open');
      const seen = readsSeenBy(a);
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        expect(await rpc.transactionCount(tx.from, 'latest')).toBe(1);
        expect((await rpc.receipt(tx.hash))?.blockHash).toBe(tx.receipt.blockHash);
        expect(Date.now() - started).toBeLessThan(timeoutMs / 2);
      }
      expect(readsSeenBy(a)).toBe(seen);
    });

    it('A stale: a receipt mined after A froze is found; once A lags too far, reads skip it; then it catches up', async () => {
      await a.setMode('stale');
      expect(a.frozenBlock).toBe(await anvilHead());
      const tx = await minedTransfer(); // mined one block after A froze: A is behind, within the limit

      // A (preferred, still current) says "no receipt"; B is asked to confirm and has it.
      a.resetCounts();
      const receipt = await rpc.receipt(tx.hash);
      expect(receipt?.blockHash).toBe(tx.receipt.blockHash);
      expect(a.count('eth_getTransactionReceipt')).toBe(1);

      await mineBlocks(maxLag + 1);
      const head = await anvilHead();
      await expect.poll(() => stateOf(a), { timeout: 5_000, interval: 50 }).toBe('lagging');
      a.resetCounts();
      await expect.poll(() => rpc.blockNumber(), { timeout: 5_000, interval: 50 }).toBe(head);
      const reported = rpc.endpoints()[0]!;
      expect(reported.head).toBe(a.frozenBlock);
      expect(reported.lagBlocks).toBe(Number(head - a.frozenBlock!));
      expect(stateOf(b)).toBe('up');

      await expectCorrectReads(tx);
      expect(readsSeenBy(a)).toBe(0);

      // Broadcasts still go to a lagging endpoint too (it may be the one that reaches the network).
      const { raw } = await signedTransfer(0);
      const hash = await rpc.broadcast(raw);
      await expectMined(rpc, hash);

      await a.setMode('pass');
      await expect.poll(() => stateOf(a), { timeout: 5_000, interval: 50 }).toBe('up');
      a.resetCounts();
      expect((await rpc.receipt(hash))?.status).toBe('success');
      expect(a.count('eth_getTransactionReceipt')).toBe(1);
    });

    it('returns null for a receipt no current endpoint has, after asking both', async () => {
      a.resetCounts();
      b.resetCounts();
      expect(await rpc.receipt(`0x${'cd'.repeat(32)}`)).toBeNull();
      expect(a.count('eth_getTransactionReceipt')).toBe(1);
      expect(b.count('eth_getTransactionReceipt')).toBe(1);
    });

    it('receipts asked together share one JSON-RPC batch per endpoint; only the ones A lacks go on to B', async () => {
      const before = await minedTransfer(); // both endpoints have it
      await a.setMode('stale');
      const after = await minedTransfer(); // mined after A froze: only B has it
      const unknown: Hash = `0x${'ef'.repeat(32)}`;
      await rpc.blockNumber(); // heads known, so no head round rides along
      a.resetCounts();
      b.resetCounts();
      const [httpA, httpB] = [a.httpRequests - (a.counts.eth_blockNumber ?? 0), b.httpRequests - (b.counts.eth_blockNumber ?? 0)];
      const found = await Promise.all([before.hash, after.hash, unknown].map((h) => rpc.receipt(h)));
      expect(found.map((r) => r?.blockHash ?? null)).toEqual([before.receipt.blockHash, after.receipt.blockHash, null]);
      expect(a.count('eth_getTransactionReceipt')).toBe(3);
      expect(b.count('eth_getTransactionReceipt')).toBe(2); // the two A answered "not found"
      expect(a.httpRequests - (a.counts.eth_blockNumber ?? 0) - httpA).toBe(1);
      expect(b.httpRequests - (b.counts.eth_blockNumber ?? 0) - httpB).toBe(1);
      await a.setMode('pass');
    });

    it.each<ProxyMode>(['down', 'http503', 'hang'])('all endpoints %s: NodeUnavailableError, retryable, in bounded time', async (mode) => {
      await Promise.all([a.setMode(mode), b.setMode(mode)]);
      const fresh = twoEndpoints(); // nothing known yet about either
      for (const client of [fresh, rpc]) {
        const started = Date.now();
        for (const call of [() => client.blockNumber(), () => client.receipt(`0x${'ab'.repeat(32)}`), () => client.transactionCount('0x000000000000000000000000000000000000dEaD', 'pending')]) {
          const err = await call().catch((e: unknown) => e);
          expect(err).toBeInstanceOf(NodeUnavailableError);
          expect((err as NodeUnavailableError).retryable).toBe(true);
        }
        const { raw } = await signedTransfer(0);
        const err = await client.broadcast(raw).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(NodeUnavailableError);
        // Each endpoint costs at most one timeout before its circuit opens; then failures are immediate.
        expect(Date.now() - started).toBeLessThan(timeoutMs * 3);
      }
      if (mode === 'hang') {
        expect(fresh.endpoints().map((e) => e.state)).toEqual(['open', 'open']);
        const started = Date.now();
        await expect(fresh.blockNumber()).rejects.toBeInstanceOf(NodeUnavailableError);
        expect(Date.now() - started).toBeLessThan(timeoutMs / 2);
      }
    });
  });

  it('code(): concurrent calls share one JSON-RPC batch, and each caller gets its own address\'s code', async () => {
    const proxy = await startRpcProxy(anvil.rpcUrl);
    const rpc = createChainRpc(config([proxy.url]), logger);
    try {
      const contract = privateKeyToAccount(generatePrivateKey()).address;
      const runtime = '0x6080604052600080fd';
      await createPublicClient({ transport: http(anvil.rpcUrl) }).request({ method: 'anvil_setCode' as never, params: [contract, runtime] as never });
      await rpc.blockNumber(); // heads known, so the reads below need no head round
      proxy.resetCounts();
      const plain = Array.from({ length: 20 }, () => privateKeyToAccount(generatePrivateKey()).address);
      const codes = await Promise.all([...plain, contract].map((a) => rpc.code(a)));
      expect(codes.slice(0, 20).every((c) => c === '0x')).toBe(true);
      expect(codes[20]).toBe(runtime);
      expect(proxy.counts.eth_getCode).toBe(21);
      // Head polls (eth_blockNumber) go one per exchange; every getCode rode in a single one.
      expect(proxy.httpRequests - (proxy.counts.eth_blockNumber ?? 0)).toBe(1);
      // Read again soon after: remembered (CODE_MAX_AGE_MS), no second call, even though the address
      // has code by now (the documented window); another client reads it afresh.
      await createPublicClient({ transport: http(anvil.rpcUrl) }).request({ method: 'anvil_setCode' as never, params: [plain[0], runtime] as never });
      expect(await rpc.code(plain[0]!)).toBe('0x');
      expect(await rpc.code(contract)).toBe(runtime);
      expect(proxy.counts.eth_getCode).toBe(21);
      const other = createChainRpc(config([proxy.url]), logger);
      try {
        expect(await other.code(plain[0]!)).toBe(runtime);
        expect(proxy.counts.eth_getCode).toBe(22);
      } finally {
        other.close();
      }
    } finally {
      rpc.close();
      await proxy.close();
    }
  });

  it('balance(): concurrent calls share one JSON-RPC batch, and each caller gets its own address\'s balance', async () => {
    const proxy = await startRpcProxy(anvil.rpcUrl);
    const rpc = createChainRpc(config([proxy.url]), logger);
    try {
      const addresses = Array.from({ length: 12 }, () => privateKeyToAccount(generatePrivateKey()).address);
      await Promise.all(addresses.slice(0, 3).map((a, i) => setDevBalance(anvil.rpcUrl, a, parseEther(String(i + 1)))));
      await rpc.blockNumber();
      proxy.resetCounts();
      const found = await Promise.all(addresses.map((a) => rpc.balance(a)));
      expect(found).toEqual([parseEther('1'), parseEther('2'), parseEther('3'), ...Array(9).fill(0n)]);
      expect(proxy.count('eth_getBalance')).toBe(12);
      expect(proxy.httpRequests - (proxy.counts.eth_blockNumber ?? 0)).toBe(1);
    } finally {
      rpc.close();
      await proxy.close();
    }
  });

  it('an endpoint configured with batch: 1 gets one HTTP exchange per call (for providers that refuse batches)', async () => {
    const proxy = await startRpcProxy(anvil.rpcUrl);
    const rpc = createChainRpc({ ...config([]), rpc: [{ url: proxy.url, weight: 1, batch: 1 }] }, logger);
    try {
      await rpc.blockNumber();
      proxy.resetCounts();
      const addresses = Array.from({ length: 5 }, () => privateKeyToAccount(generatePrivateKey()).address);
      expect(await Promise.all(addresses.map((a) => rpc.code(a)))).toEqual(addresses.map(() => '0x'));
      expect(proxy.httpRequests - (proxy.counts.eth_blockNumber ?? 0)).toBe(5);
    } finally {
      rpc.close();
      await proxy.close();
    }
  });

  it('the proxy handles JSON-RPC batches (viem batch transport), counting each method, in stale mode too', async () => {
    const proxy = await startRpcProxy(anvil.rpcUrl);
    try {
      const batched = createPublicClient({ transport: http(proxy.url, { batch: true }) });
      await proxy.setMode('stale');
      const frozen = proxy.frozenBlock!;
      const { raw } = await signedTransfer(0);
      const hash = (await batched.request({ method: 'eth_sendRawTransaction', params: [raw] })) as Hash;
      proxy.resetCounts();
      const [head, receipt, latest, chainId] = await Promise.all([
        batched.request({ method: 'eth_blockNumber' }),
        batched.request({ method: 'eth_getTransactionReceipt', params: [hash] }),
        batched.request({ method: 'eth_getBlockByNumber', params: ['latest', false] }),
        batched.request({ method: 'eth_chainId' }),
      ]);
      expect(proxy.httpRequests).toBe(1);
      expect(proxy.counts).toEqual({ eth_blockNumber: 1, eth_getTransactionReceipt: 1, eth_getBlockByNumber: 1, eth_chainId: 1 });
      expect(BigInt(head)).toBe(frozen);
      expect(receipt).toBeNull(); // mined after the head froze
      expect(BigInt(latest!.number!)).toBe(frozen);
      expect(Number(chainId)).toBe(31337);
      await proxy.setMode('pass');
      expect(BigInt(await batched.request({ method: 'eth_blockNumber' }))).toBeGreaterThan(frozen);
    } finally {
      await proxy.close();
    }
  });
});
