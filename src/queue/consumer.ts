import { setImmediate } from 'node:timers/promises';
import type { Logger } from 'pino';
import { sleep } from '../util/sleep.js';
import type { Queue, QueueMessage } from './types.js';

export type ConsumerOptions<T> = {
  queue: Queue<T>;
  /** Handles one message; resolves = ack. Throwing asks for redelivery with backoff. */
  handle: (message: QueueMessage<T>) => Promise<void>;
  /** Called instead of another retry once `maxReceives` deliveries failed; the message is then acked. */
  onGiveUp: (message: QueueMessage<T>, error: unknown) => Promise<void>;
  maxReceives: number;
  /** Told of every failed delivery (for metrics), before it is retried or given up. */
  onFailure?: (error: unknown) => void;
  concurrency: number;
  signal: AbortSignal;
  logger: Logger;
  backoff?: { baseMs: number; maxMs: number };
  /** Visibility a received message gets; it is extended every third of it while held. Default: the queue's, else 30 s. */
  visibilityMs?: number;
  /** After `signal` aborts, how long running handlers may go on before their messages are handed back. */
  shutdownGraceMs?: number;
  /** Long-poll wait of one receive (SQS caps it at 20 s); abort ends it early. */
  pollWaitMs?: number;
  /**
   * Messages of one FIFO group that came in the same receive start together, in receive order,
   * instead of each waiting for the one before (each is still acked or retried on its own, and a
   * later receive of the group waits for all of them). For handlers whose work may overlap as long
   * as it starts in group order: the sender, whose broadcasts of a lane's next nonces then ride in
   * one JSON-RPC batch instead of one round trip and one commit each.
   */
  startGroupRunsTogether?: boolean;
};

export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + Math.random() * (exp / 2)); // jitter keeps retries of a burst apart
}

/** done: acked (handled or given up); retried: handed back with backoff; released: handed back unhandled. */
type Outcome = 'done' | 'retried' | 'released';
type Held = { started: boolean; released: boolean; timer?: NodeJS.Timeout; extending?: Promise<void> | undefined };

/**
 * Pulls messages and runs up to `concurrency` handlers at once until `signal` aborts.
 *
 * While this consumer holds a message its visibility is extended, so a slow handler never lets a
 * second consumer take the same work. Messages of one FIFO group run one after another in receive
 * order (an SQS receive may return several of a group); if one is handed back, the later ones of
 * its group go back unhandled so the group keeps its order.
 *
 * On abort it stops receiving, hands back messages not yet started, and waits for running handlers
 * up to `shutdownGraceMs`; those still running then are handed back (visible at once) so another
 * replica takes over without waiting out the visibility timeout, and it returns.
 */
export async function runConsumer<T>(options: ConsumerOptions<T>): Promise<void> {
  const { queue, signal, logger, concurrency } = options;
  const { baseMs, maxMs } = options.backoff ?? { baseMs: 250, maxMs: 30_000 };
  const visibilityMs = options.visibilityMs ?? queue.visibilityMs ?? 30_000;
  const graceMs = options.shutdownGraceMs ?? 25_000;
  const running = new Set<Promise<void>>();
  const held = new Map<QueueMessage<T>, Held>();
  /** Per FIFO group, the outcome of its latest run and the receive that run came from. */
  const groupTails = new Map<string, { outcome: Promise<Outcome>; receive: number }>();
  let receives = 0;

  function hold(message: QueueMessage<T>): Held {
    const h: Held = { started: false, released: false };
    h.timer = setInterval(() => {
      if (h.extending) return; // a slow call is still out; don't pile up
      h.extending = queue
        .extendVisibility(message, visibilityMs)
        .catch((err) => logger.warn({ err, queue: queue.name, messageId: message.id }, 'visibility extension failed'))
        .finally(() => (h.extending = undefined));
    }, Math.max(1, Math.floor(visibilityMs / 3)));
    held.set(message, h);
    return h;
  }

  /** Stops extending; waits out an extension in flight so it cannot land after our ack/retry. */
  async function letGo(message: QueueMessage<T>): Promise<void> {
    const h = held.get(message);
    if (!h) return;
    clearInterval(h.timer);
    held.delete(message);
    await h.extending;
  }

  async function release(message: QueueMessage<T>): Promise<Outcome> {
    const h = held.get(message);
    if (h && !h.released) {
      h.released = true;
      await letGo(message);
      await queue.retry(message, 0).catch((err) => logger.warn({ err, queue: queue.name, messageId: message.id }, 'release failed; visibility timeout will hand it back'));
    }
    return 'released';
  }

  async function process(message: QueueMessage<T>, h: Held): Promise<Outcome> {
    if (h.released || signal.aborted) return release(message);
    h.started = true;
    try {
      await options.handle(message);
      if (h.released) logger.info({ queue: queue.name, messageId: message.id }, 'handler finished after its message was handed back');
      await letGo(message);
      await queue.ack(message);
      return 'done';
    } catch (error) {
      if (h.released) return 'released'; // handed back at shutdown: its next delivery retries it
      options.onFailure?.(error);
      await letGo(message);
      if (message.receiveCount >= options.maxReceives) {
        logger.error({ err: error, queue: queue.name, messageId: message.id }, 'giving up on message');
        try {
          await options.onGiveUp(message, error);
          await queue.ack(message);
          return 'done';
        } catch (giveUpError) {
          logger.error({ err: giveUpError, queue: queue.name }, 'dead-lettering failed; message stays queued');
          await queue.retry(message, maxMs).catch(() => {});
          return 'retried';
        }
      }
      const delay = backoffDelay(message.receiveCount, baseMs, maxMs);
      logger.warn({ err: error, queue: queue.name, messageId: message.id, attempt: message.receiveCount, retryInMs: delay }, 'message failed; will retry');
      await queue.retry(message, delay).catch(() => {});
      return 'retried';
    }
  }

  /**
   * Starts a run of messages: of one group (after that group's earlier ones), or one message of none.
   *
   * After an earlier message of the same receive that was not done, the rest of its group goes back
   * unhandled, so the group keeps its order. A run from an earlier receive is only waited for: the
   * queue delivered this one after that one was acked or handed back (it may not have settled here
   * yet), so its outcome is history. Handing this delivery back for it would get it redelivered at
   * once, and handed back again, in microtasks alone, starving the event loop for good.
   */
  function startRun(run: QueueMessage<T>[], receive: number): void {
    const group = run[0]!.groupId;
    const before = group ? groupTails.get(group) : undefined;
    const outcomes = run.map((message) => {
      const h = hold(message);
      let outcome: Promise<Outcome>;
      if (!before) outcome = process(message, h);
      else if (before.receive === receive) outcome = before.outcome.then((o) => (o === 'done' ? process(message, h) : release(message)));
      else outcome = before.outcome.then(() => process(message, h));
      track(message, outcome);
      return outcome;
    });
    if (group) {
      const outcome = outcomes.length === 1 ? outcomes[0]! : Promise.all(outcomes).then((os) => os.find((o) => o !== 'done') ?? 'done');
      const tail = { outcome, receive };
      groupTails.set(group, tail);
      void outcome.finally(() => groupTails.get(group) === tail && groupTails.delete(group)).catch(() => {});
    }
  }

  /** Runs of this receive: per group together when asked, else each message alone (chained in its group). */
  function runsOf(messages: QueueMessage<T>[]): QueueMessage<T>[][] {
    if (!options.startGroupRunsTogether) {
      const alone: QueueMessage<T>[][] = [];
      for (const m of messages) alone.push([m]);
      return alone;
    }
    const runs: QueueMessage<T>[][] = [];
    const byGroup = new Map<string, QueueMessage<T>[]>();
    for (const m of messages) {
      const run = m.groupId ? byGroup.get(m.groupId) : undefined;
      if (run) run.push(m);
      else {
        runs.push([m]);
        if (m.groupId) byGroup.set(m.groupId, runs.at(-1)!);
      }
    }
    return runs;
  }

  function track(message: QueueMessage<T>, outcome: Promise<Outcome>): void {
    const settled: Promise<void> = outcome.then(
      () => {},
      (err) => logger.error({ err, queue: queue.name, messageId: message.id }, 'consumer step failed'),
    ).finally(() => running.delete(settled));
    running.add(settled);
  }

  while (!signal.aborted) {
    const free = concurrency - running.size;
    if (free <= 0) {
      await Promise.race(running);
      continue;
    }
    let messages: QueueMessage<T>[];
    try {
      messages = await queue.receive({ max: Math.min(free, queue.maxReceive), waitMs: options.pollWaitMs ?? 20_000, signal });
    } catch (error) {
      logger.error({ err: error, queue: queue.name }, 'receive failed');
      await sleep(1_000, signal);
      continue;
    }
    receives += 1;
    for (const run of runsOf(messages)) startRun(run, receives); // after an abort, process() hands them straight back
    // Let timers and I/O in between receives: the memory queue answers without any I/O, so a loop
    // of receives and hand-backs could otherwise starve the process (no logs, no SIGTERM).
    await setImmediate();
  }

  // Shutdown: what has not started goes back now; running handlers get the grace period.
  for (const [m, h] of held) if (!h.started) void release(m);
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)));
  const timedOut = await Promise.race([Promise.allSettled(running).then(() => false), graceOver]);
  clearTimeout(timer);
  if (timedOut) {
    const stuck = [...held.keys()];
    logger.warn({ queue: queue.name, messages: stuck.length, graceMs }, 'handlers still running after the shutdown grace period; handing their messages back');
    await Promise.allSettled(stuck.map((m) => release(m)));
  }
}
