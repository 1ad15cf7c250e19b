import { describe, expect, it, vi } from 'vitest';
import { createMemoryQueue } from './memory-queue.js';

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('createMemoryQueue', () => {
  it('delivers a sent message with its body, name and receiveCount 1', async () => {
    const q = createMemoryQueue<{ n: number }>('requests');
    expect(q.name).toBe('requests');
    await q.send({ n: 1 });
    const got = await q.receive({ max: 10, waitMs: 0 });
    expect(got).toHaveLength(1);
    expect(got[0]!.body).toEqual({ n: 1 });
    expect(got[0]!.receiveCount).toBe(1);
    expect(typeof got[0]!.id).toBe('string');
    expect(got[0]).not.toHaveProperty('groupId');
  });

  it('delivers in send order and honours max', async () => {
    const q = createMemoryQueue<number>('q');
    for (const n of [1, 2, 3, 4]) await q.send(n);
    const first = await q.receive({ max: 3, waitMs: 0 });
    expect(first.map((m) => m.body)).toEqual([1, 2, 3]);
    const rest = await q.receive({ max: 3, waitMs: 0 });
    expect(rest.map((m) => m.body)).toEqual([4]);
  });

  it('ack deletes the message; depth counts visible and in-flight messages', async () => {
    const q = createMemoryQueue<string>('q');
    expect(await q.depth()).toBe(0);
    await q.send('a');
    await q.send('b');
    expect(await q.depth()).toBe(2);
    const [a] = await q.receive({ max: 1, waitMs: 0 });
    expect(await q.depth()).toBe(2); // in flight still counts
    await q.ack(a!);
    expect(await q.depth()).toBe(1);
    const [b] = await q.receive({ max: 1, waitMs: 0 });
    expect(b!.body).toBe('b');
    await q.ack(b!);
    expect(await q.depth()).toBe(0);
    expect(await q.receive({ max: 10, waitMs: 0 })).toEqual([]);
  });

  it('acking an unknown or already-acked message is harmless', async () => {
    const q = createMemoryQueue<string>('q');
    await q.send('a');
    const [a] = await q.receive({ max: 1, waitMs: 0 });
    await q.ack(a!);
    await q.ack(a!);
    await q.ack({ id: 'nope', receipt: 'r', body: 'x', receiveCount: 1 });
    expect(await q.depth()).toBe(0);
  });

  it('ignores ack and retry from a delivery whose visibility already ran out', async () => {
    const q = createMemoryQueue<string>('q', { visibilityMs: 30 });
    await q.send('a', { groupId: 'g' });
    const [stale] = await q.receive({ max: 1, waitMs: 0 });
    await new Promise((r) => setTimeout(r, 50));
    const [fresh] = await q.receive({ max: 1, waitMs: 0 });
    expect(fresh!.id).toBe(stale!.id);
    await q.ack(stale!); // the slow first consumer finishes late
    await q.retry(stale!, 0);
    expect(await q.depth()).toBe(1);
    expect(await q.receive({ max: 1, waitMs: 0 })).toEqual([]); // still in flight for `fresh`
    await q.ack(fresh!);
    expect(await q.depth()).toBe(0);
  });

  it('hides a received message until its visibility timeout, then redelivers it with receiveCount + 1', async () => {
    const q = createMemoryQueue<string>('q', { visibilityMs: 50 });
    await q.send('a');
    const [first] = await q.receive({ max: 10, waitMs: 0 });
    expect(first!.receiveCount).toBe(1);
    expect(await q.receive({ max: 10, waitMs: 0 })).toEqual([]);
    await wait(70);
    const again = await q.receive({ max: 10, waitMs: 0 });
    expect(again).toHaveLength(1);
    expect(again[0]!.id).toBe(first!.id);
    expect(again[0]!.body).toBe('a');
    expect(again[0]!.receiveCount).toBe(2);
  });

  it('an acked message is not redelivered after the visibility timeout', async () => {
    const q = createMemoryQueue<string>('q', { visibilityMs: 30 });
    await q.send('a');
    const [m] = await q.receive({ max: 10, waitMs: 0 });
    await q.ack(m!);
    await wait(50);
    expect(await q.receive({ max: 10, waitMs: 0 })).toEqual([]);
  });

  it('a waiting receive picks up a message whose visibility runs out', async () => {
    const q = createMemoryQueue<string>('q', { visibilityMs: 50 });
    await q.send('a');
    await q.receive({ max: 1, waitMs: 0 });
    const started = Date.now();
    const got = await q.receive({ max: 1, waitMs: 1_000 });
    const elapsed = Date.now() - started;
    expect(got.map((m) => [m.body, m.receiveCount])).toEqual([['a', 2]]);
    expect(elapsed).toBeGreaterThanOrEqual(30);
    expect(elapsed).toBeLessThan(500);
  });

  it('retry hides the message for the delay, then redelivers it', async () => {
    const q = createMemoryQueue<string>('q', { visibilityMs: 10_000 });
    await q.send('a');
    const [m] = await q.receive({ max: 1, waitMs: 0 });
    await q.retry(m!, 60);
    expect(await q.receive({ max: 1, waitMs: 0 })).toEqual([]);
    await wait(80);
    const again = await q.receive({ max: 1, waitMs: 0 });
    expect(again).toHaveLength(1);
    expect(again[0]!.id).toBe(m!.id);
    expect(again[0]!.receiveCount).toBe(2);
  });

  it('retry with delay 0 makes the message visible again at once (well before the visibility timeout)', async () => {
    const q = createMemoryQueue<string>('q', { visibilityMs: 10_000 });
    await q.send('a');
    const [m] = await q.receive({ max: 1, waitMs: 0 });
    await q.retry(m!, 0);
    const again = await q.receive({ max: 1, waitMs: 0 });
    expect(again.map((x) => x.receiveCount)).toEqual([2]);
  });

  it('extendVisibility keeps a received message hidden past its original timeout', async () => {
    const q = createMemoryQueue<string>('q', { visibilityMs: 40 });
    expect(q.visibilityMs).toBe(40);
    await q.send('a');
    const [m] = await q.receive({ max: 1, waitMs: 0 });
    await wait(20);
    await q.extendVisibility(m!, 100);
    await wait(40); // past the original 40 ms
    expect(await q.receive({ max: 1, waitMs: 0 })).toEqual([]);
    await wait(80);
    expect((await q.receive({ max: 1, waitMs: 0 })).map((x) => x.receiveCount)).toEqual([2]);
  });

  it('extendVisibility ignores a stale, retried or acked delivery', async () => {
    const q = createMemoryQueue<string>('q', { visibilityMs: 30 });
    await q.send('a');
    const [stale] = await q.receive({ max: 1, waitMs: 0 });
    await wait(40);
    const [fresh] = await q.receive({ max: 1, waitMs: 0 });
    await q.retry(fresh!, 0);
    await q.extendVisibility(stale!, 10_000); // old receipt: no effect
    await q.extendVisibility(fresh!, 10_000); // retried: stays visible
    const [third] = await q.receive({ max: 1, waitMs: 0 });
    expect(third!.receiveCount).toBe(3);
    await q.ack(third!);
    await q.extendVisibility(third!, 10_000);
    expect(await q.depth()).toBe(0);
  });

  it('delayMs on send hides a new message for that long', async () => {
    const q = createMemoryQueue<string>('q');
    await q.send('later', { delayMs: 50 });
    await q.send('now');
    expect((await q.receive({ max: 10, waitMs: 0 })).map((m) => m.body)).toEqual(['now']);
    await wait(70);
    expect((await q.receive({ max: 10, waitMs: 0 })).map((m) => m.body)).toEqual(['later']);
  });

  describe('FIFO groups', () => {
    it('a receive takes a free group\'s messages in order (as SQS FIFO); the group stays closed until they are done, while other groups proceed', async () => {
      const q = createMemoryQueue<string>('q', { visibilityMs: 10_000 });
      await q.send('a1', { groupId: 'A' });
      await q.send('a2', { groupId: 'A' });
      await q.send('b1', { groupId: 'B' });
      await q.send('a3', { groupId: 'A' });
      await q.send('b2', { groupId: 'B' });
      await q.send('free');

      const first = await q.receive({ max: 2, waitMs: 0 });
      expect(first.map((m) => [m.body, m.groupId])).toEqual([['a1', 'A'], ['a2', 'A']]);
      // A is out: the next receive skips a3 and takes B's and the free message, in order.
      const second = await q.receive({ max: 10, waitMs: 0 });
      expect(second.map((m) => m.body)).toEqual(['b1', 'b2', 'free']);
      expect(await q.receive({ max: 10, waitMs: 0 })).toEqual([]);

      await q.ack(first[0]!); // a2 is still out: A stays closed
      expect(await q.receive({ max: 10, waitMs: 0 })).toEqual([]);
      await q.ack(first[1]!);
      expect((await q.receive({ max: 10, waitMs: 0 })).map((m) => m.body)).toEqual(['a3']);
    });

    it('a receive is filled from the first free group first, then with the heads of others (as SQS FIFO)', async () => {
      const q = createMemoryQueue<string>('q', { visibilityMs: 10_000 });
      for (let i = 1; i <= 3; i++) for (const g of ['A', 'B', 'C']) await q.send(`${g.toLowerCase()}${i}`, { groupId: g });
      await q.send('free');
      // Interleaved by send time, yet one receive gets A's run, not one message of each group.
      expect((await q.receive({ max: 2, waitMs: 0 })).map((m) => m.body)).toEqual(['a1', 'a2']);
      expect((await q.receive({ max: 5, waitMs: 0 })).map((m) => m.body)).toEqual(['b1', 'b2', 'b3', 'c1', 'c2']);
      expect((await q.receive({ max: 10, waitMs: 0 })).map((m) => m.body)).toEqual(['free']);
    });

    it('a retried group head blocks the rest of its group until it is delivered again', async () => {
      const q = createMemoryQueue<string>('q', { visibilityMs: 10_000 });
      await q.send('a1', { groupId: 'A' });
      await q.send('a2', { groupId: 'A' });
      await q.send('b1', { groupId: 'B' });
      const [a1] = await q.receive({ max: 1, waitMs: 0 });
      expect(a1!.body).toBe('a1');
      await q.retry(a1!, 60);
      // a2 must not overtake the retried a1; B is not held up.
      expect((await q.receive({ max: 10, waitMs: 0 })).map((m) => m.body)).toEqual(['b1']);
      expect(await q.receive({ max: 10, waitMs: 0 })).toEqual([]);
      await wait(80);
      const again = await q.receive({ max: 10, waitMs: 0 });
      expect(again.map((m) => [m.body, m.receiveCount])).toEqual([['a1', 2], ['a2', 1]]);
    });

    it('a delayed group head blocks the messages behind it', async () => {
      const q = createMemoryQueue<string>('q');
      await q.send('a1', { groupId: 'A', delayMs: 50 });
      await q.send('a2', { groupId: 'A' });
      expect(await q.receive({ max: 10, waitMs: 0 })).toEqual([]);
      await wait(70);
      expect((await q.receive({ max: 10, waitMs: 0 })).map((m) => m.body)).toEqual(['a1', 'a2']);
    });

    it('group messages whose visibility timed out are redelivered in their order', async () => {
      const q = createMemoryQueue<string>('q', { visibilityMs: 40 });
      await q.send('a1', { groupId: 'A' });
      await q.send('a2', { groupId: 'A' });
      await q.receive({ max: 10, waitMs: 0 });
      await wait(60);
      const got = await q.receive({ max: 10, waitMs: 0 });
      expect(got.map((m) => [m.body, m.receiveCount])).toEqual([['a1', 2], ['a2', 2]]);
    });
  });

  describe('dedup', () => {
    it('drops a repeated dedupId within the window', async () => {
      const q = createMemoryQueue<string>('q');
      await q.send('first', { dedupId: 'd1' });
      await q.send('second', { dedupId: 'd1' });
      await q.send('other', { dedupId: 'd2' });
      expect(await q.depth()).toBe(2);
      const got = await q.receive({ max: 10, waitMs: 0 });
      expect(got.map((m) => m.body)).toEqual(['first', 'other']);
    });

    it('still drops the repeat after the original was acked, while inside the window', async () => {
      const q = createMemoryQueue<string>('q');
      await q.send('first', { dedupId: 'd1' });
      const [m] = await q.receive({ max: 1, waitMs: 0 });
      await q.ack(m!);
      await q.send('again', { dedupId: 'd1' });
      expect(await q.depth()).toBe(0);
    });

    it('accepts the same dedupId again once the window has passed', async () => {
      const q = createMemoryQueue<string>('q', { dedupWindowMs: 30 });
      await q.send('first', { dedupId: 'd1' });
      await wait(50);
      await q.send('second', { dedupId: 'd1' });
      expect((await q.receive({ max: 10, waitMs: 0 })).map((m) => m.body)).toEqual(['first', 'second']);
    });

    it('messages without a dedupId are never dropped', async () => {
      const q = createMemoryQueue<string>('q');
      await q.send('x');
      await q.send('x');
      expect(await q.depth()).toBe(2);
    });
  });

  describe('long polling', () => {
    it('returns early when a message is sent while waiting', async () => {
      const q = createMemoryQueue<string>('q');
      const started = Date.now();
      const pending = q.receive({ max: 10, waitMs: 5_000 });
      setTimeout(() => void q.send('late'), 30);
      const got = await pending;
      expect(got.map((m) => m.body)).toEqual(['late']);
      expect(Date.now() - started).toBeLessThan(1_000);
    });

    it('returns early when an in-flight message is retried while waiting', async () => {
      const q = createMemoryQueue<string>('q', { visibilityMs: 60_000 });
      await q.send('a');
      const [m] = await q.receive({ max: 1, waitMs: 0 });
      const started = Date.now();
      const pending = q.receive({ max: 10, waitMs: 5_000 });
      setTimeout(() => void q.retry(m!, 0), 30);
      expect((await pending).map((x) => x.body)).toEqual(['a']);
      expect(Date.now() - started).toBeLessThan(1_000);
    });

    it('returns [] after waitMs when nothing arrives', async () => {
      const q = createMemoryQueue<string>('q');
      const started = Date.now();
      const got = await q.receive({ max: 10, waitMs: 80 });
      const elapsed = Date.now() - started;
      expect(got).toEqual([]);
      expect(elapsed).toBeGreaterThanOrEqual(70);
      expect(elapsed).toBeLessThan(1_000);
    });

    it('an abort signal ends a waiting receive with []', async () => {
      const q = createMemoryQueue<string>('q');
      const controller = new AbortController();
      const started = Date.now();
      const pending = q.receive({ max: 10, waitMs: 10_000, signal: controller.signal });
      setTimeout(() => controller.abort(), 30);
      expect(await pending).toEqual([]);
      expect(Date.now() - started).toBeLessThan(1_000);
    });

    it('an already-aborted signal returns at once, but still hands out visible messages', async () => {
      const q = createMemoryQueue<string>('q');
      const controller = new AbortController();
      controller.abort();
      const started = Date.now();
      expect(await q.receive({ max: 10, waitMs: 10_000, signal: controller.signal })).toEqual([]);
      expect(Date.now() - started).toBeLessThan(500);
      await q.send('a');
      expect((await q.receive({ max: 10, waitMs: 10_000, signal: controller.signal })).map((m) => m.body)).toEqual(['a']);
    });

    it('a waiting receive picks up a delayed message even when the clock ticks between its reads', async () => {
      // On a loaded host the millisecond can turn between the receive's look at the queue and its
      // reckoning of how long to sleep. A message that became visible in between must not leave the
      // receive asleep for its whole long poll (a stalled lane in dev mode for up to 20 s).
      let reads = 0;
      const base = Date.now();
      const clock = vi.spyOn(Date, 'now').mockImplementation(() => base + reads++);
      try {
        for (let delayMs = 1; delayMs <= 9; delayMs++) {
          const q = createMemoryQueue<number>('q');
          await q.send(delayMs, { delayMs });
          let guard: NodeJS.Timeout | undefined;
          const stalled = new Promise<'stalled'>((r) => (guard = setTimeout(() => r('stalled'), 2_000)));
          const got = await Promise.race([q.receive({ max: 1, waitMs: 20_000 }), stalled]);
          clearTimeout(guard);
          expect(got === 'stalled' ? got : got.map((m) => m.body)).toEqual([delayMs]);
        }
      } finally {
        clock.mockRestore();
      }
    });

    it('one send wakes every waiting receiver, and only one of them gets the message', async () => {
      const q = createMemoryQueue<string>('q');
      const r1 = q.receive({ max: 1, waitMs: 150 });
      const r2 = q.receive({ max: 1, waitMs: 150 });
      setTimeout(() => void q.send('only'), 20);
      const [g1, g2] = await Promise.all([r1, r2]);
      expect([...g1, ...g2].map((m) => m.body)).toEqual(['only']);
    });
  });
});
