import { randomUUID } from 'node:crypto';
import { type Address, formatEther } from 'viem';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ChainControl, chainControl } from '../support/chain-control.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';

const dbKind = inject('db');
const REVERTING_RECIPIENT = '0x00000000000000000000000000000000000bad03' as Address;

/** The value of one series in Prometheus text format, or undefined when no line has all the labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/**
 * The metrics the SLA alerts and dashboards read, as /metrics of a running pipeline reports them
 * (the pipeline-state part comes from the database, so this runs on both SQLite and MariaDB).
 */
describe(`pipeline metrics on ${dbKind}`, () => {
  let stack: Stack;
  let chain: ChainControl;
  let wallet: Address;

  beforeAll(async () => {
    stack = await startStack(dbKind, { devnetConfirmations: 1 });
    chain = chainControl(stack.rpcUrl);
    await chain.setCode(REVERTING_RECIPIENT, '0x60006000fd');
    wallet = (await stack.services.db.kysely.selectFrom('wallets').select('address').executeTakeFirstOrThrow()).address as Address;
  });
  afterAll(async () => {
    await chain?.resumeMining(1).catch(() => {});
    await stack?.teardown();
  });

  const scrape = async () => {
    const res = await stack.request('GET', '/metrics');
    expect(res.status).toBe(200);
    return res.body as string;
  };
  async function withdraw(userId: string, to: Address, amount: string): Promise<string> {
    const res = await stack.request('POST', '/v1/withdrawals', {
      body: { userId, asset: 'ETH', chainId: stack.chainId, toAddress: to, amount },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(res.status).toBe(202);
    return res.body.id as string;
  }
  const status = async (id: string) => (await stack.request('GET', `/v1/withdrawals/${id}`)).body.status as string;
  const labels = () => ({ chain_id: String(stack.chainId) });

  it('reports the pipeline: in flight and oldest age, wallet pending and nonces, then terminal counts and SLA histograms', async () => {
    const first = await scrape(); // counting of status changes starts here
    expect(sample(first, 'sluice_dead_letters_open', { queue: 'invalid', code: 'none' })).toBe(0);
    expect(sample(first, 'sluice_dependency_up', { dependency: 'database' })).toBe(1);
    expect(sample(first, 'sluice_paused', { scope: 'global' })).toBe(0);
    expect(sample(first, 'sluice_hot_wallet_nonce_drift', { ...labels(), wallet })).toBe(0);
    const onChain = Number(formatEther(await chain.client.getBalance({ address: wallet })));
    expect(sample(first, 'sluice_hot_wallet_balance', { ...labels(), wallet, asset: 'ETH' })).toBeCloseTo(onChain, 9);

    await stack.request('POST', '/v1/ledger/credits', { body: { userId: 'erin', asset: 'ETH', amount: '5', reference: randomUUID() } });
    await chain.pauseMining();
    const ids = [await withdraw('erin', '0x000000000000000000000000000000000000dEaD', '0.3'), await withdraw('erin', '0x000000000000000000000000000000000000bEEF', '0.2')];
    await waitFor('both broadcast', async () => ((await Promise.all(ids.map(status))).every((s) => s === 'BROADCAST') ? true : undefined), 30_000, 100);

    const pending = await scrape();
    expect(sample(pending, 'sluice_withdrawals_in_flight', { ...labels(), status: 'BROADCAST' })).toBe(2);
    expect(sample(pending, 'sluice_withdrawal_oldest_age_seconds', { ...labels(), status: 'BROADCAST' })).toBeGreaterThan(0);
    expect(sample(pending, 'sluice_hot_wallet_pending_txs', { ...labels(), wallet })).toBe(2);
    // The node holds both txs: the database's next nonce equals the chain's pending nonce, and the lowest unmined nonce is the one the chain waits for.
    expect(sample(pending, 'sluice_hot_wallet_nonce_drift', { ...labels(), wallet })).toBe(0);
    expect(sample(pending, 'sluice_hot_wallet_nonce_gap', { ...labels(), wallet })).toBe(0);

    await chain.resumeMining(1);
    await waitFor('both completed', async () => ((await Promise.all(ids.map(status))).every((s) => s === 'COMPLETED') ? true : undefined), 30_000, 100);
    const done = await scrape();
    expect(sample(done, 'sluice_withdrawals_in_flight', { ...labels(), status: 'BROADCAST' })).toBe(0);
    expect(sample(done, 'sluice_withdrawal_oldest_age_seconds', { ...labels(), status: 'BROADCAST' })).toBe(0);
    expect(sample(done, 'sluice_withdrawals_terminal_total', { ...labels(), status: 'COMPLETED', asset: 'ETH' })).toBe(2);
    for (const s of ['SIGNED', 'BROADCAST', 'COMPLETED']) expect(sample(done, 'sluice_withdrawal_time_to_status_seconds_count', { ...labels(), status: s }), s).toBe(2);
    // Mined while paused for a while: time to COMPLETED is at least time to BROADCAST.
    expect(sample(done, 'sluice_withdrawal_time_to_status_seconds_sum', { ...labels(), status: 'COMPLETED' })!).toBeGreaterThanOrEqual(
      sample(done, 'sluice_withdrawal_time_to_status_seconds_sum', { ...labels(), status: 'BROADCAST' })!,
    );
    for (const stage of ['received_to_signed', 'signed_to_broadcast']) expect(sample(done, 'sluice_withdrawal_stage_duration_seconds_count', { ...labels(), stage }), stage).toBe(2);
    expect(sample(done, 'sluice_hot_wallet_pending_txs', { ...labels(), wallet })).toBe(0);
    // Each hot path's batched write transactions are timed and their items counted (a commit that
    // stalls holds every caller of its batch: alert SluiceDatabaseWritesSlow).
    for (const batch of ['intake', 'reserve', 'accept', 'move']) {
      const count = sample(done, 'sluice_db_batch_seconds_count', { batch });
      expect(count, batch).toBeGreaterThanOrEqual(1);
      expect(sample(done, 'sluice_db_batch_rows_total', { batch }), batch).toBeGreaterThanOrEqual(count!);
      expect(sample(done, 'sluice_db_batch_seconds_sum', { batch }), batch).toBeGreaterThan(0);
    }
    expect(sample(done, 'sluice_db_batch_rows_total', { batch: 'intake' })! - (sample(first, 'sluice_db_batch_rows_total', { batch: 'intake' }) ?? 0)).toBe(2);
  });

  it('counts an open dead letter by queue and reason until an operator resolves it', async () => {
    await stack.request('POST', '/v1/ledger/credits', { body: { userId: 'frank', asset: 'ETH', amount: '1', reference: randomUUID() } });
    const id = await withdraw('frank', REVERTING_RECIPIENT, '0.1');
    await waitFor('rejected', async () => ((await status(id)) === 'REJECTED' ? true : undefined), 30_000, 100);
    const open = await scrape();
    expect(sample(open, 'sluice_dead_letters_open', { queue: 'invalid', code: 'recipient_rejects_payment' })).toBe(1);
    expect(sample(open, 'sluice_withdrawals_terminal_total', { ...labels(), status: 'REJECTED', asset: 'ETH' })).toBe(1);
    expect(sample(open, 'sluice_dead_letters_total', { queue: 'invalid', code: 'recipient_rejects_payment' })).toBe(1);

    const letters = await stack.request('GET', '/admin/api/dead-letters?status=open');
    const letter = (letters.body.items as Array<{ id: number; withdrawalId: string }>).find((l) => l.withdrawalId === id)!;
    expect((await stack.request('POST', `/admin/api/dead-letters/${letter.id}/discard`, { body: { reason: 'metrics test' } })).status).toBe(200);
    expect(sample(await scrape(), 'sluice_dead_letters_open', { queue: 'invalid', code: 'recipient_rejects_payment' })).toBe(0);
  });
});
