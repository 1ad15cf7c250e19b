import { randomUUID } from 'node:crypto';
import type { Queue, QueueMessage, SendOptions } from './types.js';

/** Most messages one receive hands out (what one intake batch sends at most). */
const MAX_RECEIVE = 256;

type Entry<T> = {
  id: string;
  body: T;
  groupId: string | undefined;
  visibleAt: number;
  receiveCount: number;
  inFlight: boolean;
  receipt: string;
};

/**
 * In-process queue for dev mode and unit tests, with the SQS semantics the workers rely on:
 * visibility timeout, FIFO groups, dedup window. Lost on restart, which the reconciler covers.
 */
export function createMemoryQueue<T>(
  name: string,
  options: { visibilityMs?: number; dedupWindowMs?: number; duplicateRate?: number } = {},
): Queue<T> {
  const duplicateRate = options.duplicateRate ?? 0;
  const visibilityMs = options.visibilityMs ?? 30_000;
  const dedupWindowMs = options.dedupWindowMs ?? 5 * 60_000;
  // Insertion order is queue order; ack and retry find their entry by id, not by a scan.
  const entries = new Map<string, Entry<T>>();
  /** Entries handed out and not acked or retried, by group: what makes a FIFO group busy. */
  const inFlightByGroup = new Map<string, Set<Entry<T>>>();
  const dedup = new Map<string, number>();
  const waiters = new Set<() => void>();

  const wake = () => {
    for (const w of waiters) w();
    waiters.clear();
  };

  function setInFlight(e: Entry<T>, inFlight: boolean): void {
    e.inFlight = inFlight;
    if (!e.groupId) return;
    let set = inFlightByGroup.get(e.groupId);
    if (inFlight) {
      if (!set) inFlightByGroup.set(e.groupId, (set = new Set()));
      set.add(e);
    } else if (set) {
      set.delete(e);
      if (set.size === 0) inFlightByGroup.delete(e.groupId);
    }
  }

  /** A group with a delivery out and still hidden waits for its ack, retry or timeout. */
  function groupBusy(groupId: string, now: number): boolean {
    const set = inFlightByGroup.get(groupId);
    if (!set) return false;
    for (const e of set) if (e.visibleAt > now) return true;
    return false;
  }

  /**
   * As SQS FIFO: a receive returns as many messages of one free group as it can, in order (the
   * first free group found; SQS fills a receive from one group first), then the first messages of
   * other free groups; each group then stays closed to other receives until those are acked,
   * retried or time out.
   */
  function take(max: number, now: number): QueueMessage<T>[] {
    const blocked = new Set<string>();
    const runs: Entry<T>[][] = [];
    const runOf = new Map<string, Entry<T>[]>();
    let count = 0;
    for (const e of entries.values()) {
      const first = runs[0];
      // Past `max`, only the first group's later messages can still make it into this receive.
      if (count >= max && (!first || first.length >= max || first[0]!.groupId === undefined)) break;
      const g = e.groupId;
      if (count >= max && g !== first![0]!.groupId) continue;
      if (g && (blocked.has(g) || (!runOf.has(g) && groupBusy(g, now)))) {
        blocked.add(g);
        continue;
      }
      if (e.visibleAt > now) {
        // A group's message that is not visible yet blocks the rest of the group.
        if (g) blocked.add(g);
        continue;
      }
      const run = g ? runOf.get(g) : undefined;
      if (run) run.push(e);
      else {
        runs.push([e]);
        if (g) runOf.set(g, runs.at(-1)!);
      }
      count += 1;
    }
    return runs
      .flat()
      .slice(0, max)
      .map((e) => {
        setInFlight(e, true);
        e.visibleAt = now + visibilityMs;
        e.receiveCount += 1;
        e.receipt = randomUUID();
        return { id: e.id, receipt: e.receipt, body: e.body, receiveCount: e.receiveCount, ...(e.groupId ? { groupId: e.groupId } : {}) };
      });
  }

  /** The current delivery of `message`, if it still is current (not acked, not handed out again). */
  function current(message: QueueMessage<T>): Entry<T> | undefined {
    const e = entries.get(message.id);
    return e && e.receipt === message.receipt ? e : undefined;
  }

  function nextVisibleIn(now: number): number {
    let min = Infinity;
    // Only entries that become visible later; visible ones stuck behind a group head wait for an ack.
    for (const e of entries.values()) if (e.visibleAt > now) min = Math.min(min, e.visibleAt - now);
    return min;
  }

  function push(body: T, opts: SendOptions, now: number): void {
    if (opts.dedupId) {
      const seen = dedup.get(opts.dedupId);
      if (seen !== undefined && now - seen < dedupWindowMs) return;
      dedup.set(opts.dedupId, now);
      if (dedup.size > 100_000) for (const [k, at] of dedup) if (now - at >= dedupWindowMs) dedup.delete(k);
    }
    // Test-only fault: SQS may deliver a message twice; consumers must not care.
    const copies = duplicateRate > 0 && Math.random() < duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const id = randomUUID();
      entries.set(id, {
        id,
        body,
        groupId: opts.groupId,
        visibleAt: now + (opts.delayMs ?? 0) + i * 50,
        receiveCount: 0,
        inFlight: false,
        receipt: '',
      });
    }
  }

  return {
    name,
    visibilityMs,
    // No API limit in process: a consumer takes what a group commit sent in one receive, where SQS's
    // 10 made a burst of 256 wait 26 turns of a busy event loop (~100 ms in e2e) for its last message.
    maxReceive: MAX_RECEIVE,
    async send(body: T, opts: SendOptions = {}): Promise<void> {
      push(body, opts, Date.now());
      wake();
    },

    /** One wake-up of the waiting consumers for the lot, not one per message. */
    async sendBatch(messages): Promise<void> {
      const now = Date.now();
      for (const m of messages) push(m.body, m.options ?? {}, now);
      wake();
    },

    async receive({ max, waitMs, signal }): Promise<QueueMessage<T>[]> {
      const deadline = Date.now() + waitMs;
      for (;;) {
        // One clock reading for the look and the sleep: read twice, a message that turned visible
        // in between would be neither taken nor waited for, and the receive would sleep its whole poll.
        const now = Date.now();
        const got = take(max, now);
        if (got.length > 0 || signal?.aborted) return got;
        const remaining = deadline - now;
        if (remaining <= 0) return [];
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, Math.min(remaining, Math.max(1, nextVisibleIn(now))));
          function done() {
            clearTimeout(timer);
            waiters.delete(done);
            signal?.removeEventListener('abort', done);
            resolve();
          }
          waiters.add(done);
          signal?.addEventListener('abort', done, { once: true });
        });
      }
    },

    async ack(message: QueueMessage<T>): Promise<void> {
      const e = current(message);
      if (e) {
        setInFlight(e, false);
        entries.delete(e.id);
      }
      wake();
    },

    async retry(message: QueueMessage<T>, delayMs: number): Promise<void> {
      const e = current(message);
      if (e) {
        setInFlight(e, false);
        e.visibleAt = Date.now() + delayMs;
      }
      wake();
    },

    async extendVisibility(message: QueueMessage<T>, ms: number): Promise<void> {
      // Only the current, unfinished delivery: a retried or acked one must not be hidden again.
      const e = current(message);
      if (e?.inFlight) e.visibleAt = Date.now() + ms;
    },

    async depth(): Promise<number> {
      return entries.size;
    },
  };
}
