import { randomBytes } from 'node:crypto';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../config/schema.js';
import { isRetryable, SluiceError } from '../errors/base.js';
import { runConsumer } from './consumer.js';
import { createSqsQueue, QueueUnavailableError } from './sqs-queue.js';
import { createQueues, deadLetterBody, openSqsQueues, queueNames, resolveQueueUrls } from './sqs-topology.js';
import type { DeadLetterMessage, Queue, QueueMessage } from './types.js';

/**
 * Against moto_server (scripts/provision-test-services.sh starts it). Where moto and SQS differ the
 * assertions follow SQS and say how moto differs:
 * - moto accepts any past receipt handle of a message for DeleteMessage/ChangeMessageVisibility; SQS
 *   only the latest (an old one is ignored or refused). Tests only assert that stale ones are harmless.
 * - moto lets a FIFO long poll spin while a group is blocked, so FIFO "nothing to receive" checks use
 *   waitMs 0.
 */
const motoUrl = process.env.SLUICE_TEST_MOTO_URL ?? 'http://127.0.0.1:5000';
const run = `it${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function client(calls?: string[]): SQSClient {
  const c = new SQSClient({ region: 'us-east-1', endpoint: motoUrl, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  if (calls) {
    c.middlewareStack.add((next, context) => async (args) => {
      calls.push(context.commandName as string);
      return next(args);
    }, { step: 'initialize', name: 'countCalls' });
  }
  return c;
}

/** The four queues of a fresh prefix, with SQS adapters over the two work queues. */
async function topology(tag: string, opts: { visibilitySeconds?: number; maxReceiveCount?: number } = {}, calls?: string[]) {
  const c = client(calls);
  const prefix = `${run}-${tag}`;
  const { urls } = await createQueues(c, { prefix, ...opts });
  const visibilitySeconds = opts.visibilitySeconds ?? 30;
  const names = queueNames(prefix);
  const standard = createSqsQueue<{ n: number | string }>({ client: c, url: urls.requests, name: names.requests, fifo: false, visibilitySeconds, logger });
  const fifo = createSqsQueue<string>({ client: c, url: urls.signed, name: names.signed, fifo: true, visibilitySeconds, logger });
  return { c, prefix, urls, names, standard, fifo };
}

async function receiveAll<T>(queue: Queue<T>, count: number, timeoutMs = 10_000): Promise<QueueMessage<T>[]> {
  const got: QueueMessage<T>[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < count && Date.now() < deadline) got.push(...(await queue.receive({ max: 10, waitMs: 1_000 })));
  return got;
}

beforeAll(async () => {
  const ok = await fetch(`${motoUrl}/moto-api/`, { signal: AbortSignal.timeout(3_000) }).then(
    (r) => r.ok,
    () => false,
  );
  if (!ok) throw new Error(`moto_server is not reachable at ${motoUrl}. Start it with \`bash scripts/provision-test-services.sh\` (or point SLUICE_TEST_MOTO_URL at one).`);
});

describe('SQS topology', () => {
  it('createQueues is idempotent and sets the redrive policies', async () => {
    const c = client();
    const prefix = `${run}-topo`;
    const lines: string[] = [];
    const first = await createQueues(c, { prefix }, (l) => lines.push(l));
    const names = queueNames(prefix);
    expect(first.created.sort()).toEqual(Object.values(names).sort());
    expect(first.existing).toEqual([]);
    expect(lines).toContain(`created queue ${names.signed}`);
    const second = await createQueues(c, { prefix, maxReceiveCount: 25, visibilitySeconds: 45 });
    expect(second.created).toEqual([]);
    expect(second.existing.sort()).toEqual(Object.values(names).sort());
    expect(second.urls).toEqual(first.urls);

    const attrs = async (url: string) => (await c.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes!;
    const [requests, signed, invalidDlq, txDlq] = await Promise.all([first.urls.requests, first.urls.signed, first.urls.invalidDlq, first.urls.txDlq].map(attrs));
    expect(JSON.parse(requests!.RedrivePolicy!)).toEqual({ deadLetterTargetArn: invalidDlq!.QueueArn, maxReceiveCount: 25 });
    expect(JSON.parse(signed!.RedrivePolicy!)).toEqual({ deadLetterTargetArn: txDlq!.QueueArn, maxReceiveCount: 25 });
    expect(signed!.FifoQueue).toBe('true');
    expect(signed!.ContentBasedDeduplication).toBe('false');
    expect(txDlq!.FifoQueue).toBe('true');
    expect(requests!.FifoQueue).toBeUndefined();
    expect(requests!.VisibilityTimeout).toBe('45'); // the re-run converged
    expect(Number(invalidDlq!.MessageRetentionPeriod)).toBeGreaterThan(Number(requests!.MessageRetentionPeriod));
  });

  it('refuses a maxReceiveCount below 2', async () => {
    await expect(createQueues(client(), { prefix: `${run}-bad`, maxReceiveCount: 1 })).rejects.toThrow(/maxReceiveCount/);
  });

  it('resolveQueueUrls: explicit URLs win, the rest by name; a missing queue says what to do', async () => {
    const c = client();
    const prefix = `${run}-resolve`;
    const { urls } = await createQueues(c, { prefix });
    const base = configSchema.parse({ queuePrefix: prefix });
    expect(await resolveQueueUrls(c, base)).toEqual(urls);
    const explicit = `${motoUrl}/123456789012/somewhere-else`;
    expect((await resolveQueueUrls(c, { ...base, txDlqUrl: explicit })).txDlq).toBe(explicit);
    const missing = resolveQueueUrls(c, configSchema.parse({ queuePrefix: `${run}-nothing` }));
    await expect(missing).rejects.toThrow(SluiceError);
    await expect(missing).rejects.toThrow(/queues create.*SLUICE_/s);
    await expect(missing).rejects.toThrow(new RegExp(`${run}-nothing-`));
  });

  it('openSqsQueues gives the runtime its four queues; dead letters need no group', async () => {
    const prefix = `${run}-open`;
    await createQueues(client(), { prefix });
    const config = configSchema.parse({ queuePrefix: prefix, awsRegion: 'us-east-1', awsEndpointUrlSqs: motoUrl });
    const queues = await openSqsQueues(config, logger);
    try {
      const letter: DeadLetterMessage = { withdrawalId: 'w1', code: 'nonce_gap', reason: 'test', attempts: 3 };
      await queues.txDlq.send(letter);
      const [m] = await receiveAll(queues.txDlq, 1);
      expect(m!.body).toEqual(letter);
      await queues.txDlq.ack(m!);
      await queues.requests.send({ withdrawalId: 'w2' });
      const [r] = await receiveAll(queues.requests, 1);
      expect(r!.body).toEqual({ withdrawalId: 'w2' });
      await queues.requests.ack(r!);
      await expect(queues.signed.send({ withdrawalId: 'w3', txHash: '0x1' })).rejects.toThrow(/groupId/);
    } finally {
      queues.close();
    }
  });
});

describe('SQS queue', () => {
  it('batches 35 concurrent sends into at most 4 calls; each arrives exactly once; acks batch too', async () => {
    const calls: string[] = [];
    const { standard } = await topology('batch', {}, calls);
    calls.length = 0;
    await Promise.all(Array.from({ length: 35 }, (_, n) => standard.send({ n })));
    expect(calls.filter((c) => c === 'SendMessageBatchCommand').length).toBeLessThanOrEqual(4);
    expect(calls.filter((c) => c === 'SendMessageCommand')).toEqual([]);
    const got = await receiveAll(standard, 35);
    expect(got.map((m) => m.body.n).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 35 }, (_, n) => n));
    expect(got.every((m) => m.receiveCount === 1)).toBe(true);
    calls.length = 0;
    await Promise.all(got.map((m) => standard.ack(m)));
    expect(calls.filter((c) => c === 'DeleteMessageBatchCommand').length).toBeLessThanOrEqual(4);
    expect(calls.filter((c) => c === 'DeleteMessageCommand')).toEqual([]);
    expect(await standard.depth()).toBe(0);
    expect(await standard.receive({ max: 10, waitMs: 0 })).toEqual([]);
  });

  it('a failed entry in a batch rejects only its own caller', async () => {
    const { c, standard } = await topology('partial');
    // SQS reports per-entry failures inside a 200 answer; moto has no way to make one, so fake one.
    c.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (context.commandName === 'SendMessageBatchCommand') {
          const out = result.output as { Successful?: { Id?: string }[]; Failed?: unknown[] };
          const victim = out.Successful?.find((e) => e.Id === '2');
          if (victim) {
            out.Successful = out.Successful!.filter((e) => e !== victim);
            out.Failed = [...(out.Failed ?? []), { Id: '2', SenderFault: false, Code: 'InternalError', Message: 'try again' }];
          }
        }
        return result;
      },
      { step: 'initialize', name: 'failOneEntry' },
    );
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map((n) => standard.send({ n })));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const reason = (results[2] as PromiseRejectedResult).reason;
    expect(reason).toBeInstanceOf(QueueUnavailableError);
    expect(String(reason.message)).toMatch(/InternalError/);
  });

  it('FIFO: concurrent sends of one group keep call order across several batches', async () => {
    const { fifo } = await topology('fifo-order');
    await Promise.all(Array.from({ length: 25 }, (_, i) => fifo.send(String(i), { groupId: 'lane' })));
    const order: string[] = [];
    const deadline = Date.now() + 15_000;
    while (order.length < 25 && Date.now() < deadline) {
      const got = await fifo.receive({ max: 10, waitMs: 0 });
      order.push(...got.map((m) => m.body));
      await Promise.all(got.map((m) => fifo.ack(m)));
    }
    expect(order).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
  });

  it('FIFO: order within a group; a group with a message in flight is held back while another group proceeds', async () => {
    const { fifo } = await topology('fifo');
    await Promise.all([fifo.send('a1', { groupId: 'A' }), fifo.send('a2', { groupId: 'A' }), fifo.send('a3', { groupId: 'A' }), fifo.send('b1', { groupId: 'B' })]);
    const [a1] = await fifo.receive({ max: 1, waitMs: 0 });
    expect(a1!.body).toBe('a1');
    expect(a1!.groupId).toBe('A');
    const [b1] = await fifo.receive({ max: 1, waitMs: 0 });
    expect(b1!.body).toBe('b1'); // A is blocked by a1 in flight
    expect(await fifo.receive({ max: 10, waitMs: 0 })).toEqual([]);
    await fifo.ack(a1!);
    const rest = await receiveAll(fifo, 2);
    expect(rest.map((m) => m.body)).toEqual(['a2', 'a3']);
    await Promise.all([b1!, ...rest].map((m) => fifo.ack(m)));
  });

  it('FIFO through the consumer: a group is handled one message at a time, in order, beside other groups', async () => {
    const { fifo } = await topology('fifo-consumer');
    const sends = [];
    for (let i = 1; i <= 4; i++) sends.push(fifo.send(`A${i}`, { groupId: 'A' }), fifo.send(`B${i}`, { groupId: 'B' }));
    await Promise.all(sends);
    const log: string[] = [];
    const controller = new AbortController();
    const done = runConsumer({
      queue: fifo,
      handle: async (m) => {
        log.push(`+${m.body}`);
        await sleep(30);
        log.push(`-${m.body}`);
      },
      onGiveUp: async () => {},
      maxReceives: 3,
      concurrency: 10,
      signal: controller.signal,
      logger,
      pollWaitMs: 1_000,
    });
    const deadline = Date.now() + 15_000;
    while (log.filter((l) => l.startsWith('-')).length < 8 && Date.now() < deadline) await sleep(20);
    controller.abort();
    await done;
    for (const g of ['A', 'B']) {
      const mine = log.filter((l) => l.slice(1).startsWith(g));
      expect(mine).toEqual([1, 2, 3, 4].flatMap((i) => [`+${g}${i}`, `-${g}${i}`])); // strictly one after another
    }
    expect(log.indexOf('+B1')).toBeLessThan(log.indexOf('-A1')); // B did not wait for A
    expect(await fifo.depth()).toBe(0);
  });

  it('FIFO dedup: a repeated dedupId within the window is dropped; without one every send counts', async () => {
    const { fifo } = await topology('dedup');
    await fifo.send('first', { groupId: 'G', dedupId: '0xabc' });
    await fifo.send('again', { groupId: 'G', dedupId: '0xabc' });
    await fifo.send('same', { groupId: 'H' });
    await fifo.send('same', { groupId: 'H' });
    const bodies: string[] = [];
    const deadline = Date.now() + 10_000;
    while (bodies.length < 3 && Date.now() < deadline) {
      const got = await fifo.receive({ max: 10, waitMs: 0 });
      bodies.push(...got.map((m) => m.body));
      await Promise.all(got.map((m) => fifo.ack(m))); // a group's next message comes once this one is gone
    }
    expect(bodies.sort()).toEqual(['first', 'same', 'same']);
    expect(await fifo.receive({ max: 10, waitMs: 0 })).toEqual([]); // 'again' never arrives
  });

  it('FIFO send without a groupId is a clear programming error', async () => {
    const { fifo } = await topology('nogroup');
    const err = await fifo.send('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).code).toBe('queue_group_required');
    expect(isRetryable(err)).toBe(false);
  });

  for (const kind of ['standard', 'fifo'] as const) {
    it(`${kind}: a duplicate delivery, and a late ack/retry/extend from the expired one, are harmless`, async () => {
      const t = await topology(`late-${kind}`, { visibilitySeconds: 1 });
      const q = (kind === 'fifo' ? t.fifo : t.standard) as Queue<unknown>;
      await q.send({ n: 'x' }, { groupId: 'G' });
      const [first] = await q.receive({ max: 1, waitMs: 1_000 });
      await sleep(1_300);
      const [second] = await q.receive({ max: 1, waitMs: 1_000 });
      expect(second!.id).toBe(first!.id);
      expect(second!.receiveCount).toBe(2);
      await q.extendVisibility(first!, 5_000);
      await q.retry(first!, 0);
      await q.ack(first!); // the slow first consumer finishes late
      await q.ack(second!);
      await q.ack(second!); // and twice
      await sleep(1_300);
      expect(await q.receive({ max: 10, waitMs: 0 })).toEqual([]);
      expect(await q.depth()).toBe(0);
    });
  }

  it('extendVisibility keeps a message hidden past its timeout; retry(m, 0) hands it back at once', async () => {
    const { standard } = await topology('extend', { visibilitySeconds: 1 });
    await standard.send({ n: 1 });
    const [m] = await standard.receive({ max: 1, waitMs: 1_000 });
    await sleep(500);
    await standard.extendVisibility(m!, 3_000);
    await sleep(1_200); // well past the original 1 s
    expect(await standard.receive({ max: 1, waitMs: 0 })).toEqual([]);
    await standard.retry(m!, 0);
    const [again] = await standard.receive({ max: 1, waitMs: 0 });
    expect(again!.id).toBe(m!.id);
    expect(again!.receiveCount).toBe(2);
    await standard.ack(again!);
  });

  it('the consumer keeps a slow message hidden from a second consumer', async () => {
    const { standard } = await topology('slow', { visibilitySeconds: 1 });
    await standard.send({ n: 'slow' });
    let handled = 0;
    const controller = new AbortController();
    const done = runConsumer({
      queue: standard,
      handle: async () => {
        handled += 1;
        await sleep(2_500);
      },
      onGiveUp: async () => {},
      maxReceives: 3,
      concurrency: 1,
      signal: controller.signal,
      logger,
      pollWaitMs: 1_000,
    });
    while (handled === 0) await sleep(20);
    for (let i = 0; i < 4; i++) {
      await sleep(500);
      expect(await standard.receive({ max: 1, waitMs: 0 })).toEqual([]);
    }
    while ((await standard.depth()) > 0) await sleep(100);
    controller.abort();
    await done;
    expect(handled).toBe(1);
  });

  it('on shutdown the consumer hands a still-running message back, visible at once', async () => {
    const { standard } = await topology('release'); // visibility 30 s: only the release can bring it back now
    await standard.send({ n: 'stuck' });
    let started = false;
    const controller = new AbortController();
    const done = runConsumer({
      queue: standard,
      handle: async () => {
        started = true;
        await new Promise(() => {});
      },
      onGiveUp: async () => {},
      maxReceives: 3,
      concurrency: 2,
      signal: controller.signal,
      logger,
      shutdownGraceMs: 300,
      pollWaitMs: 1_000,
    });
    while (!started) await sleep(20);
    controller.abort();
    await done;
    const [back] = await standard.receive({ max: 1, waitMs: 0 });
    expect(back!.body).toEqual({ n: 'stuck' });
    expect(back!.receiveCount).toBe(2);
    await standard.ack(back!);
  });

  it('an aborted long poll returns promptly', async () => {
    const { standard } = await topology('abort');
    const controller = new AbortController();
    const t = Date.now();
    setTimeout(() => controller.abort(), 200);
    expect(await standard.receive({ max: 10, waitMs: 20_000, signal: controller.signal })).toEqual([]);
    expect(Date.now() - t).toBeLessThan(2_000);
  });

  for (const kind of ['standard', 'fifo'] as const) {
    it(`${kind}: after maxReceiveCount receives without an ack SQS moves the message to the DLQ`, async () => {
      const t = await topology(`redrive-${kind}`, { visibilitySeconds: 1, maxReceiveCount: 2 });
      const q = (kind === 'fifo' ? t.fifo : t.standard) as Queue<unknown>;
      await q.send({ withdrawalId: 'w-poison', action: 'sign' }, { groupId: 'G' });
      for (const count of [1, 2]) {
        const [m] = await q.receive({ max: 1, waitMs: 2_000 });
        expect(m!.receiveCount).toBe(count);
        await sleep(1_200); // crash: never acked
      }
      expect(await q.receive({ max: 1, waitMs: 0 })).toEqual([]); // the third receive finds it gone
      const dlqRole = kind === 'fifo' ? 'txDlq' : 'invalidDlq';
      const dlq = createSqsQueue<DeadLetterMessage>({ client: t.c, url: t.urls[dlqRole], name: t.names[dlqRole], fifo: kind === 'fifo', visibilitySeconds: 30, logger, decode: deadLetterBody });
      const [dead] = await receiveAll(dlq, 1);
      expect(dead!.body).toMatchObject({ withdrawalId: 'w-poison', code: 'sqs_redrive' });
      expect(dead!.body.attempts).toBeGreaterThanOrEqual(2);
      await dlq.ack(dead!);
    });
  }

  it('an SQS outage surfaces as a retryable QueueUnavailableError', async () => {
    const dead = new SQSClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
    const q = createSqsQueue<string>({ client: dead, url: 'http://127.0.0.1:1/123456789012/nowhere', name: 'nowhere', fifo: false, visibilitySeconds: 30, logger });
    for (const op of [() => q.send('x'), () => q.receive({ max: 1, waitMs: 0 }), () => q.depth(), () => q.retry({ id: 'i', receipt: 'r', body: 'x', receiveCount: 1 }, 0)]) {
      const err = await op().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(QueueUnavailableError);
      expect(isRetryable(err)).toBe(true);
    }
    dead.destroy();
  });
});
