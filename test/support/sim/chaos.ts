import { type Address, formatGwei, type Hex, parseGwei } from 'viem';
import type { SilentTcpProxy } from '../silent-tcp-proxy.js';
import type { Node } from './node.js';
import type { ChaosKind, SimOptions } from './options.js';
import type { SluiceUnderTest } from './sluice-process.js';

/** Chaos kinds that are events on a schedule (the others are proxy fault rates or an env knob). */
// (Append new kinds at the end: the schedule rolls per kind in this order.)
export const EVENT_KINDS = ['drop-tx', 'fee-spike', 'fee-spike-over-cap', 'reorg', 'foreign-nonce', 'low-funds', 'sigkill', 'restart', 'deep-reorg', 'db-silence', 'pause'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** Mean seconds between two events of a kind (at intensity 1); each enabled kind happens at least once. */
const MEAN_INTERVAL_S: Record<EventKind, number> = {
  'drop-tx': 4,
  'fee-spike': 20,
  'fee-spike-over-cap': Number.POSITIVE_INFINITY, // exactly once
  reorg: 6,
  'foreign-nonce': 8,
  'low-funds': 20,
  sigkill: 15,
  restart: 40,
  'deep-reorg': 20,
  'db-silence': 25,
  pause: 30,
};

/** One scheduled event with every random choice rolled up front, so the seed fixes the schedule. */
export type ScheduledEvent = { atMs: number; kind: EventKind; rolls: [number, number, number, number] };

export type ChaosLogEntry = { atMs: number; kind: EventKind; outcome: 'done' | 'skipped'; detail: string };

/** A tx the simulation itself sent from a hot wallet (foreign-nonce): the only non-Sluice tx allowed there. */
export type ForeignTx = { hash: Hex; wallet: string; nonce: number; variant: 'replace' | 'next' };

/** What a hot wallet is refilled to when a reorg undid the end of its low-funds period (dev mode funds 10 000 ETH). */
const REFILL = 10n ** 22n;

/** Kinds that need txs in flight: scheduled while withdrawals are still being submitted. */
const TRAFFIC_KINDS: readonly EventKind[] = ['drop-tx', 'foreign-nonce'];

/** A reorg the simulation made: blocks head-depth+1 … head were replaced by empty ones. */
export type ReorgRecord = { head: number; depth: number };

export function buildSchedule(kinds: readonly ChaosKind[], windows: { submitMs: number; totalMs: number }, random: () => number, intensity: number): ScheduledEvent[] {
  const events: ScheduledEvent[] = [];
  const roll = (): [number, number, number, number] => [random(), random(), random(), random()];
  for (const kind of EVENT_KINDS) {
    // Roll for every kind, enabled or not, so enabling one kind does not move the others.
    const firstRoll = 0.05 + 0.55 * random();
    const gaps = Array.from({ length: 64 }, () => random());
    const rolls = Array.from({ length: 65 }, roll);
    if (!kinds.includes(kind)) continue;
    const windowMs = TRAFFIC_KINDS.includes(kind) ? windows.submitMs + 2000 : windows.totalMs;
    const mean = (MEAN_INTERVAL_S[kind] * 1000) / Math.max(intensity, 0.01);
    let at = kind === 'fee-spike-over-cap' ? windowMs * (0.15 + 0.5 * firstRoll) : windowMs * firstRoll;
    for (let i = 0; at < windowMs && i < rolls.length; i++) {
      events.push({ atMs: Math.round(at), kind, rolls: rolls[i]! });
      if (!Number.isFinite(mean)) break;
      at += -Math.log(1 - gaps[i % gaps.length]!) * mean;
    }
  }
  return events.sort((a, b) => a.atMs - b.atMs);
}

export type ChaosDeps = {
  options: SimOptions;
  node: Node;
  sluice: SluiceUnderTest;
  /** Hot wallets of the chain, read from Sluice's database. */
  hotWallets(): Promise<Address[]>;
  /** Chain head when Sluice first became ready: reorgs never reach below it (the demo token lives there). */
  readyHead: bigint;
  /** Where foreign txs send their 0 value. */
  sink: Address;
  /** Between Sluice and MariaDB (absent on SQLite): what db-silence silences. */
  dbProxy?: SilentTcpProxy;
  /** The chain the withdrawals go out on (what a chain or network pause names). */
  chainId: number;
  /** Calls Sluice's Admin API as an operator (retrying what a restart breaks). */
  admin(path: string, body: unknown): Promise<{ status: number; body: unknown }>;
  /** How many withdrawals wait RECEIVED on a pause now (for the chaos log). */
  waitingOnPause(): Promise<number>;
  /** How many of these tx hashes are the settled tx of a COMPLETED withdrawal (for the chaos log). */
  completedAmong(hashes: string[]): Promise<number>;
  log(line: string): void;
};

/**
 * Runs the scheduled chain and process chaos against the node (directly, not through the fault
 * proxy) and the sluice child. Events run one at a time in schedule order; fee spikes and low
 * funds last a while and are held by background loops, all released by `stop()`.
 */
export function createChaos(deps: ChaosDeps, schedule: ScheduledEvent[]) {
  const { node, options } = deps;
  const counts: Partial<Record<EventKind, number>> = {};
  const skipped: Partial<Record<EventKind, number>> = {};
  const journal: ChaosLogEntry[] = [];
  const foreign = new Map<string, ForeignTx>();
  const reorgs: ReorgRecord[] = [];
  let started = 0;
  let stopped = false;
  let wake: (() => void) | undefined;
  const spikes = new Map<number, bigint>(); // id -> base fee (wei)
  let spikeId = 0;
  let baselineFee: bigint | undefined;
  let feeLoop: Promise<void> | undefined;
  const lowFunds = new Map<string, { until: number; restore: bigint }>();
  const holders: Promise<void>[] = [];
  let pauseOn = false;

  const elapsed = () => Date.now() - started;

  function record(kind: EventKind, outcome: 'done' | 'skipped', detail: string) {
    const entry = { atMs: elapsed(), kind, outcome, detail };
    journal.push(entry);
    (outcome === 'done' ? counts : skipped)[kind] = ((outcome === 'done' ? counts : skipped)[kind] ?? 0) + 1;
    deps.log(`chaos ${(entry.atMs / 1000).toFixed(1)}s ${kind}${outcome === 'skipped' ? ' (skipped)' : ''}: ${detail}`);
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, Math.max(0, ms));
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  function pick<T>(list: readonly T[], roll: number): T {
    return list[Math.min(list.length - 1, Math.floor(roll * list.length))]!;
  }

  async function hotPool() {
    const wallets = new Set((await deps.hotWallets()).map((w) => w.toLowerCase()));
    return (await node.pool()).filter((t) => wallets.has(t.from) && !foreign.has(t.hash.toLowerCase()));
  }

  // ---- the event kinds ----

  async function dropTx(e: ScheduledEvent) {
    // Pending txs live for less than a block: look for one for a few seconds.
    const until = Date.now() + 5_000;
    while (!stopped && Date.now() < until) {
      const candidates = (await hotPool()).sort((a, b) => a.from.localeCompare(b.from) || a.nonce - b.nonce);
      if (candidates.length > 0) {
        const victim = pick(candidates, e.rolls[0]);
        await node.call('anvil_dropTransaction', [victim.hash]);
        return record('drop-tx', 'done', `dropped ${victim.hash} (wallet ${victim.from}, nonce ${victim.nonce}${victim.queued ? ', queued' : ''}) from the pool`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    record('drop-tx', 'skipped', 'no hot-wallet tx pending within 5 s');
  }

  function ensureFeeLoop() {
    if (feeLoop) return;
    feeLoop = (async () => {
      // Re-apply several times a block: anvil takes the value for the next block only, and
      // evicts pool txs whose maxFeePerGas is below the block's base fee when it mines.
      const every = Math.max(25, Math.min(100, (options.blockTime * 1000) / 5));
      while (spikes.size > 0) {
        const level = [...spikes.values()].reduce((a, b) => (a > b ? a : b));
        await node.call('anvil_setNextBlockBaseFeePerGas', [`0x${level.toString(16)}`]).catch(() => undefined);
        await new Promise((r) => setTimeout(r, every));
      }
      if (baselineFee !== undefined) await node.call('anvil_setNextBlockBaseFeePerGas', [`0x${baselineFee.toString(16)}`]).catch(() => undefined);
      baselineFee = undefined;
      feeLoop = undefined;
    })();
    holders.push(feeLoop);
  }

  async function feeSpike(e: ScheduledEvent, overCap: boolean) {
    const level = overCap ? parseGwei(String(options.maxFeeGwei + 100)) : parseGwei(String(Math.round(20 + e.rolls[0] * 130)));
    if (!overCap && level >= parseGwei(String(options.maxFeeGwei))) return record('fee-spike', 'skipped', `spike level would reach the cap ${options.maxFeeGwei} gwei`);
    const blocks = overCap ? 4 + Math.floor(e.rolls[1] * 3) : 3 + Math.floor(e.rolls[1] * 8);
    const durationMs = blocks * options.blockTime * 1000;
    if (spikes.size === 0) baselineFee = await node.baseFee();
    const id = ++spikeId;
    spikes.set(id, level);
    ensureFeeLoop();
    const kind = overCap ? 'fee-spike-over-cap' : 'fee-spike';
    record(kind, 'done', `base fee held at ${formatGwei(level)} gwei for ~${blocks} blocks (cap ${options.maxFeeGwei} gwei; was ${formatGwei(baselineFee ?? 0n)} gwei)`);
    holders.push(
      (async () => {
        const until = Date.now() + durationMs;
        while (!stopped && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        spikes.delete(id);
      })(),
    );
  }

  /**
   * `reorg` stays shallower than the confirmations (1 … min(--reorg-depth, confirmations-1)):
   * within the finality assumption. `deep-reorg` goes as deep as the confirmations or deeper
   * (confirmations … max(--reorg-depth, confirmations)), so it can un-mine COMPLETED payouts.
   */
  async function reorg(e: ScheduledEvent, deep: boolean) {
    const kind = deep ? 'deep-reorg' : 'reorg';
    const c = options.confirmations;
    const [min, max] = deep ? [c, Math.max(options.reorgDepth, c)] : [1, Math.min(options.reorgDepth, c - 1)];
    if (max < min) return record(kind, 'skipped', `no depth below the ${c} confirmation(s)`);
    const depth = min + Math.floor(e.rolls[0] * (max - min + 1));
    const wallets = new Set((await deps.hotWallets()).map((w) => w.toLowerCase()));
    // Aim at blocks that carry hot-wallet txs: wait a few seconds for one within reach.
    const until = Date.now() + 5_000;
    let head = await node.head();
    let removed: string[] = [];
    for (;;) {
      removed = [];
      for (let n = head - BigInt(depth) + 1n; n <= head && n > 0n; n++) {
        const block = await node.client.getBlock({ blockNumber: n, includeTransactions: true });
        removed.push(...block.transactions.filter((t) => wallets.has(t.from.toLowerCase())).map((t) => t.hash.toLowerCase()));
      }
      if (removed.length > 0 || stopped || Date.now() >= until) break;
      await new Promise((r) => setTimeout(r, Math.max(100, (options.blockTime * 1000) / 4)));
      const next = await node.head();
      if (next === head) continue;
      head = next;
    }
    if (head - BigInt(depth) <= deps.readyHead + 2n) return record(kind, 'skipped', `head ${head} too close to the setup blocks for depth ${depth}`);
    const completed = removed.length > 0 ? await deps.completedAmong(removed).catch(() => -1) : 0;
    await node.call('anvil_reorg', [depth, []]);
    reorgs.push({ head: Number(head), depth });
    await healBalances(`the ${kind}`);
    const settled = completed > 0 ? `, ${completed} of them already COMPLETED` : '';
    record(kind, 'done', `depth ${depth} at head ${head}: ${removed.length} hot-wallet tx(s) in the replaced blocks${settled}`);
  }

  async function foreignNonce(e: ScheduledEvent) {
    const wallets = await deps.hotWallets();
    if (wallets.length === 0) return record('foreign-nonce', 'skipped', 'no hot wallet yet');
    const wallet = pick(wallets, e.rolls[0]);
    let variant: 'replace' | 'next' = e.rolls[1] < 0.5 ? 'replace' : 'next';
    const pending = (await hotPool()).filter((t) => t.from === wallet.toLowerCase() && !t.queued).sort((a, b) => a.nonce - b.nonce);
    const victim = variant === 'replace' ? pending[0] : undefined;
    if (!victim) variant = 'next';
    const nonce = victim ? victim.nonce : await node.nonce(wallet, 'pending');
    const spike = spikes.size > 0 ? [...spikes.values()].reduce((a, b) => (a > b ? a : b)) : 0n;
    const base = await node.baseFee();
    const candidates = [base * 3n + parseGwei('2'), spike * 2n, (victim?.maxFeePerGas ?? 0n) * 2n + parseGwei('1')];
    const maxFeePerGas = candidates.reduce((a, b) => (a > b ? a : b));
    const maxPriorityFeePerGas = [parseGwei('2'), (victim?.maxPriorityFeePerGas ?? 0n) * 2n + 1n].reduce((a, b) => (a > b ? a : b));
    await node.call('anvil_impersonateAccount', [wallet]);
    try {
      const hash = await node.call<Hex>('eth_sendTransaction', [
        {
          from: wallet,
          to: deps.sink,
          value: '0x0',
          gas: '0x5208',
          nonce: `0x${nonce.toString(16)}`,
          maxFeePerGas: `0x${maxFeePerGas.toString(16)}`,
          maxPriorityFeePerGas: `0x${maxPriorityFeePerGas.toString(16)}`,
        },
      ]);
      foreign.set(hash.toLowerCase(), { hash, wallet: wallet.toLowerCase(), nonce, variant });
      record('foreign-nonce', 'done', `${hash} from ${wallet} at nonce ${nonce} (${variant === 'replace' ? `replacing pending ${victim!.hash}` : "the wallet's next nonce"})`);
    } catch (err) {
      record('foreign-nonce', 'skipped', `node refused the foreign tx at nonce ${nonce}: ${(err as Error).message}`);
    } finally {
      await node.call('anvil_stopImpersonatingAccount', [wallet]).catch(() => undefined);
    }
  }

  /**
   * anvil_reorg rolls the state back to the block before the reorg, cheat-code balance changes
   * included: a low-funds restore made inside the replaced blocks is undone and the wallet is
   * short again, for good. After each reorg (and at the end) a wallet that is not in a low-funds
   * period but holds under 1 ETH is refilled, so the only short periods are the scheduled ones.
   */
  async function healBalances(why: string) {
    for (const wallet of await deps.hotWallets()) {
      const w = wallet.toLowerCase();
      if (lowFunds.has(w)) continue;
      const balance = await node.client.getBalance({ address: wallet });
      if (balance >= 10n ** 18n) continue;
      await node.call('anvil_setBalance', [w, `0x${REFILL.toString(16)}`]);
      deps.log(`chaos ${(elapsed() / 1000).toFixed(1)}s low-funds: ${w} held ${formatGwei(balance)} gwei after ${why}; refilled`);
    }
  }

  async function lowFundsEvent(e: ScheduledEvent) {
    const wallets = await deps.hotWallets();
    if (wallets.length === 0) return record('low-funds', 'skipped', 'no hot wallet yet');
    const wallet = pick(wallets, e.rolls[0]).toLowerCase();
    const seconds = 3 + Math.floor(e.rolls[1] * 6);
    const existing = lowFunds.get(wallet);
    const current = existing ? 0n : await node.client.getBalance({ address: wallet as Address });
    const restore = existing?.restore ?? (current < 10n ** 18n ? REFILL : current);
    const low = 10n ** 15n; // 0.001 ETH: a few txs' gas at a low base fee, less than most ETH payouts
    await node.call('anvil_setBalance', [wallet, `0x${low.toString(16)}`]);
    lowFunds.set(wallet, { until: Date.now() + seconds * 1000, restore });
    record('low-funds', 'done', `${wallet} down to 0.001 ETH for ${seconds} s`);
    if (existing) return; // its holder is already running and will read the new deadline
    holders.push(
      (async () => {
        while (!stopped && Date.now() < (lowFunds.get(wallet)?.until ?? 0)) await new Promise((r) => setTimeout(r, 100));
        const entry = lowFunds.get(wallet)!;
        lowFunds.delete(wallet);
        await node.call('anvil_setBalance', [wallet, `0x${entry.restore.toString(16)}`]).catch(() => undefined);
        deps.log(`chaos ${(elapsed() / 1000).toFixed(1)}s low-funds: ${wallet} restored`);
      })(),
    );
  }

  async function kill(e: ScheduledEvent, signal: 'SIGKILL' | 'SIGTERM') {
    const kind = signal === 'SIGKILL' ? 'sigkill' : 'restart';
    if (!deps.sluice.up) return record(kind, 'skipped', 'sluice is not up');
    const downMs = Math.round(e.rolls[0] * 1500);
    const name = await deps.sluice.kill(signal, e.rolls[1]);
    record(kind, 'done', `${signal} sent to ${name}; restarting in ${downMs} ms`);
    await new Promise((r) => setTimeout(r, downMs));
    await deps.sluice.start();
  }

  /**
   * Sluice's connections to MariaDB go silent, sometimes past SLUICE_DB_QUERY_TIMEOUT_MS (the
   * run sets 3 s): statements fail and connections are replaced, or just answer late.
   */
  async function dbSilence(e: ScheduledEvent) {
    const proxy = deps.dbProxy;
    if (!proxy) return record('db-silence', 'skipped', 'SQLite: no connection to silence');
    const ms = 1000 + Math.round(e.rolls[0] * 7000);
    proxy.silence(true);
    record('db-silence', 'done', `the database silent for ${ms} ms`);
    try {
      await sleep(ms);
    } finally {
      proxy.silence(false);
    }
  }

  /**
   * An operator pulls the kill switch and lifts it a few seconds later. Withdrawals that reach a
   * signer meanwhile wait RECEIVED (failureCode paused) and must go on by themselves once it is
   * lifted, never be rejected: the ground truth checks they end as their funding says.
   */
  async function pauseEvent(e: ScheduledEvent) {
    if (pauseOn) return record('pause', 'skipped', 'a pause is already on');
    const asset = pick(['ETH', 'USDT'] as const, e.rolls[2]);
    const scope =
      e.rolls[0] < 0.4 ? { scope: 'global' } : e.rolls[0] < 0.7 ? { scope: 'chain', chainId: deps.chainId } : { scope: 'network', chainId: deps.chainId, asset };
    const what = scope.scope === 'global' ? 'everything' : scope.scope === 'chain' ? `chain ${deps.chainId}` : `${asset} on chain ${deps.chainId}`;
    const ms = 1000 + Math.round(e.rolls[1] * 5000);
    const paused = await deps.admin('/admin/api/pause', { ...scope, paused: true, reason: 'simulation: kill switch' });
    if (paused.status !== 200) return record('pause', 'skipped', `the Admin API answered ${paused.status}: ${JSON.stringify(paused.body).slice(0, 200)}`);
    pauseOn = true;
    record('pause', 'done', `${what} paused for ${ms} ms`);
    holders.push(
      (async () => {
        const until = Date.now() + ms;
        while (!stopped && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        const waiting = await deps.waitingOnPause().catch(() => undefined);
        // Lifted whatever happens meanwhile (a killed API answers again once restarted): a pause left on fails the run.
        for (let tries = 1; ; tries++) {
          const lifted = await deps.admin('/admin/api/pause', { ...scope, paused: false, reason: 'simulation: kill switch lifted' }).catch((err: Error) => ({ status: 0, body: err.message }));
          if (lifted.status === 200) break;
          if (tries === 600) {
            errors.push(`pause: ${what} could not be lifted for 2 minutes (${lifted.status}: ${JSON.stringify(lifted.body).slice(0, 200)})`);
            break;
          }
          if (tries % 50 === 0) deps.log(`chaos ${(elapsed() / 1000).toFixed(1)}s pause: lifting ${what} still fails (${lifted.status}: ${JSON.stringify(lifted.body).slice(0, 200)})`);
          await new Promise((r) => setTimeout(r, 200));
        }
        pauseOn = false;
        deps.log(`chaos ${(elapsed() / 1000).toFixed(1)}s pause: ${what} lifted${waiting === undefined ? '' : `; ${waiting} withdrawal(s) were waiting on it`}`);
      })(),
    );
  }

  async function run(e: ScheduledEvent) {
    switch (e.kind) {
      case 'drop-tx':
        return dropTx(e);
      case 'fee-spike':
        return feeSpike(e, false);
      case 'fee-spike-over-cap':
        return feeSpike(e, true);
      case 'reorg':
        return reorg(e, false);
      case 'deep-reorg':
        return reorg(e, true);
      case 'foreign-nonce':
        return foreignNonce(e);
      case 'low-funds':
        return lowFundsEvent(e);
      case 'sigkill':
        return kill(e, 'SIGKILL');
      case 'restart':
        return kill(e, 'SIGTERM');
      case 'db-silence':
        return dbSilence(e);
      case 'pause':
        return pauseEvent(e);
    }
  }

  let loop: Promise<void> | undefined;
  let ending: Promise<void> | undefined;
  const errors: string[] = [];

  return {
    schedule,
    counts,
    skipped,
    journal,
    foreign,
    reorgs,
    errors,
    /** Starts the schedule; resolves when every event ran (or `stop()` was called). */
    start(): Promise<void> {
      started = Date.now();
      loop = (async () => {
        for (const e of schedule) {
          if (stopped) break;
          await sleep(e.atMs - elapsed());
          if (stopped) break;
          try {
            await run(e);
          } catch (err) {
            const msg = `${e.kind} at ${(e.atMs / 1000).toFixed(1)}s failed: ${(err as Error).message}`;
            errors.push(msg);
            record(e.kind, 'skipped', `error: ${(err as Error).message}`);
          }
        }
      })();
      return loop;
    },
    /** Waits for the lasting events (fee spikes, low funds) to end by themselves. */
    async drain(): Promise<void> {
      while (!stopped) {
        const pending = [...holders];
        await Promise.all(pending);
        if (holders.length === pending.length) return;
      }
    },
    /**
     * Ends chaos: the remaining events are not run, spikes and low funds are released, sluice is up.
     * Once: called again (the harness's clean-up), it does not start a Sluice the run has stopped.
     */
    stop(): Promise<void> {
      ending ??= end();
      return ending;
    },
    remaining(): number {
      return schedule.filter((e) => e.atMs > elapsed()).length;
    },
  };

  async function end(): Promise<void> {
    stopped = true;
    wake?.();
    await loop;
    spikes.clear();
    await Promise.all(holders);
    for (const [wallet, entry] of lowFunds) await node.call('anvil_setBalance', [wallet, `0x${entry.restore.toString(16)}`]).catch(() => undefined);
    lowFunds.clear();
    await healBalances('chaos ended').catch(() => undefined);
    if (!deps.sluice.up) await deps.sluice.start();
  }
}

export type Chaos = ReturnType<typeof createChaos>;
