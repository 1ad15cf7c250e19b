import { type Hex, parseEther, parseGwei } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { type AnvilHandle, getFreePort, startAnvil } from './anvil.js';
import { setDevBalance } from './devnet.js';
import { InsufficientFundsError, NodeUnavailableError, NonceTooLowError } from './errors.js';
import { createChainRpc } from './rpc.js';
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
    policy: DEFAULT_CHAIN_POLICY,
  });

  beforeAll(async () => {
    anvil = await startAnvil({ silent: true }); // automine: each accepted tx is mined at once
    deadUrl = `http://127.0.0.1:${await getFreePort()}`; // nothing listens there
  });
  afterAll(async () => {
    await anvil?.stop();
  });

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
    expect((await rpc.receipt(hash))?.status).toBe('success');
  });

  it('maps an unfunded sender to a permanent InsufficientFundsError', async () => {
    const rpc = createChainRpc(config([anvil.rpcUrl]), logger);
    const { raw } = await signedTransfer(0, false);
    const err = await rpc.broadcast(raw).catch((e) => e);
    expect(err).toBeInstanceOf(InsufficientFundsError);
    expect(err.retryable).toBe(false);
  });

  it('returns null for a receipt the node does not have', async () => {
    const rpc = createChainRpc(config([anvil.rpcUrl]), logger);
    expect(await rpc.receipt(`0x${'ab'.repeat(32)}`)).toBeNull();
    expect(await rpc.knowsTransaction(`0x${'ab'.repeat(32)}`)).toBe(false);
  });
});
