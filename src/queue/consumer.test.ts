import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, runConsumer } from './consumer.js';
import { createMemoryQueue } from './memory-queue.js';
import type { Queue, QueueMessage } from './types.js';

const logger = pino({ level: 'silent' });
const backoff = { baseMs: 5, maxMs: 20 };

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The real memory queue, with every retry() delay recorded. */
function recordingQueue<T>() {
  const inner = createMemoryQueue<T>('test-queue');
  const retries: { receiveCount: number; delayMs: number }[] = [];
  const acks: string[] = [];
  const queue: Queue<T> = {
    ...inner,
    name: inner.name,
    async retry(message: QueueMessage<T>, delayMs: number) {
      retries.push({ receiveCount: message.receiveCount, delayMs });
      return inner.retry(message, delayMs);
    },
    async ack(message: QueueMessage<T>) {
      acks.push(message.id);
      return inner.ack(message);
    },
  };
  return { queue, retries, acks };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('runConsumer', () => {
  it('handles every message once and acks it', async () => {
    const { queue, retries, acks } = recordingQueue<number>();
    for (const n of [1, 2, 3]) await queue.send(n);
    const seen: number[] = [];
    const controller = new AbortController();
    const onGiveUp = vi.fn(async () => {});
    const done = runConsumer({
      queue,
      handle: async (m) => {
        seen.push(m.body);
      },
      onGiveUp,
      maxReceives: 3,
      concurrency: 4,
      signal: controller.signal,
      logger,
      backoff,
    });
    await until(async () => acks.length === 3);
    expect(await queue.depth()).toBe(0);
    controller.abort();
    await done;
    expect(seen.sort()).toEqual([1, 2, 3]);
    expect(retries).toEqual([]);
    expect(onGiveUp).not.toHaveBeenCalled();
  });

  it('redelivers a failing message with backoff until the handler succeeds', async () => {
    const { queue, retries } = recordingQueue<string>();
    await queue.send('flaky');
    const counts: number[] = [];
    const controller = new AbortController();
    const onGiveUp = vi.fn(async () => {});
    const failures: unknown[] = [];
    const done = runConsumer({
      queue,
      handle: async (m) => {
        counts.push(m.receiveCount);
        if (m.receiveCount < 3) throw new Error(`fail ${m.receiveCount}`);
      },
      onGiveUp,
      onFailure: (err) => failures.push(err),
      maxReceives: 5,
      concurrency: 1,
      signal: controller.signal,
      logger,
      backoff,
    });
    await until(async () => (await queue.depth()) === 0);
    controller.abort();
    await done;
    expect(counts).toEqual([1, 2, 3]);
    // Each failed delivery is reported once (what sluice_worker_errors_total counts), the success is not.
    expect(failures.map((e) => (e as Error).message)).toEqual(['fail 1', 'fail 2']);
    expect(onGiveUp).not.toHaveBeenCalled();
    // attempt 1: exp 5 -> [3, 5]; attempt 2: exp 10 -> [5, 10]
    expect(retries.map((r) => r.receiveCount)).toEqual([1, 2]);
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(3);
    expect(retries[0]!.delayMs).toBeLessThanOrEqual(5);
    expect(retries[1]!.delayMs).toBeGreaterThanOrEqual(5);
    expect(retries[1]!.delayMs).toBeLessThanOrEqual(10);
  });

  it('after maxReceives failed deliveries calls onGiveUp once with the error and acks the message', async () => {
    const { queue, retries } = recordingQueue<string>();
    await queue.send('poison');
    const controller = new AbortController();
    const errors: Error[] = [];
    let handled = 0;
    const onGiveUp = vi.fn(async (_m: QueueMessage<string>, _e: unknown) => {});
    const done = runConsumer({
      queue,
      handle: async (m) => {
        handled += 1;
        const err = new Error(`boom ${m.receiveCount}`);
        errors.push(err);
        throw err;
      },
      onGiveUp,
      maxReceives: 3,
      concurrency: 2,
      signal: controller.signal,
      logger,
      backoff,
    });
    await until(() => onGiveUp.mock.calls.length > 0);
    await until(async () => (await queue.depth()) === 0);
    // Give a would-be extra delivery a chance to show up.
    await new Promise((r) => setTimeout(r, 60));
    controller.abort();
    await done;

    expect(handled).toBe(3);
    expect(onGiveUp).toHaveBeenCalledTimes(1);
    const [message, error] = onGiveUp.mock.calls[0]!;
    expect(message.body).toBe('poison');
    expect(message.receiveCount).toBe(3);
    expect(error).toBe(errors[2]);
    expect(retries.map((r) => r.receiveCount)).toEqual([1, 2]);
    expect(await queue.depth()).toBe(0);
  });

  it('keeps the message queued (retry after maxMs) when onGiveUp itself fails', async () => {
    const { queue, retries, acks } = recordingQueue<string>();
    await queue.send('poison');
    const controller = new AbortController();
    const onGiveUp = vi.fn(async () => {
      throw new Error('dead-letter store down');
    });
    const done = runConsumer({
      queue,
      handle: async () => {
        throw new Error('boom');
      },
      onGiveUp,
      maxReceives: 1,
      concurrency: 1,
      signal: controller.signal,
      logger,
      backoff: { baseMs: 5, maxMs: 10_000 },
    });
    await until(() => retries.length === 1);
    controller.abort();
    await done;
    expect(onGiveUp).toHaveBeenCalledTimes(1);
    expect(retries).toEqual([{ receiveCount: 1, delayMs: 10_000 }]);
    expect(acks).toEqual([]);
    expect(await queue.depth()).toBe(1);
  });

  it('never runs more than `concurrency` handlers at once, and does use them all', async () => {
    const { queue } = recordingQueue<number>();
    for (let i = 0; i < 12; i++) await queue.send(i);
    let running = 0;
    let peak = 0;
    let finished = 0;
    const controller = new AbortController();
    const done = runConsumer({
      queue,
      handle: async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 15));
        running -= 1;
        finished += 1;
      },
      onGiveUp: async () => {},
      maxReceives: 3,
      concurrency: 3,
      signal: controller.signal,
      logger,
      backoff,
    });
    await until(() => finished === 12);
    controller.abort();
    await done;
    expect(peak).toBe(3);
    expect(await queue.depth()).toBe(0);
  });

  it('receives as many as the queue hands out at once (its maxReceive), up to the free handler slots', async () => {
    const { queue } = recordingQueue<number>();
    const asked: number[] = [];
    const receive = queue.receive.bind(queue);
    queue.receive = (options) => {
      asked.push(options.max);
      return receive(options);
    };
    await queue.sendBatch(Array.from({ length: 300 }, (_, i) => ({ body: i })));
    let started = 0;
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const controller = new AbortController();
    const done = runConsumer({
      queue,
      handle: async () => {
        started += 1;
        await hold;
      },
      onGiveUp: async () => {},
      maxReceives: 3,
      concurrency: 1_000,
      signal: controller.signal,
      logger,
      backoff,
    });
    await until(() => started === 300);
    // The memory queue's 256, not SQS's 10: a burst is taken in two receives, not thirty.
    expect(queue.maxReceive).toBe(256);
    expect(asked.slice(0, 2)).toEqual([256, 256]);
    release();
    await until(async () => (await queue.depth()) === 0);
    controller.abort();
    await done;
  });

  it('on abort, resolves only after in-flight handlers finish, and acks their messages', async () => {
    const { queue, acks } = recordingQueue<string>();
    await queue.send('slow');
    const started = deferred();
    const release = deferred();
    const controller = new AbortController();
    let resolved = false;
    const done = runConsumer({
      queue,
      handle: async () => {
        started.resolve();
        await release.promise;
      },
      onGiveUp: async () => {},
      maxReceives: 3,
      concurrency: 2,
      signal: controller.signal,
      logger,
      backoff,
    }).then(() => {
      resolved = true;
    });
    await started.promise;
    controller.abort();
    await new Promise((r) => setTimeout(r, 50));
    expect(resolved).toBe(false);
    release.resolve();
    await done;
    expect(resolved).toBe(true);
    expect(acks).toHaveLength(1);
    expect(await queue.depth()).toBe(0);
  });

  it('on abort while idle, resolves promptly without waiting out the receive wait', async () => {
    const { queue } = recordingQueue<string>();
    const controller = new AbortController();
    const done = runConsumer({
      queue,
      handle: async () => {},
      onGiveUp: async () => {},
      maxReceives: 3,
      concurrency: 2,
      signal: controller.signal,
      logger,
      backoff,
    });
    await new Promise((r) => setTimeout(r, 20));
    const t = Date.now();
    controller.abort();
    await done;
    expect(Date.now() - t).toBeLessThan(500);
  });

  it('takes no new messages after abort', async () => {
    const { queue } = recordingQueue<string>();
    const controller = new AbortController();
    controller.abort();
    await queue.send('x');
    const handle = vi.fn(async () => {});
    await runConsumer({
      queue,
      handle,
      onGiveUp: async () => {},
      maxReceives: 3,
      concurrency: 2,
      signal: controller.signal,
      logger,
      backoff,
    });
    expect(handle).not.toHaveBeenCalled();
    expect(await queue.depth()).toBe(1);
  });
});

/** A queue whose receives hand out the given batches in turn (as SQS may: several of one group at once). */
function scriptedQueue<T>(batches: QueueMessage<T>[][]) {
  const calls: string[] = [];
  const queue: Queue<T> = {
    name: 'scripted',
    maxReceive: 10,
    async send() {},
    async sendBatch() {},
    async receive({ signal }) {
      const next = batches.shift();
      if (next) return next;
      await new Promise<void>((r) => {
        const t = setTimeout(r, 20);
        signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
      });
      return [];
    },
    async ack(m) {
      calls.push(`ack ${m.body}`);
    },
    async retry(m, delayMs) {
      calls.push(`retry ${m.body} ${delayMs}`);
    },
    async extendVisibility(m) {
      calls.push(`extend ${m.body}`);
    },
    async depth() {
      return 0;
    },
  };
  return { queue, calls };
}

const msg = (body: string, groupId?: string): QueueMessage<string> => ({ id: body, receipt: `r-${body}`, body, receiveCount: 1, ...(groupId ? { groupId } : {}) });

describe('runConsumer: visibility and shutdown', () => {
  it('extends the visibility of a message while its handler runs, so nobody else receives it', async () => {
    const inner = createMemoryQueue<string>('q', { visibilityMs: 60 });
    let extensions = 0;
    const queue: Queue<string> = {
      ...inner,
      name: inner.name,
      async extendVisibility(m, ms) {
        extensions += 1;
        expect(ms).toBe(60);
        return inner.extendVisibility(m, ms);
      },
    };
    await queue.send('slow');
    const controller = new AbortController();
    const handled: number[] = [];
    const done = runConsumer({
      queue,
      handle: async (m) => {
        handled.push(m.receiveCount);
        await new Promise((r) => setTimeout(r, 300)); // five times the visibility
      },
      onGiveUp: async () => {},
      maxReceives: 3,
      concurrency: 2,
      signal: controller.signal,
      logger,
      backoff,
    });
    await until(() => handled.length === 1);
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 50));
      expect(await inner.receive({ max: 1, waitMs: 0 })).toEqual([]); // a second consumer sees nothing
    }
    await until(async () => (await queue.depth()) === 0);
    const after = extensions;
    await new Promise((r) => setTimeout(r, 80));
    expect(extensions).toBe(after); // no extension once acked
    controller.abort();
    await done;
    expect(handled).toEqual([1]);
    expect(extensions).toBeGreaterThanOrEqual(5);
  });

  it('on abort, hands back a message whose handler outlives the grace period, visible at once', async () => {
    const { queue, retries, acks } = recordingQueue<string>();
    await queue.send('stuck');
    const started = deferred();
    const controller = new AbortController();
    const done = runConsumer({
      queue,
      handle: async () => {
        started.resolve();
        await new Promise(() => {}); // never finishes
      },
      onGiveUp: async () => {},
      maxReceives: 3,
      concurrency: 2,
      signal: controller.signal,
      logger,
      backoff,
      shutdownGraceMs: 50,
    });
    await started.promise;
    const t = Date.now();
    controller.abort();
    await done;
    expect(Date.now() - t).toBeGreaterThanOrEqual(45);
    expect(Date.now() - t).toBeLessThan(1_000);
    expect(retries).toEqual([{ receiveCount: 1, delayMs: 0 }]);
    expect(acks).toEqual([]);
    const again = await queue.receive({ max: 1, waitMs: 0 });
    expect(again.map((m) => [m.body, m.receiveCount])).toEqual([['stuck', 2]]);
  });

  it('runs the messages of one group one after another, in order, while other groups run alongside', async () => {
    const { queue, calls } = scriptedQueue<string>([[msg('a1', 'A'), msg('a2', 'A'), msg('b1', 'B'), msg('x')]]);
    const log: string[] = [];
    const controller = new AbortController();
    const done = runConsumer({
      queue,
      handle: async (m) => {
        log.push(`start ${m.body}`);
        await new Promise((r) => setTimeout(r, m.body === 'a1' ? 40 : 5));
        log.push(`end ${m.body}`);
      },
      onGiveUp: async () => {},
      maxReceives: 3,
      concurrency: 10,
      signal: controller.signal,
      logger,
      backoff,
    });
    await until(() => calls.filter((c) => c.startsWith('ack')).length === 4);
    controller.abort();
    await done;
    expect(log.indexOf('start a2')).toBeGreaterThan(log.indexOf('end a1'));
    expect(log.indexOf('end b1')).toBeLessThan(log.indexOf('end a1')); // B did not wait for A
    expect(log.indexOf('end x')).toBeLessThan(log.indexOf('end a1'));
  });

  it('with startGroupRunsTogether, starts a group\'s messages of one receive together, in order, and a later receive of the group after them', async () => {
    const { queue, calls } = scriptedQueue<string>([[msg('a1', 'A'), msg('a2', 'A'), msg('a3', 'A')], [msg('a4', 'A')]]);
    const log: string[] = [];
    const gate = deferred();
    const controller = new AbortController();
    const done = runConsumer({
      queue,
      handle: async (m) => {
        log.push(`start ${m.body}`);
        if (m.body !== 'a4') await gate.promise;
        if (m.body === 'a2') throw new Error('a2 fails on its own');
        log.push(`end ${m.body}`);
      },
      onGiveUp: async () => {},
      maxReceives: 1,
      concurrency: 10,
      signal: controller.signal,
      logger,
      backoff,
      startGroupRunsTogether: true,
    });
    await until(() => log.length === 3);
    expect(log).toEqual(['start a1', 'start a2', 'start a3']); // all running at once, none finished
    gate.resolve();
    await until(() => calls.filter((c) => c.startsWith('ack')).length === 4);
    controller.abort();
    await done;
    // a2 failed alone (given up here: maxReceives 1); a1 and a3 were still acked; a4 came after the run.
    expect(log.slice(3)).toEqual(['end a1', 'end a3', 'start a4', 'end a4']);
  });

  it('with startGroupRunsTogether, a group redelivered while its earlier run is still settling is handled, not handed back again and again', async () => {
    // a1 fails at once (short backoff) while a2 of the same run is still working: when a2 is acked,
    // the queue redelivers a1 at once, before the earlier run's outcome has settled. That
    // redelivery must be handled. Once, it was handed back because the earlier run had "failed",
    // then received again at once, forever, in microtasks alone: the process stopped dead.
    const { queue, retries, acks } = recordingQueue<string>();
    await queue.sendBatch([
      { body: 'a1', options: { groupId: 'A' } },
      { body: 'a2', options: { groupId: 'A' } },
    ]);
    const controller = new AbortController();
    const guarded: Queue<string> = {
      ...queue,
      async retry(m, delayMs) {
        if (retries.length >= 50) controller.abort(); // the spin never yields to a timer: stop it here
        return queue.retry(m, delayMs);
      },
    };
    const a2Slow = deferred();
    const handled: string[] = [];
    const done = runConsumer({
      queue: guarded,
      handle: async (m) => {
        handled.push(`${m.body}#${m.receiveCount}`);
        if (m.body === 'a1' && m.receiveCount === 1) throw new Error('a1 fails once');
        if (m.body === 'a2' && m.receiveCount === 1) await a2Slow.promise;
      },
      onGiveUp: async () => {},
      maxReceives: 5,
      concurrency: 10,
      signal: controller.signal,
      logger,
      backoff: { baseMs: 1, maxMs: 1 },
      startGroupRunsTogether: true,
    });
    await until(() => retries.length === 1); // a1 handed back with its backoff
    await new Promise((r) => setTimeout(r, 20)); // a1 visible again; the group waits on a2
    a2Slow.resolve();
    await until(() => acks.length === 2 || controller.signal.aborted);
    controller.abort();
    await done;
    expect(retries).toHaveLength(1);
    expect(handled).toEqual(['a1#1', 'a2#1', 'a1#2']);
  });

  it('hands back the rest of a group unhandled when an earlier message of it is retried', async () => {
    const { queue, calls } = scriptedQueue<string>([[msg('a1', 'A'), msg('a2', 'A'), msg('a3', 'A')]]);
    const handled: string[] = [];
    const controller = new AbortController();
    const done = runConsumer({
      queue,
      handle: async (m) => {
        handled.push(m.body);
        throw new Error('boom');
      },
      onGiveUp: async () => {},
      maxReceives: 3,
      concurrency: 10,
      signal: controller.signal,
      logger,
      backoff,
    });
    await until(() => calls.length === 3);
    controller.abort();
    await done;
    expect(handled).toEqual(['a1']);
    expect(calls[0]).toMatch(/^retry a1 \d+$/);
    expect(calls.slice(1)).toEqual(['retry a2 0', 'retry a3 0']);
  });

  it('on abort, hands back at once the messages that have not started, and finishes the running one', async () => {
    const { queue, calls } = scriptedQueue<string>([[msg('a1', 'A'), msg('a2', 'A')]]);
    const started = deferred();
    const release = deferred();
    const controller = new AbortController();
    const handled: string[] = [];
    const done = runConsumer({
      queue,
      handle: async (m) => {
        handled.push(m.body);
        started.resolve();
        await release.promise;
      },
      onGiveUp: async () => {},
      maxReceives: 3,
      concurrency: 10,
      signal: controller.signal,
      logger,
      backoff,
    });
    await started.promise;
    controller.abort();
    await until(() => calls.includes('retry a2 0')); // before a1 is done
    expect(calls).toEqual(['retry a2 0']);
    release.resolve();
    await done;
    expect(handled).toEqual(['a1']);
    expect(calls).toEqual(['retry a2 0', 'ack a1']);
  });
});

describe('backoffDelay', () => {
  it('stays within [exp/2, exp] with exp = min(maxMs, base * 2^(attempt-1))', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: 100_000 }), (attempt, baseMs, maxMs) => {
        const exp = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
        const d = backoffDelay(attempt, baseMs, maxMs);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(exp / 2);
        expect(d).toBeLessThanOrEqual(exp);
        expect(d).toBeLessThanOrEqual(maxMs);
      }),
    );
  });

  it('hits both ends of the jitter range', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect(backoffDelay(1, 100, 10_000)).toBe(50);
    expect(backoffDelay(3, 100, 10_000)).toBe(200);
    vi.spyOn(Math, 'random').mockReturnValue(0.999999);
    expect(backoffDelay(1, 100, 10_000)).toBe(100);
    expect(backoffDelay(3, 100, 10_000)).toBe(400);
  });

  it('is capped by maxMs', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999999);
    expect(backoffDelay(10, 250, 30_000)).toBe(30_000);
    expect(backoffDelay(1_000, 250, 30_000)).toBe(30_000);
    vi.spyOn(Math, 'random').mockReturnValue(0);
    expect(backoffDelay(10, 250, 30_000)).toBe(15_000);
  });

  it('treats attempt 0 and below like the first attempt', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999999);
    expect(backoffDelay(0, 100, 10_000)).toBe(100);
    expect(backoffDelay(-3, 100, 10_000)).toBe(100);
  });
});
