import { randomUUID } from 'node:crypto';
import { type Address, createPublicClient, erc20Abi, getAddress, http, parseEther, parseUnits } from 'viem';
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { setBlocked } from '../../src/chain/devnet.js';
import { loadDeployerKey } from '../../src/dev/demo-assets.js';
import { checkLedger } from '../support/ledger-check.js';
import { type Stack, startStack, TEST_KEYSTORE_PASSWORD, waitFor } from '../support/stack.js';

const dbKind = inject('db');
const TERMINAL = ['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'];

describe(`core pipeline on ${dbKind}`, () => {
  let stack: Stack;
  let client: ReturnType<typeof createPublicClient>;
  let token: Address;
  let hotWallet: Address;

  beforeAll(async () => {
    stack = await startStack(dbKind);
    client = createPublicClient({ transport: http(stack.rpcUrl) });
    token = (await stack.services.assets.find('USDT', stack.chainId))!.contract!;
    hotWallet = (await stack.services.wallets.forChain(stack.chainId))[0]!.address as Address;
  });
  afterAll(async () => {
    await stack?.teardown();
  });

  const newUser = () => `user-${randomUUID().slice(0, 8)}`;
  const newAddress = () => privateKeyToAccount(generatePrivateKey()).address;
  const credit = (userId: string, asset: string, amount: string) =>
    stack.request('POST', '/v1/ledger/credits', { body: { userId, asset, amount, reference: randomUUID() } });
  const withdraw = (body: Record<string, unknown>, key: string = randomUUID()) =>
    stack.request('POST', '/v1/withdrawals', { body, headers: { 'idempotency-key': key } });
  const getWithdrawal = async (id: string) => (await stack.request('GET', `/v1/withdrawals/${id}`)).body;
  const waitTerminal = (id: string) =>
    waitFor(`withdrawal ${id} to finish`, async () => {
      const w = await getWithdrawal(id);
      return TERMINAL.includes(w.status) ? w : undefined;
    }, 90_000);
  const balance = async (userId: string, asset: string) => {
    const res = await stack.request('GET', `/v1/users/${userId}/balances`);
    return (res.body as Array<{ asset: string; available: string; held: string }>).find((b) => b.asset === asset) ?? { asset, available: '0', held: '0' };
  };
  const rowCounts = async () => {
    const k = stack.services.db.kysely;
    const [w] = await k.selectFrom('withdrawals').select((eb) => eb.fn.countAll<number>().as('n')).execute();
    const [e] = await k.selectFrom('withdrawal_events').select((eb) => eb.fn.countAll<number>().as('n')).execute();
    return { withdrawals: Number(w!.n), events: Number(e!.n) };
  };

  it('pays an ETH and a USDT withdrawal exactly once, to the right address and amount', async () => {
    const user = newUser();
    expect((await credit(user, 'ETH', '3')).status).toBe(201);
    expect((await credit(user, 'USDT', '500')).status).toBe(201);
    const ethTo = newAddress();
    const usdtTo = newAddress();
    const nonceBefore = await client.getTransactionCount({ address: hotWallet });

    const eth = await withdraw({ userId: user, asset: 'ETH', chainId: stack.chainId, toAddress: ethTo, amount: '1.25' });
    const usdt = await withdraw({ userId: user, asset: 'USDT', chainId: stack.chainId, toAddress: usdtTo, amount: '100.5' });
    expect(eth.status).toBe(202);
    expect(eth.body).toMatchObject({ status: 'RECEIVED', amount: '1.25', fee: '0.0001', asset: 'ETH', toAddress: ethTo });
    expect(usdt.status).toBe(202);

    const [ethDone, usdtDone] = await Promise.all([waitTerminal(eth.body.id), waitTerminal(usdt.body.id)]);
    expect(ethDone.status).toBe('COMPLETED');
    expect(usdtDone.status).toBe('COMPLETED');
    expect(ethDone.confirmations).toBeGreaterThanOrEqual(2);

    // On chain: exactly the asked amounts arrived, sent by the hot wallet, in exactly two txs.
    expect(await client.getBalance({ address: ethTo })).toBe(parseEther('1.25'));
    expect(await client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [usdtTo] })).toBe(parseUnits('100.5', 6));
    expect(await client.getTransactionCount({ address: hotWallet })).toBe(nonceBefore + 2);
    const tx = await client.getTransaction({ hash: ethDone.txHash });
    expect(getAddress(tx.from)).toBe(hotWallet);
    expect(tx.value).toBe(parseEther('1.25'));

    // Ledger: amount + fee left the user's balance, nothing is held any more.
    expect(await balance(user, 'ETH')).toEqual({ asset: 'ETH', available: '1.7499', held: '0' });
    expect(await balance(user, 'USDT')).toEqual({ asset: 'USDT', available: '398.5', held: '0' });
    const events = await stack.services.withdrawals.events(eth.body.id);
    expect(events.map((e) => e.to_status)).toEqual(['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING', 'COMPLETED']);
    expect((await checkLedger(stack.services)).violations).toEqual([]);
  });

  it('answers 20 concurrent POSTs with one Idempotency-Key with one withdrawal and identical bodies', async () => {
    const user = newUser();
    await credit(user, 'ETH', '1');
    const key = `idem-${randomUUID()}`;
    const body = { userId: user, asset: 'ETH', chainId: stack.chainId, toAddress: newAddress(), amount: '0.1' };
    const responses = await Promise.all(Array.from({ length: 20 }, () => withdraw(body, key)));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(202));
    expect(new Set(responses.map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(responses.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(19);
    expect([...new Set(responses.map((r) => r.headers.get('content-type')))]).toEqual(['application/json; charset=utf-8']);
    const rows = await stack.services.db.kysely.selectFrom('withdrawals').select('id').where('idempotency_key', '=', key).execute();
    expect(rows).toHaveLength(1);

    const done = await waitTerminal(rows[0]!.id);
    expect(done.status).toBe('COMPLETED');
    expect(await client.getBalance({ address: body.toAddress as Address })).toBe(parseEther('0.1'));

    // A replay after completion still returns the first answer.
    const later = await withdraw(body, key);
    expect(later.status).toBe(202);
    expect(later.body).toEqual(responses[0]!.body);

    const other = await withdraw({ ...body, amount: '0.2' }, key);
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('idempotency_key_reused');
    expect(other.headers.get('content-type')).toContain('application/problem+json');
  });

  describe('bad input gets a 4xx and stores nothing', () => {
    const valid = () => ({ userId: 'bad-input-user', asset: 'ETH', chainId: stack.chainId, toAddress: '0x000000000000000000000000000000000000dEaD', amount: '0.5' });
    const cases: Array<[string, () => Parameters<Stack['request']>[2], number, string]> = [
      ['malformed JSON', () => ({ raw: '{"userId": "x",', headers: { 'content-type': 'application/json', 'idempotency-key': 'k' } }), 400, 'malformed_json'],
      ['an empty body', () => ({ raw: '', headers: { 'content-type': 'application/json', 'idempotency-key': 'k' } }), 400, 'malformed_json'],
      ['an unknown field', () => ({ body: { ...valid(), memo: 'hi' } }), 400, 'unknown_field'],
      ['a missing field', () => ({ body: { ...valid(), amount: undefined } }), 400, 'invalid_request'],
      ['a JSON number amount', () => ({ body: { ...valid(), amount: 0.5 } }), 400, 'invalid_request'],
      ['a non-hex address', () => ({ body: { ...valid(), toAddress: '0xnothex' } }), 400, 'invalid_address'],
      ['a short address', () => ({ body: { ...valid(), toAddress: '0x1234' } }), 400, 'invalid_address'],
      ['a bad mixed-case checksum', () => ({ body: { ...valid(), toAddress: '0x000000000000000000000000000000000000DeaD' } }), 400, 'invalid_address_checksum'],
      ['the zero address', () => ({ body: { ...valid(), toAddress: '0x0000000000000000000000000000000000000000' } }), 400, 'zero_address'],
      ['a precompile address', () => ({ body: { ...valid(), toAddress: '0x0000000000000000000000000000000000000001' } }), 400, 'reserved_address'],
      ['the last reserved system address', () => ({ body: { ...valid(), toAddress: '0x00000000000000000000000000000000000000ff' } }), 400, 'reserved_address'],
      ['a zero amount', () => ({ body: { ...valid(), amount: '0' } }), 400, 'invalid_amount'],
      ['a negative amount', () => ({ body: { ...valid(), amount: '-1' } }), 400, 'invalid_amount'],
      ['an exponent amount', () => ({ body: { ...valid(), amount: '1e3' } }), 400, 'invalid_amount'],
      ['an amount too large to store', () => ({ body: { ...valid(), amount: `1${'0'.repeat(70)}` } }), 400, 'amount_too_large'],
      ['more decimals than the network allows', () => ({ body: { ...valid(), asset: 'USDT', amount: '1.0000001' } }), 400, 'too_many_decimals'],
      ['an unknown asset', () => ({ body: { ...valid(), asset: 'DOGE' } }), 422, 'unknown_asset'],
      ['an unknown chain', () => ({ body: { ...valid(), chainId: 999999 } }), 422, 'unsupported_network'],
      ['an amount under the minimum', () => ({ body: { ...valid(), amount: '0.0000001' } }), 422, 'amount_below_minimum'],
      ['an amount over the maximum', () => ({ body: { ...valid(), amount: '1000.1' } }), 422, 'amount_above_maximum'],
      ['an oversized body', () => ({ body: { ...valid(), userId: 'x'.repeat(20_000) } }), 413, 'payload_too_large'],
      ['no Idempotency-Key', () => ({ body: valid(), headers: { 'idempotency-key': '' } }), 400, 'missing_idempotency_key'],
      ['a non-JSON content type', () => ({ raw: 'amount=1', headers: { 'content-type': 'text/plain', 'idempotency-key': 'k' } }), 415, 'unsupported_media_type'],
      ['no API key', () => ({ body: valid(), headers: { authorization: '' } }), 401, 'unauthorized'],
      ['an unknown API key', () => ({ body: valid(), headers: { authorization: 'Bearer sk_nope' } }), 401, 'unauthorized'],
    ];

    it.each(cases)('%s', async (_name, make, status, code) => {
      const before = await rowCounts();
      const options = make();
      const headers: Record<string, string> = { 'idempotency-key': randomUUID(), ...options?.headers };
      if (headers['idempotency-key'] === '') delete headers['idempotency-key'];
      const res = await stack.request('POST', '/v1/withdrawals', { ...options, headers });
      expect(res.status).toBe(status);
      expect(res.body.code).toBe(code);
      expect(res.body).toMatchObject({ status, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
      expect(await rowCounts()).toEqual(before);
    });

    it('refuses a key without the scope with 403', async () => {
      const { key } = await stack.services.apiKeys.create({ name: 'reader', scopes: ['withdrawals:read'] });
      const before = await rowCounts();
      const res = await stack.request('POST', '/v1/withdrawals', { body: valid(), headers: { authorization: `Bearer ${key}`, 'idempotency-key': randomUUID() } });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('forbidden');
      expect(await rowCounts()).toEqual(before);
      expect((await stack.request('GET', '/v1/assets', { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    });
  });

  it('rejects a withdrawal the balance cannot cover, dead-letters it, and leaves the balance alone', async () => {
    const user = newUser();
    await credit(user, 'USDT', '10');
    const res = await withdraw({ userId: user, asset: 'USDT', chainId: stack.chainId, toAddress: newAddress(), amount: '9.5' }); // + 1 fee > 10
    expect(res.status).toBe(202);
    const done = await waitTerminal(res.body.id);
    expect(done).toMatchObject({ status: 'REJECTED', failureCode: 'insufficient_balance', txHash: null });
    expect(await balance(user, 'USDT')).toEqual({ asset: 'USDT', available: '10', held: '0' });
    const letters = await stack.services.deadLetters.list({ queue: 'invalid' });
    expect(letters.find((l) => l.withdrawal_id === res.body.id)).toMatchObject({ code: 'insufficient_balance', status: 'open', attempts: 1 });
    const attempts = await stack.services.db.kysely.selectFrom('tx_attempts').selectAll().where('withdrawal_id', '=', res.body.id).execute();
    expect(attempts).toHaveLength(0);
  });

  it('completes exactly 120 of 200 concurrent withdrawals when the balance covers 120', async () => {
    const user = newUser();
    const to = newAddress();
    await credit(user, 'ETH', '1.212'); // 120 x (0.01 + 0.0001 fee)
    const nonceBefore = await client.getTransactionCount({ address: hotWallet });
    let sawNegative = false;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const b = await balance(user, 'ETH');
        if (b.available.startsWith('-') || b.held.startsWith('-')) sawNegative = true;
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    const responses = await Promise.all(
      Array.from({ length: 200 }, () => withdraw({ userId: user, asset: 'ETH', chainId: stack.chainId, toAddress: to, amount: '0.01' })),
    );
    expect(responses.every((r) => r.status === 202)).toBe(true);
    const finals = await Promise.all(responses.map((r) => waitTerminal(r.body.id)));
    polling = false;
    await poller;

    const count = (s: string) => finals.filter((f) => f.status === s).length;
    expect(count('COMPLETED')).toBe(120);
    expect(count('REJECTED')).toBe(80);
    expect(finals.filter((f) => f.status === 'REJECTED').every((f) => f.failureCode === 'insufficient_balance')).toBe(true);
    expect(sawNegative).toBe(false);
    expect(await balance(user, 'ETH')).toEqual({ asset: 'ETH', available: '0', held: '0' });
    expect(await client.getBalance({ address: to })).toBe(parseEther('1.2'));
    expect(await client.getTransactionCount({ address: hotWallet })).toBe(nonceBefore + 120);

    // One nonce per withdrawal, no gaps.
    const nonces = (await stack.services.db.kysely.selectFrom('withdrawals').select('nonce').where('user_id', '=', user).where('status', '=', 'COMPLETED').execute())
      .map((r) => Number(r.nonce))
      .sort((a, b) => a - b);
    expect(nonces).toEqual(Array.from({ length: 120 }, (_, i) => nonces[0]! + i));
    expect((await checkLedger(stack.services)).violations).toEqual([]);
  });

  it('fails a withdrawal whose transfer reverts on chain and releases the hold', async () => {
    const user = newUser();
    const blocked = newAddress();
    await credit(user, 'USDT', '50');
    await setBlocked({ rpcUrl: stack.rpcUrl, deployerPrivateKey: await loadDeployerKey(stack.dataDir, TEST_KEYSTORE_PASSWORD), token, account: blocked, blocked: true });
    const res = await withdraw({ userId: user, asset: 'USDT', chainId: stack.chainId, toAddress: blocked, amount: '20' });
    const done = await waitTerminal(res.body.id);
    expect(done).toMatchObject({ status: 'FAILED', failureCode: 'reverted' });
    const receipt = await client.getTransactionReceipt({ hash: done.txHash });
    expect(receipt.status).toBe('reverted');
    expect(await balance(user, 'USDT')).toEqual({ asset: 'USDT', available: '50', held: '0' });
    expect((await checkLedger(stack.services)).violations).toEqual([]);
  });

  it('keeps ledger credits idempotent by reference and never lets a debit go negative', async () => {
    const user = newUser();
    const reference = `dep-${randomUUID()}`;
    const first = await stack.request('POST', '/v1/ledger/credits', { body: { userId: user, asset: 'USDT', amount: '7', reference } });
    const again = await stack.request('POST', '/v1/ledger/credits', { body: { userId: user, asset: 'USDT', amount: '7', reference } });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.journalId).toBe(first.body.journalId);
    const conflict = await stack.request('POST', '/v1/ledger/credits', { body: { userId: user, asset: 'USDT', amount: '8', reference } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe('reference_conflict');
    const overdraw = await stack.request('POST', '/v1/ledger/debits', { body: { userId: user, asset: 'USDT', amount: '7.000001', reference: randomUUID() } });
    expect(overdraw.status).toBe(409);
    expect(overdraw.body.code).toBe('insufficient_balance');
    const debit = await stack.request('POST', '/v1/ledger/debits', { body: { userId: user, asset: 'USDT', amount: '2', reference: randomUUID() } });
    expect(debit.status).toBe(201);
    expect(await balance(user, 'USDT')).toEqual({ asset: 'USDT', available: '5', held: '0' });
    const unknown = await stack.request('POST', '/v1/ledger/credits', { body: { userId: user, asset: 'DOGE', amount: '1', reference: randomUUID() } });
    expect(unknown.status).toBe(422);
  });

  it('lists withdrawals newest first with a working cursor', async () => {
    const user = newUser();
    await credit(user, 'ETH', '1');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await withdraw({ userId: user, asset: 'ETH', chainId: stack.chainId, toAddress: newAddress(), amount: '0.01' })).body.id);
    const page1 = await stack.request('GET', `/v1/withdrawals?userId=${user}&limit=3`);
    expect(page1.body.items.map((w: { id: string }) => w.id)).toEqual(ids.slice(2).reverse());
    const page2 = await stack.request('GET', `/v1/withdrawals?userId=${user}&limit=3&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items.map((w: { id: string }) => w.id)).toEqual(ids.slice(0, 2).reverse());
    expect(page2.body.nextCursor).toBeNull();
    expect((await stack.request('GET', '/v1/withdrawals?limit=0')).status).toBe(400);
    expect((await stack.request('GET', '/v1/withdrawals/wd_nope')).body.code).toBe('withdrawal_not_found');
  });

  it('refuses ledger amounts too large to store with 400 and stores nothing', async () => {
    const user = newUser();
    const k = stack.services.db.kysely;
    const stored = async () => ({
      balances: (await k.selectFrom('balances').select('asset').where('user_id', '=', user).execute()).length,
      entries: (await k.selectFrom('ledger_entries').select('journal_id').where('user_id', '=', user).execute()).length,
      references: (await k.selectFrom('ledger_references').select('reference').where('user_id', '=', user).execute()).length,
    });
    const huge = `1${'0'.repeat(70)}`; // 10^88 wei: past DECIMAL(65,0)
    for (const kind of ['credits', 'debits']) {
      const res = await stack.request('POST', `/v1/ledger/${kind}`, { body: { userId: user, asset: 'ETH', amount: huge, reference: randomUUID() } });
      expect(res.status, kind).toBe(400);
      expect(res.body).toMatchObject({ status: 400, code: 'amount_too_large' });
    }
    // 10^42 ETH is 10^60 wei, one past the limit; one wei less is accepted.
    const over = await stack.request('POST', '/v1/ledger/credits', { body: { userId: user, asset: 'ETH', amount: `1${'0'.repeat(42)}`, reference: randomUUID() } });
    expect(over.body.code).toBe('amount_too_large');
    expect(await stored()).toEqual({ balances: 0, entries: 0, references: 0 });
    const max = `${'9'.repeat(42)}.${'9'.repeat(18)}`;
    const ok = await stack.request('POST', '/v1/ledger/credits', { body: { userId: user, asset: 'ETH', amount: max, reference: randomUUID() } });
    expect(ok.status).toBe(201);
    expect(ok.body.balance).toMatchObject({ available: max, held: '0' });
    expect(await stored()).toEqual({ balances: 1, entries: 1, references: 1 });
  });

  it('refuses a credit that would take a balance past what the database stores, and keeps the balance', async () => {
    const user = newUser();
    const k = stack.services.db.kysely;
    expect((await credit(user, 'USDT', '1')).status).toBe(201); // 10^6 base units
    const columnMax = 10n ** 65n - 1n; // DECIMAL(65,0)
    const setAvailable = (v: bigint) => k.updateTable('balances').set({ available: v.toString() }).where('user_id', '=', user).where('asset', '=', 'USDT').execute();
    try {
      await setAvailable(columnMax - 1n);
      // Up to the column's maximum is fine: the database stores it.
      const toMax = await stack.request('POST', '/v1/ledger/credits', { body: { userId: user, asset: 'USDT', amount: '0.000001', reference: randomUUID() } });
      expect(toMax.status).toBe(201);
      const row = await k.selectFrom('balances').select('available').where('user_id', '=', user).where('asset', '=', 'USDT').executeTakeFirstOrThrow();
      expect(BigInt(row.available)).toBe(columnMax);
      // One base unit more is refused with a 4xx, and nothing changes.
      const reference = randomUUID();
      const past = await stack.request('POST', '/v1/ledger/credits', { body: { userId: user, asset: 'USDT', amount: '0.000001', reference } });
      expect(past.status).toBe(409);
      expect(past.body.code).toBe('balance_limit_exceeded');
      const after = await k.selectFrom('balances').select(['available', 'held']).where('user_id', '=', user).where('asset', '=', 'USDT').executeTakeFirstOrThrow();
      expect(BigInt(after.available)).toBe(columnMax);
      expect(BigInt(after.held)).toBe(0n);
      expect(await k.selectFrom('ledger_references').select('reference').where('reference', '=', reference).execute()).toEqual([]);
      // Debits still work from there.
      expect((await stack.request('POST', '/v1/ledger/debits', { body: { userId: user, asset: 'USDT', amount: '1', reference: randomUUID() } })).status).toBe(201);
    } finally {
      // Back to what the journal says (1 USDT + 1 base unit - 1 USDT), so the conservation check holds.
      await setAvailable(1n);
    }
    expect((await checkLedger(stack.services)).violations).toEqual([]);
  });

  it('serves assets, health, readiness, metrics and the OpenAPI docs', async () => {
    const assets = await stack.request('GET', '/v1/assets');
    expect(assets.body.map((a: { asset: string }) => a.asset).sort()).toEqual(['ETH', 'USDT']);
    const usdt = assets.body.find((a: { asset: string }) => a.asset === 'USDT');
    expect(usdt.networks[0]).toMatchObject({ chainId: stack.chainId, kind: 'erc20', decimals: 6, contract: token, withdrawalFee: '1' });
    expect((await stack.request('GET', '/healthz')).status).toBe(200);
    expect((await stack.request('GET', '/readyz')).body).toMatchObject({ status: 'ready' });
    const metrics = await stack.request('GET', '/metrics');
    expect(metrics.body).toContain('sluice_withdrawals_created_total');
    expect(metrics.body).toContain('sluice_withdrawal_transitions_total{from="CONFIRMING",to="COMPLETED"}');
    const spec = await stack.request('GET', '/docs/json');
    expect(Object.keys(spec.body.paths)).toEqual(expect.arrayContaining(['/v1/withdrawals', '/v1/withdrawals/{id}', '/v1/ledger/credits', '/v1/assets']));
  });
});
