/**
 * Health of one RPC endpoint: latency (EWMA of answered calls), error rate (sliding window),
 * head (last polled block number) and a circuit breaker. No I/O besides the optional shared view
 * below; time comes from `now`, so it is driven by a fake clock in tests.
 *
 * Circuit: closed → open after `failureThreshold` consecutive failures, an error rate over
 * `errorRateThreshold` (once `minSamples` calls are in the window), or at once on a timeout
 * (`openOnTimeout`: a hanging endpoint costs every caller the whole timeout). Open for a backoff
 * that doubles each time it re-opens without closing in between (`openBaseMs` … `openMaxMs`);
 * then half-open: one probe may go through; its success closes the circuit, its failure opens it
 * again for longer. Outcomes of calls that started before the circuit opened (stragglers) and of
 * non-probe calls while half-open do not move the circuit.
 *
 * Optionally shared across processes (`SharedHealth`): when this circuit opens it is published to
 * the cache until it would half-open, and peers' published circuits make the endpoint `suspect`
 * here, so reads try it last. That is advice, not a verdict: only this process's own circuit stops
 * calls, so one pod with a broken network cannot take endpoints away from every pod, and with the
 * cache down or absent each process simply has its local view.
 */

import { createHash } from 'node:crypto';
import type { Cache } from '../cache/types.js';

export type CircuitOptions = {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** Failure share in the window (0..1) above which the circuit opens… */
  errorRateThreshold: number;
  /** …once at least this many calls are in the window. */
  minSamples: number;
  /** Length of the error-rate window. */
  windowMs: number;
  /** At most this many outcomes are kept in the window (oldest dropped first). */
  maxSamples: number;
  /** First open period; doubles with each re-open until a success closes the circuit. */
  openBaseMs: number;
  openMaxMs: number;
  /** A timed-out call opens the circuit at once. */
  openOnTimeout: boolean;
  /** A half-open probe that reported nothing for this long is given up; another may go. */
  probeTimeoutMs: number;
  /** Weight of the newest sample in the latency EWMA (0..1]. */
  latencyAlpha: number;
};

export const DEFAULT_CIRCUIT_OPTIONS: CircuitOptions = {
  failureThreshold: 5,
  errorRateThreshold: 0.5,
  minSamples: 20,
  windowMs: 60_000,
  maxSamples: 500,
  openBaseMs: 1_000,
  openMaxMs: 30_000,
  openOnTimeout: true,
  probeTimeoutMs: 30_000,
  latencyAlpha: 0.3,
};

/** Where one endpoint's circuit is published for other processes. */
export type SharedHealth = {
  cache: Cache;
  key: string;
  /** How often `suspect` re-reads the peers' view (in the background). */
  refreshMs?: number;
};

/** The cache key of one endpoint's shared circuit; the URL is hashed (it often carries an API key). */
export function sharedHealthKey(chainId: number, url: string): string {
  return `rpc:${chainId}:${createHash('sha256').update(url).digest('hex').slice(0, 16)}`;
}

export type Circuit = 'closed' | 'open' | 'half-open';
export type EndpointState = 'up' | 'lagging' | 'open' | 'half-open';
export type FailureKind = 'timeout' | 'error';

/** Leave to make one call; hand it back with `succeed` or `fail`. */
export type Permit = { readonly probe: boolean; readonly startedAt: number; readonly epoch: number };

export class EndpointHealth {
  private readonly options: CircuitOptions;
  private readonly now: () => number;
  private circuitState: 'closed' | 'open' = 'closed';
  /** Bumped whenever the circuit opens: permits from before are stragglers. */
  private epoch = 0;
  private openUntil = 0;
  /** Opens since the circuit last closed (drives the backoff). */
  private opens = 0;
  private probeStartedAt: number | null = null;
  private samples: Array<{ at: number; ok: boolean }> = [];
  private latency: number | null = null;
  private failuresInARow = 0;
  private headValue: bigint | null = null;
  private headAtValue: number | null = null;
  private readonly shared: SharedHealth | undefined;
  /** Until when a peer (or this process) last published the circuit open; 0: nothing known. */
  private peerOpenUntil = 0;
  private sharedReadAt = Number.NEGATIVE_INFINITY;
  private sharedRead: Promise<void> | undefined;
  /** Bumped when this process closes the circuit: an older read must not bring the doubt back. */
  private sharedEpoch = 0;

  constructor(options: Partial<CircuitOptions> = {}, now: () => number = Date.now, shared?: SharedHealth) {
    this.options = { ...DEFAULT_CIRCUIT_OPTIONS, ...options };
    this.now = now;
    this.shared = shared;
  }

  /** Another process published this endpoint's circuit open (shared view; advisory, see above). */
  get suspect(): boolean {
    if (!this.shared) return false;
    if (!this.sharedRead && this.now() - this.sharedReadAt >= (this.shared.refreshMs ?? 1_000)) void this.syncShared();
    return this.peerOpenUntil > this.now();
  }

  /** Reads the shared view now (`suspect` does so in the background); never throws. */
  syncShared(): Promise<void> {
    const shared = this.shared;
    if (!shared) return Promise.resolve();
    this.sharedReadAt = this.now();
    const epoch = this.sharedEpoch;
    const read: Promise<void> = shared.cache
      .get(shared.key)
      .then((raw) => {
        if (epoch !== this.sharedEpoch) return;
        const until = raw === undefined ? 0 : Number((JSON.parse(raw) as { openUntil?: unknown }).openUntil);
        this.peerOpenUntil = Number.isFinite(until) ? until : 0;
      })
      .catch(() => undefined) // unreadable or garbage: the local view alone
      .finally(() => {
        if (this.sharedRead === read) this.sharedRead = undefined;
      });
    this.sharedRead = read;
    return read;
  }

  get circuit(): Circuit {
    if (this.circuitState === 'closed') return 'closed';
    return this.now() >= this.openUntil ? 'half-open' : 'open';
  }

  /** When an open circuit turns half-open (null unless open). */
  get retryAt(): number | null {
    return this.circuitState === 'open' ? this.openUntil : null;
  }

  get consecutiveFailures(): number {
    return this.failuresInARow;
  }

  /** EWMA of answered calls' latency; null before the first answer. */
  get latencyMs(): number | null {
    return this.latency;
  }

  get head(): bigint | null {
    return this.headValue;
  }

  get headAt(): number | null {
    return this.headAtValue;
  }

  /** Failure share of the calls in the window; 0 when there are none. */
  errorRate(): number {
    this.prune();
    if (this.samples.length === 0) return 0;
    let failed = 0;
    for (const s of this.samples) if (!s.ok) failed += 1;
    return failed / this.samples.length;
  }

  /** Whether `acquire` would give a permit now (without taking the half-open probe slot). */
  available(): boolean {
    const c = this.circuit;
    return c === 'closed' || (c === 'half-open' && !this.probeBusy());
  }

  /** A permit for one call, or null: open, or half-open with its one probe already out. */
  acquire(): Permit | null {
    const c = this.circuit;
    const startedAt = this.now();
    if (c === 'closed') return { probe: false, startedAt, epoch: this.epoch };
    if (c === 'open' || this.probeBusy()) return null;
    this.probeStartedAt = startedAt;
    return { probe: true, startedAt, epoch: this.epoch };
  }

  /** The endpoint answered (a node's definite refusal is an answer too). */
  succeed(permit: Permit): void {
    const latency = Math.max(0, this.now() - permit.startedAt);
    const alpha = this.options.latencyAlpha;
    this.latency = this.latency === null ? latency : alpha * latency + (1 - alpha) * this.latency;
    this.failuresInARow = 0;
    if (permit.probe && permit.epoch === this.epoch && this.circuitState === 'open') {
      this.close();
      return;
    }
    this.push(true);
  }

  /** The endpoint did not answer usefully: unreachable, 5xx, rate-limited, timed out. */
  fail(permit: Permit, kind: FailureKind = 'error'): void {
    this.failuresInARow += 1;
    this.push(false);
    if (permit.epoch !== this.epoch) return; // started before the last open: a straggler
    if (this.circuitState === 'open') {
      if (permit.probe) this.open(); // the probe failed: open again, for longer
      return;
    }
    const o = this.options;
    const rateTripped = this.samples.length >= o.minSamples && this.errorRate() > o.errorRateThreshold;
    if ((kind === 'timeout' && o.openOnTimeout) || this.failuresInARow >= o.failureThreshold || rateTripped) this.open();
  }

  observeHead(head: bigint): void {
    this.headValue = head;
    this.headAtValue = this.now();
  }

  /** Circuit first; a closed endpoint more than `maxLag` blocks behind `bestHead` is lagging. */
  state(bestHead: bigint | null, maxLag: number): EndpointState {
    const c = this.circuit;
    if (c !== 'closed') return c;
    const lag = lagBlocks(this.headValue, bestHead);
    return lag !== null && lag > maxLag ? 'lagging' : 'up';
  }

  private probeBusy(): boolean {
    return this.probeStartedAt !== null && this.now() - this.probeStartedAt < this.options.probeTimeoutMs;
  }

  private open(): void {
    const o = this.options;
    this.circuitState = 'open';
    this.epoch += 1;
    this.openUntil = this.now() + Math.min(o.openMaxMs, o.openBaseMs * 2 ** Math.min(this.opens, 30));
    this.opens += 1;
    this.probeStartedAt = null;
    // Lives only until this circuit would half-open: peers never avoid an endpoint for longer.
    const until = this.openUntil;
    this.publish((cache, key) => cache.set(key, JSON.stringify({ state: 'open', openUntil: until }), Math.max(1, until - this.now())));
  }

  private close(): void {
    this.circuitState = 'closed';
    this.opens = 0;
    this.openUntil = 0;
    this.probeStartedAt = null;
    this.failuresInARow = 0;
    this.samples = []; // a fresh start: old failures must not re-trip the rate at once
    this.push(true);
    // Our probe just got through: tell peers, and stop doubting it ourselves.
    this.sharedEpoch += 1;
    this.peerOpenUntil = 0;
    this.publish((cache, key) => cache.del(key));
  }

  /** Best effort: a cache outage leaves peers with their own view, nothing more. */
  private publish(write: (cache: Cache, key: string) => Promise<void>): void {
    if (!this.shared) return;
    write(this.shared.cache, this.shared.key).catch(() => undefined);
  }

  private push(ok: boolean): void {
    this.samples.push({ at: this.now(), ok });
    this.prune();
  }

  private prune(): void {
    const since = this.now() - this.options.windowMs;
    let drop = 0;
    while (drop < this.samples.length && this.samples[drop]!.at <= since) drop += 1;
    drop = Math.max(drop, this.samples.length - this.options.maxSamples);
    if (drop > 0) this.samples.splice(0, drop);
  }
}

/** Blocks `head` is behind `best` (0 when ahead or level); null when either is unknown. */
export function lagBlocks(head: bigint | null, best: bigint | null): number | null {
  if (head === null || best === null) return null;
  return best > head ? Number(best - head) : 0;
}

/**
 * The best head: the highest head among endpoints whose circuit is closed. With `answeredOnly`,
 * only those whose last call answered count (one that just failed does not vouch for its head
 * now; lag is still measured against the head it last reported).
 */
export function bestHead(healths: Iterable<EndpointHealth>, answeredOnly = false): bigint | null {
  let best: bigint | null = null;
  for (const h of healths) {
    if (h.circuit !== 'closed' || h.head === null || (answeredOnly && h.consecutiveFailures > 0)) continue;
    if (best === null || h.head > best) best = h.head;
  }
  return best;
}

export type Rankable = { weight: number; health: EndpointHealth };

/**
 * Where reads go, best first: closed and current (head known, within `maxLag` of the best head),
 * then closed with no head known yet, then half-open ones whose probe slot is free. Lagging and
 * open endpoints get no reads. Within a group: higher weight first, then lower latency
 * (unknown latency after known), then fewer recent failures. Endpoints a peer process reports
 * down (`suspect`) come after all the others, in the same order: tried only when the rest fail.
 * `currentOnly` keeps the first group alone (answers that "not found" must be trusted; suspects
 * stay in it, last, so a negative still needs every current endpoint's word).
 */
export function rankForReads<T extends Rankable>(endpoints: readonly T[], maxLag: number, currentOnly = false): T[] {
  const best = bestHead(endpoints.map((e) => e.health));
  const current: T[] = [];
  const unknown: T[] = [];
  const probes: T[] = [];
  for (const e of endpoints) {
    const c = e.health.circuit;
    if (c === 'open') continue;
    if (c === 'half-open') {
      if (e.health.available()) probes.push(e);
      continue;
    }
    const lag = lagBlocks(e.health.head, best);
    if (lag === null) unknown.push(e);
    else if (lag <= maxLag) current.push(e);
  }
  const byPreference = (a: T, b: T) =>
    b.weight - a.weight ||
    (a.health.latencyMs ?? Number.POSITIVE_INFINITY) - (b.health.latencyMs ?? Number.POSITIVE_INFINITY) ||
    a.health.consecutiveFailures - b.health.consecutiveFailures;
  // Infinity - Infinity is NaN: treat as equal.
  const sort = (list: T[]) => list.sort((a, b) => byPreference(a, b) || 0);
  const trusted = (list: T[]) => sort(list.filter((e) => !e.health.suspect));
  const doubted = (list: T[]) => sort(list.filter((e) => e.health.suspect));
  if (currentOnly) return [...trusted(current), ...doubted(current)];
  return [...trusted(current), ...trusted(unknown), ...trusted(probes), ...doubted(current), ...doubted(unknown), ...doubted(probes)];
}
