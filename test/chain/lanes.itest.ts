import { randomUUID } from 'node:crypto';
import { type Address, encodeAbiParameters, encodeFunctionData, erc20Abi, type Hash, type Hex, keccak256, parseEther, parseGwei, parseUnits, toHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { setFailSilently } from '../../src/chain/devnet.js';
import { demoTokenAbi } from '../../src/dev/contracts/demo-token.artifact.js';
import { loadDeployerKey } from '../../src/dev/demo-assets.js';
import { type ChainControl, chainControl } from '../support/chain-control.js';
import { checkLedger } from '../support/ledger-check.js';
import { type Stack, startStack, TEST_KEYSTORE_PASSWORD, waitFor } from '../support/stack.js';

const dbKind = inject('db');
const TERMINAL = ['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];

/**
 * Chain misbehaviour against a real anvil: every wallet lane must recover by itself. Each case
 * ends with the recipient paid exactly once (or not at all), checked on chain.
 */
describe(`wallet lanes recover on ${dbKind}`, () => {
  let stack: Stack;
  let chain: ChainControl;
  let hotWallet: Address;
  let token: Address;

  beforeAll(async () => {
    stack = await startStack(dbKind, {
      rebroadcastAfterSeconds: 1,
      feeBumpAfterSeconds: 2,
      devnetConfirmations: 3,
      reconcileAfterSeconds: 1,
      reconcileIntervalMs: 300,
    });
    chain = chainControl(stack.rpcUrl);
    hotWallet = (await stack.services.wallets.forChain(stack.chainId))[0]!.address as Address;
    token = (await stack.services.assets.find('USDT', stack.chainId))!.contract!;
  });
  afterAll(async () => {
    await chain?.resumeMining(1).catch(() => {});
    await stack?.teardown();
  });

  const newAddress = () => privateKeyToAccount(generatePrivateKey()).address;
  const k = () => stack.services.db.kysely;

  async function fund(asset: 'ETH' | 'USDT', amount: string): Promise<string> {
    const userId = `lane-${randomUUID().slice(0, 8)}`;
    const res = await stack.request('POST', '/v1/ledger/credits', { body: { userId, asset, amount, reference: randomUUID() } });
    expect(res.status).toBe(201);
    return userId;
  }
  async function withdraw(userId: string, asset: 'ETH' | 'USDT', to: Address, amount: string) {
    const res = await stack.request('POST', '/v1/withdrawals', {
      body: { userId, asset, chainId: stack.chainId, toAddress: to, amount },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(res.status).toBe(202);
    return res.body.id as string;
  }
  const get = async (id: string) => (await stack.request('GET', `/v1/withdrawals/${id}`)).body;
  const waitStatus = (id: string, statuses: string[], timeoutMs = 60_000) =>
    waitFor(`withdrawal ${id} to reach ${statuses.join('/')}`, async () => {
      const w = await get(id);
      return statuses.includes(w.status) ? w : undefined;
    }, timeoutMs);
  const paid = (asset: 'ETH' | 'USDT', to: Address) =>
    asset === 'ETH' ? chain.client.getBalance({ address: to }) : chain.client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [to] });
  const attemptsOf = (id: string) => k().selectFrom('tx_attempts').selectAll().where('withdrawal_id', '=', id).orderBy('id').execute();
  const balance = async (userId: string, asset: string) =>
    ((await stack.request('GET', `/v1/users/${userId}/balances`)).body as Array<{ asset: string; available: string; held: string }>).find((b) => b.asset === asset);
  /** Some tx of the withdrawal is known to the node again (its stored bytes, or a fee bump of them). */
  const sentAgain = (id: string) =>
    waitFor(`a tx of ${id} to be sent again`, async () => {
      const known = await Promise.all((await attemptsOf(id)).map((a) => chain.client.getTransaction({ hash: a.tx_hash as Hash }).catch(() => null)));
      return known.some((t) => t !== null) ? true : undefined;
    });
  async function lanesInStep() {
    const row = await stack.services.wallets.get(stack.chainId, hotWallet);
    const [latest, pending] = await Promise.all([
      chain.client.getTransactionCount({ address: hotWallet, blockTag: 'latest' }),
      chain.client.getTransactionCount({ address: hotWallet, blockTag: 'pending' }),
    ]);
    return { db: Number(row!.next_nonce), latest, pending };
  }

  it('rebroadcasts a transaction that was dropped from the mempool', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    await chain.pauseMining();
    try {
      const id = await withdraw(user, 'ETH', to, '0.3');
      const w = await waitStatus(id, ['BROADCAST']);
      expect(await chain.dropTransaction(w.txHash)).toBe(w.txHash);
      expect(await chain.client.getTransaction({ hash: w.txHash }).catch(() => null)).toBeNull();
      // Back in the pool only because Sluice sent it again.
      await waitFor('the dropped tx to be rebroadcast', async () => ((await chain.client.getTransaction({ hash: (await get(id)).txHash as Hash }).catch(() => null)) ? true : undefined));
    } finally {
      await chain.resumeMining(1);
    }
    const id = (await k().selectFrom('withdrawals').select('id').where('user_id', '=', user).executeTakeFirstOrThrow()).id;
    const done = await waitStatus(id, TERMINAL);
    expect(done.status).toBe('COMPLETED');
    expect(await paid('ETH', to)).toBe(parseEther('0.3'));
    const attempts = await attemptsOf(id);
    expect(attempts.some((a) => a.broadcast_count >= 2)).toBe(true);
  });

  it('replaces a transaction the base fee outgrew with a fee bump at the same nonce', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    const spike = chain.holdBaseFee(parseGwei('150')); // ours was signed for ~2 gwei
    let id: string;
    try {
      id = await withdraw(user, 'ETH', to, '0.2');
      const bumped = await waitFor('a fee bump', async () => {
        const attempts = await attemptsOf(id);
        return attempts.find((a) => a.kind === 'bump' && BigInt(a.max_fee_per_gas) >= parseGwei('150')) ? attempts : undefined;
      });
      expect(new Set(bumped.map((a) => a.nonce)).size).toBe(1); // same nonce, invariant 1
      const [first, second] = bumped;
      expect(BigInt(second!.max_fee_per_gas) * 1000n).toBeGreaterThanOrEqual(BigInt(first!.max_fee_per_gas) * 1125n);
      expect(BigInt(second!.max_priority_fee_per_gas) * 1000n).toBeGreaterThanOrEqual(BigInt(first!.max_priority_fee_per_gas) * 1125n);
    } finally {
      await spike.stop();
    }
    const done = await waitStatus(id, TERMINAL);
    expect(done.status).toBe('COMPLETED');
    const mined = (await attemptsOf(id)).find((a) => a.tx_hash === done.txHash)!;
    expect(mined.kind).toBe('bump');
    expect(await paid('ETH', to)).toBe(parseEther('0.2'));
    const detail = await stack.request('GET', `/v1/withdrawals/${id}`);
    expect(detail.body.attempts.length).toBeGreaterThanOrEqual(2);
    expect(detail.body.attempts.map((a: { txHash: string }) => a.txHash)).toContain(done.txHash);
    expect(await lanesInStep()).toMatchObject({ latest: (await lanesInStep()).db });
  });

  it('stops bumping at the fee cap, says so on the withdrawal, and completes once the fee falls', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    const spike = chain.holdBaseFee(parseGwei('800')); // above the 500 gwei cap
    let id: string;
    try {
      id = await withdraw(user, 'ETH', to, '0.1');
      const waiting = await waitStatus(id, ['SIGNED', 'BROADCAST'], 10_000);
      expect(TERMINAL).not.toContain(waiting.status);
      const capped = await waitFor('the fee cap to be reported', async () => {
        const w = await get(id);
        return w.failureCode === 'fee_cap_reached' ? w : undefined;
      });
      expect(['SIGNED', 'BROADCAST']).toContain(capped.status);
      const attempts = await attemptsOf(id);
      expect(attempts.every((a) => BigInt(a.max_fee_per_gas) <= parseGwei('500'))).toBe(true);
      const metrics = await stack.request('GET', '/metrics');
      expect(metrics.body).toMatch(/sluice_fee_cap_reached_total\{chain_id="\d+"\} [1-9]/);
    } finally {
      await spike.stop();
    }
    const done = await waitStatus(id, TERMINAL);
    expect(done.status).toBe('COMPLETED');
    expect(done.failureCode).toBeNull();
    expect(await paid('ETH', to)).toBe(parseEther('0.1'));
  });

  it('sends a reorged-out transaction again and completes only on the surviving chain', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    const id = await withdraw(user, 'ETH', to, '0.25');
    await chain.pauseMining();
    let reorgedFrom: string;
    try {
      await chain.mine(1);
      const confirming = await waitFor('CONFIRMING', async () => {
        await chain.mine(1);
        const w = await get(id);
        return w.status === 'CONFIRMING' ? w : undefined;
      }, 30_000, 300);
      const row = await k().selectFrom('withdrawals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      reorgedFrom = row.block_hash!;
      const head = await chain.client.getBlockNumber();
      expect(confirming.status).toBe('CONFIRMING');
      await chain.reorg(Number(head - BigInt(row.block_number!) + 1n)); // the tx's block and all after it
      expect(await chain.client.getTransactionReceipt({ hash: confirming.txHash }).catch(() => null)).toBeNull();
      await waitFor('the reorg to be noticed', async () => {
        const events = await stack.services.withdrawals.events(id);
        return events.some((e) => e.code === 'reorged') ? true : undefined;
      });
    } finally {
      await chain.resumeMining(1);
    }
    const done = await waitStatus(id, TERMINAL);
    expect(done.status).toBe('COMPLETED');
    const row = await k().selectFrom('withdrawals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.block_hash).not.toBe(reorgedFrom!);
    const canonical = await chain.client.getBlock({ blockNumber: BigInt(row.block_number!) });
    expect(canonical.hash).toBe(row.block_hash);
    expect(await paid('ETH', to)).toBe(parseEther('0.25'));
    expect((await checkLedger(stack.services)).violations).toEqual([]);
  });

  it('counts confirmations again when a reorg moves the transaction to another block', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    await chain.pauseMining();
    let first: { block_hash: string | null; block_number: number | null };
    try {
      const id = await withdraw(user, 'ETH', to, '0.05');
      const signed = await waitStatus(id, ['BROADCAST']);
      await chain.mine(1);
      await waitStatus(id, ['CONFIRMING']);
      first = await k().selectFrom('withdrawals').select(['block_hash', 'block_number']).where('id', '=', id).executeTakeFirstOrThrow();
      const [attempt] = await attemptsOf(id);
      await chain.mine(1); // anvil re-includes a tx at most depth-1 blocks into the new branch
      const head = await chain.client.getBlockNumber();
      // The same tx, one block later on a new branch: its nonce stays used, its block hash changes.
      await chain.reorg(Number(head - BigInt(first.block_number!) + 1n), [{ raw: attempt!.raw_tx as Hash, blockOffset: 1 }]);
      const moved = await chain.client.getTransactionReceipt({ hash: signed.txHash });
      expect(moved.blockHash).not.toBe(first.block_hash);
      await waitFor('the reorg to be noticed', async () => ((await stack.services.withdrawals.events(id)).some((e) => e.code === 'reorged') ? true : undefined));
    } finally {
      await chain.resumeMining(1);
    }
    const id = (await k().selectFrom('withdrawals').select('id').where('user_id', '=', user).executeTakeFirstOrThrow()).id;
    const done = await waitStatus(id, TERMINAL);
    expect(done.status).toBe('COMPLETED');
    const row = await k().selectFrom('withdrawals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    expect(row.block_hash).not.toBe(first!.block_hash);
    expect((await chain.client.getBlock({ blockNumber: BigInt(row.block_number!) })).hash).toBe(row.block_hash);
    expect(await paid('ETH', to)).toBe(parseEther('0.05'));
    expect(await attemptsOf(id)).toHaveLength(1); // same bytes throughout, nothing re-signed
  });

  it('sends a completed payout again when a reorg deeper than the confirmations took it away', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    const id = await withdraw(user, 'ETH', to, '0.07');
    await waitStatus(id, ['COMPLETED']);
    const row = await k().selectFrom('withdrawals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    await chain.pauseMining();
    try {
      const head = await chain.client.getBlockNumber();
      await chain.reorg(Number(head - BigInt(row.block_number!) + 1n)); // beyond finality: the payout is gone
      expect(await paid('ETH', to)).toBe(0n);
      await chain.mine(1);
      await sentAgain(id);
    } finally {
      await chain.resumeMining(1);
    }
    await waitFor('the payout to be mined again', async () => ((await paid('ETH', to)) === parseEther('0.07') ? true : undefined));
    expect((await stack.request('GET', '/metrics')).body).toMatch(/sluice_tracker_actions_total\{chain_id="\d+",action="rebroadcast_settled"\} [1-9]/);
    const again = await waitStatus(id, ['COMPLETED']);
    expect(again.failureCode).toBeNull();
    expect(Number((await attemptsOf(id)).find((a) => a.tx_hash === again.txHash)!.nonce)).toBe(Number(row.nonce)); // the same nonce: paid once
    const path = (await stack.services.withdrawals.events(id)).map((e) => `${e.from_status}>${e.to_status}${e.code ? `:${e.code}` : ''}`);
    expect(path).toContain('COMPLETED>BROADCAST:finality_violation');
    expect(path.at(-1)).toBe('CONFIRMING>COMPLETED');
    const next = await withdraw(user, 'ETH', newAddress(), '0.01'); // the lane goes on
    expect((await waitStatus(next, TERMINAL)).status).toBe('COMPLETED');
    expect(await paid('ETH', to)).toBe(parseEther('0.07'));
    expect((await balance(user, 'ETH'))?.held).toBe('0');
    expect((await checkLedger(stack.services)).violations).toEqual([]);
  });

  it('pays a completed withdrawal again at a fresh nonce when a reorg beyond finality took its payout and a foreign tx its nonce', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    const id = await withdraw(user, 'ETH', to, '0.04');
    await waitStatus(id, ['COMPLETED']);
    const row = await k().selectFrom('withdrawals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const nonce = Number(row.nonce);
    const heldNow = async () => (await stack.services.ledger.balances(user)).find((b) => b.asset === 'ETH')?.held;
    expect((await balance(user, 'ETH'))?.held).toBe('0');
    await chain.pauseMining();
    try {
      const head = await chain.client.getBlockNumber();
      await chain.reorg(Number(head - BigInt(row.block_number!) + 1n)); // beyond finality: the payout is gone
      await chain.mine(1);
      // Owed again, not paid: in flight, its payout and fee a hold again, its bytes back in the pool.
      await waitFor('the withdrawal to be reopened', async () => {
        const w = await get(id);
        return w.status === 'BROADCAST' && w.failureCode === 'settled_tx_reorged' ? w : undefined;
      });
      expect(await heldNow()).toBe(BigInt(row.amount) + BigInt(row.fee));
      await sentAgain(id);
      // Someone with the hot wallet's key outbids it at its nonce, and a block takes theirs.
      const fees = await chain.client.estimateFeesPerGas();
      const foreign = await chain.sendAs(hotWallet, { to: newAddress(), value: 1n, nonce, maxFeePerGas: fees.maxFeePerGas * 10n + parseGwei('50'), maxPriorityFeePerGas: parseGwei('20') });
      await chain.mine(1);
      expect((await chain.client.getTransactionReceipt({ hash: foreign })).status).toBe('success');
    } finally {
      await chain.resumeMining(1);
    }
    const again = await waitStatus(id, ['COMPLETED'], 90_000);
    expect(await paid('ETH', to)).toBe(parseEther('0.04'));
    const attempts = await attemptsOf(id);
    const last = attempts.at(-1)!;
    expect(Number(last.nonce)).toBeGreaterThan(nonce);
    expect(again).toMatchObject({ txHash: last.tx_hash, failureCode: null });
    const codes = (await stack.services.withdrawals.events(id)).map((e) => e.code);
    expect(codes).toEqual(expect.arrayContaining(['finality_violation', 'nonce_taken']));
    expect((await balance(user, 'ETH'))?.held).toBe('0');
    expect((await checkLedger(stack.services)).violations).toEqual([]);
    const lanes = await lanesInStep();
    expect(lanes.pending).toBe(lanes.latest);
  });

  it('waits visibly while the hot wallet has no gas money, and goes on once it is refilled', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    const before = await chain.client.getBalance({ address: hotWallet });
    await chain.setBalance(hotWallet, 0n);
    let id: string;
    try {
      id = await withdraw(user, 'ETH', to, '0.1');
      const waiting = await waitFor('the wait to show', async () => {
        const w = await get(id);
        return w.failureCode === 'hot_wallet_insufficient_funds' ? w : undefined;
      });
      expect(TERMINAL).not.toContain(waiting.status);
      await new Promise((r) => setTimeout(r, 1_500)); // past the reconcile timeout: still waiting, not failed
      expect(TERMINAL).not.toContain((await get(id)).status);
      const letters = await stack.services.deadLetters.list({ status: 'open' });
      expect(letters.find((l) => l.withdrawal_id === id)).toBeUndefined();
      expect((await stack.request('GET', '/metrics')).body).toMatch(/sluice_hot_wallet_short_total\{chain_id="\d+"\} [1-9]/);
    } finally {
      await chain.setBalance(hotWallet, before);
    }
    const done = await waitStatus(id, TERMINAL);
    expect(done).toMatchObject({ status: 'COMPLETED', failureCode: null });
    expect(await paid('ETH', to)).toBe(parseEther('0.1'));
  });

  it('waits while the hot wallet holds too few tokens, and goes on once it is refilled', async () => {
    const user = await fund('USDT', '100');
    const to = newAddress();
    const slot = keccak256(encodeAbiParameters([{ type: 'address' }, { type: 'uint256' }], [hotWallet, 1n])); // balanceOf is slot 1
    const held = await chain.client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [hotWallet] });
    await chain.setStorageAt(token, slot, toHex(0n, { size: 32 }));
    expect(await chain.client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [hotWallet] })).toBe(0n);
    let id: string;
    try {
      id = await withdraw(user, 'USDT', to, '50');
      await waitFor('the wait to show', async () => ((await get(id)).failureCode === 'hot_wallet_insufficient_funds' ? true : undefined));
      expect((await get(id)).status).toBe('RECEIVED'); // nothing signed that could revert
    } finally {
      await chain.setStorageAt(token, slot, toHex(held, { size: 32 }));
    }
    const done = await waitStatus(id, TERMINAL);
    expect(done.status).toBe('COMPLETED');
    expect(await paid('USDT', to)).toBe(parseUnits('50', 6));
  });

  it('re-signs at a fresh nonce when a transaction Sluice did not sign used the nonce', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    const { db: nonce } = await lanesInStep();
    // Someone with the hot wallet's key spends nonce `nonce` behind Sluice's back.
    const foreign = await chain.sendAs(hotWallet, { to: newAddress(), value: 1n, nonce });
    await waitFor('the foreign tx to be mined', async () => ((await chain.client.getTransactionReceipt({ hash: foreign }).catch(() => null)) ? true : undefined));

    const id = await withdraw(user, 'ETH', to, '0.15');
    const done = await waitStatus(id, TERMINAL);
    expect(done.status).toBe('COMPLETED');
    expect(await paid('ETH', to)).toBe(parseEther('0.15'));
    const attempts = await attemptsOf(id);
    expect(attempts.map((a) => Number(a.nonce))).toEqual([nonce, nonce + 1]);
    expect(attempts[0]!.broadcast_at).toBeNull(); // "nonce too low" for an unknown hash is not success
    expect(done.txHash).toBe(attempts[1]!.tx_hash);
    const events = await stack.services.withdrawals.events(id);
    expect(events.some((e) => e.code === 'nonce_taken')).toBe(true);
    const lanes = await lanesInStep();
    expect(lanes.db).toBe(lanes.latest);
    expect(lanes.pending).toBe(lanes.latest);
  });

  it('fills the nonce a reorg beyond finality emptied after its withdrawal was re-signed elsewhere, and pays once', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    const { db: nonce } = await lanesInStep();
    // A foreign tx takes the nonce and is final: the withdrawal is re-signed at the next one.
    const foreign = await chain.sendAs(hotWallet, { to: newAddress(), value: 1n, nonce });
    const foreignBlock = await waitFor('the foreign tx to be mined', async () => (await chain.client.getTransactionReceipt({ hash: foreign }).catch(() => null))?.blockNumber);
    const id = await withdraw(user, 'ETH', to, '0.06');
    expect((await waitStatus(id, TERMINAL)).status).toBe('COMPLETED');
    expect((await attemptsOf(id)).map((a) => Number(a.nonce))).toEqual([nonce, nonce + 1]);
    await chain.pauseMining();
    try {
      // Beyond finality, down to the foreign tx: its nonce is empty again and no row holds it.
      const head = await chain.client.getBlockNumber();
      await chain.reorg(Number(head - foreignBlock + 1n));
      await chain.mine(1);
      expect(await chain.client.getTransaction({ hash: foreign }).catch(() => null)).toBeNull();
      expect(await chain.client.getTransactionCount({ address: hotWallet })).toBe(nonce);
      await waitFor('a fill at the emptied nonce', async () => ((await attemptsOf(id)).some((a) => a.kind === 'fill' && Number(a.nonce) === nonce) ? true : undefined));
      // Owed again before its nonce is filled: a COMPLETED row whose payout is gone must not stay COMPLETED.
      expect(await get(id)).toMatchObject({ status: 'BROADCAST', failureCode: 'settled_tx_reorged' });
    } finally {
      await chain.resumeMining(1);
    }
    const done = await waitStatus(id, ['COMPLETED'], 90_000);
    expect(await paid('ETH', to)).toBe(parseEther('0.06'));
    const attempts = await attemptsOf(id);
    const fills = attempts.filter((a) => a.kind === 'fill');
    const filled = await Promise.all(fills.map((a) => chain.client.getTransactionReceipt({ hash: a.tx_hash as Hash }).catch(() => null)));
    expect(filled.filter((r) => r?.status === 'success')).toHaveLength(1);
    // Paid by its re-signed payout, not the old one (priced under the fill) and not the fill.
    expect(done.txHash).toBe(attempts.find((a) => a.kind === 'transfer' && Number(a.nonce) === nonce + 1)!.tx_hash);
    expect(await chain.client.getTransactionReceipt({ hash: attempts[0]!.tx_hash as Hash }).catch(() => null)).toBeNull();
    expect((await balance(user, 'ETH'))?.held).toBe('0');
    expect((await checkLedger(stack.services)).violations).toEqual([]);
    const next = await withdraw(user, 'ETH', newAddress(), '0.01'); // the lane goes on
    expect((await waitStatus(next, TERMINAL)).status).toBe('COMPLETED');
    const lanes = await lanesInStep();
    expect(lanes).toEqual({ db: lanes.latest, latest: lanes.latest, pending: lanes.latest });
  });

  it('cancels the re-signed payout when the branch that replaced it beyond finality holds the old payout instead, and pays once', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    const { db: nonce } = await lanesInStep();
    const foreign = await chain.sendAs(hotWallet, { to: newAddress(), value: 1n, nonce });
    const foreignBlock = await waitFor('the foreign tx to be mined', async () => (await chain.client.getTransactionReceipt({ hash: foreign }).catch(() => null))?.blockNumber);
    const id = await withdraw(user, 'ETH', to, '0.07');
    expect((await waitStatus(id, TERMINAL)).status).toBe('COMPLETED');
    const [old, resigned] = await attemptsOf(id);
    expect([Number(old!.nonce), Number(resigned!.nonce)]).toEqual([nonce, nonce + 1]);
    await chain.pauseMining();
    try {
      // The branch that wins beyond finality never saw the foreign tx: it mined the payout Sluice
      // signed first, at the nonce it then gave up. The re-signed payout is gone with the old branch.
      const head = await chain.client.getBlockNumber();
      await chain.reorg(Number(head - foreignBlock + 1n), [{ raw: old!.raw_tx as Hex, blockOffset: 0 }]);
      expect((await chain.client.getTransactionReceipt({ hash: old!.tx_hash as Hash })).status).toBe('success');
      expect(await paid('ETH', to)).toBe(parseEther('0.07'));
      await waitFor('a cancel at the re-signed nonce', async () => ((await attemptsOf(id)).some((a) => a.kind === 'cancel' && Number(a.nonce) === nonce + 1) ? true : undefined));
    } finally {
      await chain.resumeMining(1);
    }
    const done = await waitStatus(id, TERMINAL, 90_000);
    expect(done).toMatchObject({ status: 'COMPLETED', txHash: old!.tx_hash, failureCode: null });
    expect(await paid('ETH', to)).toBe(parseEther('0.07')); // once: the re-signed payout was not sent again
    expect(await chain.client.getTransactionReceipt({ hash: resigned!.tx_hash as Hash }).catch(() => null)).toBeNull();
    expect((await stack.services.withdrawals.events(id)).map((e) => e.code)).toEqual(expect.arrayContaining(['nonce_taken', 'finality_violation']));
    expect((await balance(user, 'ETH'))?.held).toBe('0');
    expect((await checkLedger(stack.services)).violations).toEqual([]);
    const lanes = await lanesInStep();
    expect(lanes).toEqual({ db: lanes.latest, latest: lanes.latest, pending: lanes.latest });
  });

  it('cancels a re-signed payout still in flight when a reorg beyond finality brings back a branch that mined its old one', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    const { db: nonce } = await lanesInStep();
    await chain.pauseMining();
    let old: Awaited<ReturnType<typeof attemptsOf>>[number] | undefined;
    let id = '';
    try {
      const foreign = await chain.sendAs(hotWallet, { to: newAddress(), value: 1n, nonce });
      await chain.mine(1);
      const foreignBlock = (await chain.client.getTransactionReceipt({ hash: foreign })).blockNumber;
      await chain.mine(3); // final
      id = await withdraw(user, 'ETH', to, '0.08');
      // Re-signed at the next nonce and sent, but not mined: no block comes.
      const attempts = await waitFor('a re-signed payout', async () => {
        const all = await attemptsOf(id);
        return all.some((a) => Number(a.nonce) === nonce + 1) ? all : undefined;
      });
      old = attempts[0]!;
      expect(Number(old.nonce)).toBe(nonce);
      await waitFor('the re-signed payout in the pool', async () => ((await lanesInStep()).pending === nonce + 2 ? true : undefined));
      // The branch that wins never saw the foreign tx: it mined the payout Sluice signed first.
      const head = await chain.client.getBlockNumber();
      await chain.reorg(Number(head - foreignBlock + 1n), [{ raw: old.raw_tx as Hex, blockOffset: 0 }]);
      expect(await paid('ETH', to)).toBe(parseEther('0.08'));
      await waitFor('a cancel at the re-signed nonce', async () => ((await attemptsOf(id)).some((a) => a.kind === 'cancel' && Number(a.nonce) === nonce + 1) ? true : undefined));
    } finally {
      await chain.resumeMining(1);
    }
    const done = await waitStatus(id, TERMINAL, 90_000);
    expect(done).toMatchObject({ status: 'COMPLETED', txHash: old!.tx_hash });
    expect(await paid('ETH', to)).toBe(parseEther('0.08'));
    expect((await balance(user, 'ETH'))?.held).toBe('0');
    expect((await checkLedger(stack.services)).violations).toEqual([]);
    const lanes = await lanesInStep();
    expect(lanes).toEqual({ db: lanes.latest, latest: lanes.latest, pending: lanes.latest });
  });

  it('completes a cancelled withdrawal whose payout a reorg beyond finality mined where its cancel was, and charges the user', async () => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    await chain.pauseMining();
    let id = '';
    try {
      id = await withdraw(user, 'ETH', to, '0.09');
      await waitStatus(id, ['BROADCAST']);
      // An operator discards it (as a DLQ discard does): its nonce is filled with a cancel.
      await k().updateTable('withdrawals').set({ cancel_reason: 'operator: test' }).where('id', '=', id).where('status', '=', 'BROADCAST').execute();
      await waitFor('the cancel', async () => ((await attemptsOf(id)).some((a) => a.kind === 'cancel') ? true : undefined));
    } finally {
      await chain.resumeMining(1);
    }
    const cancelled = await waitStatus(id, TERMINAL);
    expect(cancelled.status).toBe('CANCELLED');
    expect(await balance(user, 'ETH')).toMatchObject({ available: '1', held: '0' });
    const ledgerEth = async () => (await stack.services.ledger.balances(user)).find((b) => b.asset === 'ETH');
    const credited = (await ledgerEth())!.available;
    const payout = (await attemptsOf(id)).find((a) => a.kind === 'transfer')!;
    await chain.pauseMining();
    try {
      // The branch that wins beyond finality mined the payout, not the cancel: the recipient is paid.
      const cancelBlock = (await chain.client.getTransactionReceipt({ hash: cancelled.txHash as Hash })).blockNumber;
      const head = await chain.client.getBlockNumber();
      await chain.reorg(Number(head - cancelBlock + 1n), [{ raw: payout.raw_tx as Hex, blockOffset: 0 }]);
      expect(await paid('ETH', to)).toBe(parseEther('0.09'));
      await chain.mine(1);
    } finally {
      await chain.resumeMining(1);
    }
    const done = await waitStatus(id, ['COMPLETED'], 90_000);
    expect(done.txHash).toBe(payout.tx_hash);
    const row = await k().selectFrom('withdrawals').select(['amount', 'fee']).where('id', '=', id).executeTakeFirstOrThrow();
    expect(await ledgerEth()).toMatchObject({ available: credited - (BigInt(row.amount) + BigInt(row.fee)), held: 0n });
    expect((await stack.services.withdrawals.events(id)).map((e) => e.code)).toContain('finality_violation');
    expect((await checkLedger(stack.services)).violations).toEqual([]);
    const lanes = await lanesInStep();
    expect(lanes).toEqual({ db: lanes.latest, latest: lanes.latest, pending: lanes.latest });
  });

  it('estimates gas for a contract recipient, and refuses one that reverts or costs too much', async () => {
    const user = await fund('ETH', '1');
    const costly = newAddress();
    const reverting = newAddress();
    const tooCostly = newAddress();
    await chain.setCode(costly, '0x6001600055600160015500'); // receive() writes two storage slots (~65k gas)
    await chain.setCode(reverting, '0x60006000fd'); // reverts on any call
    await chain.setCode(tooCostly, `0x${Array.from({ length: 25 }, (_, i) => `600160${i.toString(16).padStart(2, '0')}55`).join('')}00`);

    const ok = await withdraw(user, 'ETH', costly, '0.1');
    const refused = await withdraw(user, 'ETH', reverting, '0.1');
    const expensive = await withdraw(user, 'ETH', tooCostly, '0.1');
    const [okDone, refusedDone, expensiveDone] = await Promise.all([waitStatus(ok, TERMINAL), waitStatus(refused, TERMINAL), waitStatus(expensive, TERMINAL)]);
    expect(okDone.status).toBe('COMPLETED');
    expect(await paid('ETH', costly)).toBe(parseEther('0.1'));
    const [attempt] = await attemptsOf(ok);
    expect(attempt!.gas_limit).toBeGreaterThan(21_000);
    expect(refusedDone).toMatchObject({ status: 'REJECTED', failureCode: 'recipient_rejects_payment' });
    expect(expensiveDone).toMatchObject({ status: 'REJECTED', failureCode: 'recipient_gas_too_high' });
    expect(await paid('ETH', reverting)).toBe(0n);
    expect(await balance(user, 'ETH')).toEqual({ asset: 'ETH', available: '0.8999', held: '0' });
  });

  it('fails a token payout whose receipt shows no Transfer, and releases the hold', async () => {
    const user = await fund('USDT', '100');
    const to = newAddress();
    await setFailSilently({ rpcUrl: stack.rpcUrl, deployerPrivateKey: await loadDeployerKey(stack.dataDir, TEST_KEYSTORE_PASSWORD), token, account: to, on: true });
    const id = await withdraw(user, 'USDT', to, '40');
    const done = await waitStatus(id, TERMINAL);
    expect(done).toMatchObject({ status: 'FAILED', failureCode: 'transfer_not_executed' });
    const receipt = await chain.client.getTransactionReceipt({ hash: done.txHash });
    expect(receipt.status).toBe('success'); // the chain says success; only the missing log tells
    expect(await paid('USDT', to)).toBe(0n);
    expect(await balance(user, 'USDT')).toEqual({ asset: 'USDT', available: '100', held: '0' });
  });

  it.each([
    ['', false],
    [', also after a restart (the watch comes from the database)', true],
  ])('pays a completed withdrawal again when the branch that replaced its block beyond finality already used its nonce (no gap to see)%s', async (_, restart) => {
    const user = await fund('ETH', '1');
    const to = newAddress();
    const id = await withdraw(user, 'ETH', to, '0.03');
    await waitStatus(id, ['COMPLETED'], 60_000);
    const row = await k().selectFrom('withdrawals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    // A new process: what the old one watched in memory is gone.
    if (restart) await stack.restart();
    await chain.pauseMining();
    try {
      const head = await chain.client.getBlockNumber();
      // The new branch carries, in its first block, a tx of the hot wallet that Sluice did not sign,
      // at the wallet's nonce of that height: the payout's.
      await chain.call('anvil_impersonateAccount', [hotWallet]);
      await chain.call('anvil_reorg', [Number(head - BigInt(row.block_number!) + 1n), [[{ from: hotWallet, to: newAddress(), value: '0x1', gas: '0x5208' }, 0]]]);
      await chain.call('anvil_stopImpersonatingAccount', [hotWallet]);
      expect(await paid('ETH', to)).toBe(0n);
      expect(await chain.client.getTransactionCount({ address: hotWallet })).toBeGreaterThan(Number(row.nonce)); // no gap
      await waitFor('the withdrawal to be reopened', async () => ((await get(id)).status !== 'COMPLETED' ? true : undefined));
    } finally {
      await chain.resumeMining(1);
    }
    const again = await waitStatus(id, ['COMPLETED'], 90_000);
    expect(await paid('ETH', to)).toBe(parseEther('0.03'));
    const last = (await attemptsOf(id)).at(-1)!;
    expect(Number(last.nonce)).toBeGreaterThan(Number(row.nonce));
    expect(again.txHash).toBe(last.tx_hash);
    expect((await stack.services.withdrawals.events(id)).map((e) => e.code)).toEqual(expect.arrayContaining(['finality_violation', 'nonce_taken']));
    expect((await balance(user, 'ETH'))?.held).toBe('0');
    expect((await checkLedger(stack.services)).violations).toEqual([]);
  });

  it('fills the nonce of a failed payout with a cancel when a reorg beyond finality took its tx away, and the lane goes on', async () => {
    const user = await fund('USDT', '100');
    const to = newAddress();
    await setFailSilently({ rpcUrl: stack.rpcUrl, deployerPrivateKey: await loadDeployerKey(stack.dataDir, TEST_KEYSTORE_PASSWORD), token, account: to, on: true });
    const id = await withdraw(user, 'USDT', to, '25');
    expect(await waitStatus(id, TERMINAL)).toMatchObject({ status: 'FAILED', failureCode: 'transfer_not_executed' });
    const row = await k().selectFrom('withdrawals').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    await chain.pauseMining();
    try {
      const head = await chain.client.getBlockNumber();
      await chain.reorg(Number(head - BigInt(row.block_number!) + 1n)); // beyond finality: the failed tx is gone, its nonce free
      await chain.mine(1);
      // In flight again, its hold taken back (its bytes could still be mined, and might pay).
      await waitFor('the failed withdrawal to be reopened', async () => ((await get(id)).status === 'BROADCAST' ? true : undefined));
      expect(await balance(user, 'USDT')).toEqual({ asset: 'USDT', available: '74', held: '26' });
    } finally {
      await chain.resumeMining(1);
    }
    const done = await waitStatus(id, TERMINAL);
    expect(done.status).toBe('CANCELLED');
    expect((await attemptsOf(id)).find((a) => a.tx_hash === done.txHash)!.kind).toBe('cancel');
    expect(await paid('USDT', to)).toBe(0n);
    expect(await balance(user, 'USDT')).toEqual({ asset: 'USDT', available: '100', held: '0' });
    const codes = (await stack.services.withdrawals.events(id)).map((e) => e.code);
    expect(codes).toContain('finality_violation');
    const next = await withdraw(user, 'USDT', newAddress(), '10'); // the lane goes on
    expect((await waitStatus(next, TERMINAL)).status).toBe('COMPLETED');
    expect((await checkLedger(stack.services)).violations).toEqual([]);
  });

  it('fills the nonce of a transaction the node refuses for good with a cancel, and the lane goes on', async () => {
    const user = await fund('USDT', '100');
    const to = newAddress();
    const network = (await stack.services.assets.find('USDT', stack.chainId))!;
    // Above the block gas limit: no node will ever take these bytes.
    await stack.services.assets.upsertNetwork({ ...network, gasLimit: 40_000_000 });
    let id: string;
    try {
      id = await withdraw(user, 'USDT', to, '30');
      await waitStatus(id, ['SIGNED', 'BROADCAST', ...TERMINAL]);
    } finally {
      await stack.services.assets.upsertNetwork(network);
    }
    const next = await withdraw(user, 'USDT', newAddress(), '10');
    const [done, nextDone] = await Promise.all([waitStatus(id, TERMINAL), waitStatus(next, TERMINAL)]);
    expect(done.status).toBe('CANCELLED');
    expect(nextDone.status).toBe('COMPLETED');
    const attempts = await attemptsOf(id);
    const mined = attempts.find((a) => a.tx_hash === done.txHash)!;
    expect(mined.kind).toBe('cancel');
    const tx = await chain.client.getTransaction({ hash: mined.tx_hash as Hash });
    expect({ to: tx.to?.toLowerCase(), value: tx.value }).toEqual({ to: hotWallet.toLowerCase(), value: 0n });
    expect(await paid('USDT', to)).toBe(0n);
    expect(await balance(user, 'USDT')).toEqual({ asset: 'USDT', available: '89', held: '0' }); // 100 - (10 + 1 fee); the cancelled 31 released
    const letter = (await stack.services.deadLetters.list({ queue: 'tx' })).find((l) => l.withdrawal_id === id);
    expect(letter).toMatchObject({ status: 'open' });
    const lanes = await lanesInStep();
    expect(lanes.db).toBe(lanes.latest);
    expect((await checkLedger(stack.services)).violations).toEqual([]);
  });
});
