import { type Address, erc20Abi, formatUnits } from 'viem';
import type { AssetRegistry } from '../assets/registry.js';
import type { ChainRpc } from '../chain/rpc.js';
import type { Db } from '../db/connect.js';
import type { WithdrawalStatus } from '../db/schema.js';
import { withDeadline } from '../util/deadline.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

const IN_FLIGHT: WithdrawalStatus[] = ['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING'];
const TERMINAL = new Set<string>(['COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED']);
/** The happy path; a stage is the time between two consecutive statuses of it. */
const PATH: WithdrawalStatus[] = ['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING', 'COMPLETED'];
const EVENT_BATCH = 1_000;

/** Something that knows what is paused (the operator console's settings); absent = nothing is. */
export type PausedSource = () => Promise<Array<{ scope: string; since: number }>>;

export type StateMetricsDeps = {
  db: Db;
  metrics: Metrics;
  logger: Logger;
  chains: Map<number, ChainRpc>;
  assets: AssetRegistry;
  paused?: PausedSource;
  /** Per RPC call of the wallet reads; a slow node must not hang the scrape. */
  chainTimeoutMs?: number;
};

/**
 * The pipeline's state as gauges, read from the database (and the chain, for wallets) when
 * Prometheus scrapes: in-flight counts and oldest ages (the SLA), open dead letters, hot-wallet
 * balances, pending counts and nonce drift, paused scopes. Status changes since the last scrape
 * are read from withdrawal_events (by id watermark) and feed the terminal counter and the stage
 * histograms, so every role's transitions are measured in one place without touching their code.
 *
 * Run it in ONE process per deployment (the tracker role; dev mode), or the counters count twice.
 * A part that fails to read keeps its last values and counts sluice_state_collect_errors_total.
 */
export function createStateMetrics(deps: StateMetricsDeps) {
  const { db, metrics } = deps;
  const k = db.kysely;
  let watermark: number | undefined;
  const seenStatuses = new Set<string>();
  const seenLetters = new Set<string>();

  async function part(name: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      metrics.stateCollectErrors.inc({ part: name });
      deps.logger.warn({ err, part: name }, 'metrics: could not read pipeline state');
    }
  }

  async function inFlight(): Promise<void> {
    const rows = await k
      .selectFrom('withdrawals')
      .select((eb) => ['status', 'chain_id', eb.fn.countAll<number>().as('n'), eb.fn.min<number>('created_at').as('oldest')])
      .where('status', 'in', IN_FLIGHT)
      .groupBy(['status', 'chain_id'])
      .execute();
    const now = Date.now();
    const current = new Set<string>();
    for (const r of rows) {
      const labels = { status: r.status, chain_id: String(r.chain_id) };
      current.add(JSON.stringify(labels));
      metrics.withdrawalsInFlight.set(labels, Number(r.n));
      metrics.withdrawalOldestAge.set(labels, Math.max(0, (now - Number(r.oldest)) / 1000));
    }
    // A status that emptied reads 0 (not its last value), so "oldest age" alerts resolve.
    for (const key of seenStatuses) {
      if (current.has(key)) continue;
      const labels = JSON.parse(key) as { status: string; chain_id: string };
      metrics.withdrawalsInFlight.set(labels, 0);
      metrics.withdrawalOldestAge.set(labels, 0);
    }
    for (const key of current) seenStatuses.add(key);
  }

  async function deadLetters(): Promise<void> {
    const rows = await k
      .selectFrom('dead_letters')
      .select((eb) => ['queue', 'code', eb.fn.countAll<number>().as('n')])
      .where('status', '=', 'open')
      .groupBy(['queue', 'code'])
      .execute();
    const current = new Set<string>();
    for (const r of rows) {
      current.add(`${r.queue}\u0000${r.code}`);
      metrics.deadLettersOpen.set({ queue: r.queue, code: r.code }, Number(r.n));
    }
    for (const key of seenLetters) {
      if (current.has(key)) continue;
      const [queue, code] = key.split('\u0000') as [string, string];
      metrics.deadLettersOpen.set({ queue, code }, 0);
    }
    for (const key of current) seenLetters.add(key);
    // Both queues always have a series, so "no dead letter" is a 0 and not an absent metric.
    for (const queue of ['invalid', 'tx']) if (![...current].some((c) => c.startsWith(`${queue}\u0000`))) metrics.deadLettersOpen.set({ queue, code: 'none' }, 0);
  }

  async function transitions(): Promise<void> {
    if (watermark === undefined) {
      // Counting starts now: history is not replayed into a fresh process's counters.
      const top = await k.selectFrom('withdrawal_events').select((eb) => eb.fn.max<number>('id').as('id')).executeTakeFirst();
      watermark = Number(top?.id ?? 0);
      return;
    }
    for (let round = 0; round < 5; round++) {
      const events = await k
        .selectFrom('withdrawal_events as e')
        .innerJoin('withdrawals as w', 'w.id', 'e.withdrawal_id')
        .select(['e.id', 'e.withdrawal_id', 'e.from_status', 'e.to_status', 'e.created_at', 'w.asset', 'w.chain_id', 'w.created_at as accepted_at'])
        .where('e.id', '>', watermark)
        .orderBy('e.id')
        .limit(EVENT_BATCH)
        .execute();
      if (events.length === 0) return;
      const ids = [...new Set(events.map((e) => e.withdrawal_id))];
      const history = await k
        .selectFrom('withdrawal_events')
        .select(['id', 'withdrawal_id', 'to_status', 'created_at'])
        .where('withdrawal_id', 'in', ids)
        .where('to_status', 'in', PATH)
        .execute();
      for (const e of events) {
        const chainId = String(e.chain_id);
        const at = Number(e.created_at);
        if (TERMINAL.has(e.to_status)) metrics.withdrawalsTerminal.inc({ status: e.to_status, asset: e.asset, chain_id: chainId });
        const step = PATH.indexOf(e.to_status as WithdrawalStatus);
        if (step <= 0) continue;
        metrics.timeToStatus.observe({ status: e.to_status, chain_id: chainId }, Math.max(0, (at - Number(e.accepted_at)) / 1000));
        const from = PATH[step - 1]!;
        const previous =
          from === 'RECEIVED'
            ? Number(e.accepted_at)
            : history
                .filter((h) => h.withdrawal_id === e.withdrawal_id && h.to_status === from && Number(h.id) < Number(e.id))
                .reduce<number | undefined>((latest, h) => Math.max(latest ?? 0, Number(h.created_at)), undefined);
        if (previous !== undefined) {
          metrics.stageDuration.observe({ stage: `${from}_to_${e.to_status}`.toLowerCase(), chain_id: chainId }, Math.max(0, (at - previous) / 1000));
        }
      }
      watermark = Number(events.at(-1)!.id);
      if (events.length < EVENT_BATCH) return;
    }
  }

  function withTimeout<T>(p: Promise<T>): Promise<T> {
    const ms = deps.chainTimeoutMs ?? 5_000;
    return withDeadline(p, ms, () => new Error(`chain read took over ${ms} ms`));
  }

  async function wallets(): Promise<void> {
    const [rows, pending, networks] = await Promise.all([
      k.selectFrom('wallets').select(['chain_id', 'address', 'next_nonce']).where('enabled', '=', 1).execute(),
      k
        .selectFrom('withdrawals')
        .select((eb) => ['chain_id', 'wallet', eb.fn.countAll<number>().as('n'), eb.fn.min<number>('nonce').as('lowest')])
        .where('status', 'in', ['SIGNED', 'BROADCAST'])
        .where('wallet', 'is not', null)
        .groupBy(['chain_id', 'wallet'])
        .execute(),
      deps.assets.all(),
    ]);
    await Promise.all(
      rows.map(async (w) => {
        const chainId = String(w.chain_id);
        const labels = { chain_id: chainId, wallet: w.address };
        const lane = pending.find((p) => p.chain_id === w.chain_id && p.wallet === w.address);
        metrics.hotWalletPending.set(labels, Number(lane?.n ?? 0));
        const chain = deps.chains.get(w.chain_id);
        if (!chain) return;
        const address = w.address as Address;
        const [pendingNonce, latestNonce] = await Promise.all([
          withTimeout(chain.read((c) => c.getTransactionCount({ address, blockTag: 'pending' }))),
          withTimeout(chain.read((c) => c.getTransactionCount({ address, blockTag: 'latest' }))),
        ]);
        metrics.hotWalletNonceDrift.set(labels, Number(w.next_nonce) - pendingNonce);
        metrics.hotWalletNonceGap.set(labels, lane && Number(lane.lowest) > latestNonce ? 1 : 0);
        for (const n of networks.filter((x) => x.chainId === w.chain_id)) {
          const raw =
            n.kind === 'native'
              ? await withTimeout(chain.read((c) => c.getBalance({ address })))
              : await withTimeout(chain.read((c) => c.readContract({ address: n.contract!, abi: erc20Abi, functionName: 'balanceOf', args: [address] })));
          metrics.hotWalletBalance.set({ ...labels, asset: n.asset }, Number(formatUnits(raw, n.decimals)));
        }
      }),
    );
  }

  async function paused(): Promise<void> {
    const scopes = deps.paused ? await deps.paused() : [];
    metrics.paused.reset();
    metrics.pausedSince.reset();
    metrics.paused.set({ scope: 'global' }, 0);
    for (const s of scopes) {
      metrics.paused.set({ scope: s.scope }, 1);
      metrics.pausedSince.set({ scope: s.scope }, Math.floor(s.since / 1000));
    }
  }

  return {
    /** Reads everything once; call on each scrape. Never throws. */
    async collect(): Promise<void> {
      await Promise.all([part('in_flight', inFlight), part('dead_letters', deadLetters), part('transitions', transitions), part('wallets', wallets), part('paused', paused)]);
    },
  };
}

export type StateMetrics = ReturnType<typeof createStateMetrics>;
