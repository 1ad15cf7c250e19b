import { createHash, randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type BatchResultErrorEntry,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Logger } from 'pino';
import { RetryableError, SluiceError } from '../errors/base.js';
import type { Queue, QueueMessage, SendOptions } from './types.js';

/** ReceiveMessage returns at most 10 messages (an SQS limit). */
const MAX_RECEIVE = 10;

/** SQS did not do what we asked (outage, throttling, a refused entry): a later try may succeed (invariant 11). */
export class QueueUnavailableError extends RetryableError {
  override name = 'QueueUnavailableError';
  constructor(queue: string, op: string, cause?: unknown) {
    super(`Queue ${queue} unavailable for ${op}.`, { code: 'queue_unavailable', cause });
  }
}

export type SqsQueueOptions<T> = {
  client: SQSClient;
  url: string;
  name: string;
  fifo: boolean;
  visibilitySeconds: number;
  logger: Logger;
  /** FIFO: group of a message sent without one, for queues whose order does not matter (dead letters). */
  defaultGroupId?: (body: T) => string;
  /** Turns a parsed body into T, e.g. a DLQ's redriven message, which keeps its source queue's shape. */
  decode?: (body: unknown, meta: { receiveCount: number }) => T;
};

const MAX_VISIBILITY_S = 43_200; // SQS: 12 hours
const MAX_DELAY_S = 900; // SQS: 15 minutes, standard queues only
const MAX_BATCH_BYTES = 256 * 1024; // the long-standing batch payload limit (newer regions allow 1 MiB)

/**
 * Queue<T> over one SQS queue. Sends and acks from concurrent callers are gathered into batch calls
 * (10 entries, ~5 ms), so a burst of N messages costs about N/10 requests; each caller still gets
 * its own entry's outcome. A delivery whose receipt went stale (redelivered, already deleted) makes
 * ack/retry/extendVisibility no-ops, as in the memory queue: consumers tolerate repeats anyway.
 */
export function createSqsQueue<T>(options: SqsQueueOptions<T>): Queue<T> {
  const { client, url, name, fifo, logger } = options;
  const fail = (op: string) => (err: unknown) => {
    throw new QueueUnavailableError(name, op, err);
  };

  const sendBatcher = createBatcher<SendMessageBatchRequestEntry>({
    maxBytes: MAX_BATCH_BYTES,
    run: async (batch) => {
      const out = await client
        .send(new SendMessageBatchCommand({ QueueUrl: url, Entries: batch.map((b, i) => ({ ...b.entry, Id: String(i) })) }))
        .catch(fail('send'));
      settle(batch, out.Successful, out.Failed, 'send', () => false);
    },
  });

  const deleteBatcher = createBatcher<string>({
    run: async (batch) => {
      const out = await client
        .send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: batch.map((b, i) => ({ Id: String(i), ReceiptHandle: b.entry })) }))
        .catch(fail('ack'));
      settle(batch, out.Successful, out.Failed, 'ack', (f) => isStaleReceipt(f.Code, f.Message));
    },
  });

  function settle<E>(batch: Batched<E>[], ok: { Id: string | undefined }[] = [], failed: BatchResultErrorEntry[] = [], op: string, harmless: (f: BatchResultErrorEntry) => boolean): void {
    for (const s of ok) batch[Number(s.Id)]?.resolve();
    for (const f of failed) {
      const b = batch[Number(f.Id)];
      if (!b) continue;
      if (harmless(f)) {
        logger.debug({ queue: name, code: f.Code }, `${op}: stale receipt, nothing to do`);
        b.resolve();
      } else {
        b.reject(new QueueUnavailableError(name, op, { message: `${f.Code}: ${f.Message ?? ''}` }));
      }
    }
    // An entry SQS did not mention must not leave its caller waiting forever.
    for (const b of batch) b.reject(new QueueUnavailableError(name, op, { message: 'entry missing from the batch result' }));
  }

  function entryFor(body: T, opts: SendOptions): SendMessageBatchRequestEntry & { Id: string } {
    const MessageBody = JSON.stringify(body);
    if (!fifo) {
      // Standard queues: groupId would turn on "fair queues" and dedupId is not allowed; ignore both.
      const delay = opts.delayMs ? clamp(Math.ceil(opts.delayMs / 1000), 0, MAX_DELAY_S) : 0;
      return { Id: '', MessageBody, ...(delay ? { DelaySeconds: delay } : {}) };
    }
    const group = opts.groupId ?? options.defaultGroupId?.(body);
    if (!group) throw new SluiceError(`Queue ${name} is a FIFO queue: send() needs options.groupId.`, { code: 'queue_group_required' });
    // FIFO queues refuse per-message DelaySeconds. Without a dedupId each send is its own message, as
    // in the memory queue: a hash of the body would silently drop an operator's retry sent within
    // five minutes of the original.
    return { Id: '', MessageBody, MessageGroupId: sqsToken(group), MessageDeduplicationId: sqsToken(opts.dedupId ?? randomUUID()) };
  }

  function decode(raw: string | undefined, receiveCount: number): T {
    const parsed: unknown = JSON.parse(raw ?? '');
    return options.decode ? options.decode(parsed, { receiveCount }) : (parsed as T);
  }

  async function changeVisibility(op: string, message: QueueMessage<T>, ms: number): Promise<void> {
    const seconds = clamp(Math.ceil(ms / 1000), 0, MAX_VISIBILITY_S);
    try {
      await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: message.receipt, VisibilityTimeout: seconds }));
    } catch (err) {
      const e = err as { name?: string; Code?: string; message?: string };
      if (isStaleReceipt(`${e.name} ${e.Code}`, e.message)) {
        logger.debug({ queue: name, messageId: message.id }, `${op}: stale receipt, nothing to do`);
        return;
      }
      throw new QueueUnavailableError(name, op, err);
    }
  }

  async function send(body: T, opts: SendOptions = {}): Promise<void> {
    const entry = entryFor(body, opts);
    await sendBatcher.add(entry, { group: entry.MessageGroupId, bytes: Buffer.byteLength(entry.MessageBody ?? '') });
  }

  return {
    name,
    visibilityMs: options.visibilitySeconds * 1000,
    maxReceive: MAX_RECEIVE,
    send,
    // The batcher already packs concurrent sends into SendMessageBatch calls of 10.
    async sendBatch(messages): Promise<void> {
      await Promise.all(messages.map((m) => send(m.body, m.options)));
    },

    async receive({ max, waitMs, signal }): Promise<QueueMessage<T>[]> {
      if (signal?.aborted) return [];
      let out;
      try {
        out = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: clamp(max, 1, MAX_RECEIVE),
            WaitTimeSeconds: clamp(Math.ceil(waitMs / 1000), 0, 20),
            VisibilityTimeout: options.visibilitySeconds,
            MessageSystemAttributeNames: ['ApproximateReceiveCount', 'MessageGroupId'],
          }),
          signal ? { abortSignal: signal } : {},
        );
      } catch (err) {
        // Shutdown cut the long poll short. Anything SQS handed out meanwhile comes back after its visibility.
        if (signal?.aborted) return [];
        throw new QueueUnavailableError(name, 'receive', err);
      }
      const messages: QueueMessage<T>[] = [];
      for (const m of out.Messages ?? []) {
        const receiveCount = Number(m.Attributes?.ApproximateReceiveCount ?? 1);
        let body: T;
        try {
          body = decode(m.Body, receiveCount);
        } catch (err) {
          // Not ours to parse: leave it in flight; the queue's redrive policy moves it to the DLQ.
          logger.error({ err, queue: name, messageId: m.MessageId, receiveCount }, 'unreadable message body; leaving it to the redrive policy');
          continue;
        }
        const groupId = m.Attributes?.MessageGroupId;
        messages.push({ id: m.MessageId ?? '', receipt: m.ReceiptHandle ?? '', body, receiveCount, ...(groupId ? { groupId } : {}) });
      }
      return messages;
    },

    ack: (message) => deleteBatcher.add(message.receipt, {}),
    retry: (message, delayMs) => changeVisibility('retry', message, delayMs),
    extendVisibility: (message, visibilityMs) => changeVisibility('extendVisibility', message, visibilityMs),

    async depth(): Promise<number> {
      const names = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;
      const out = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [...names] })).catch(fail('depth'));
      return names.reduce((sum, n) => sum + Number(out.Attributes?.[n] ?? 0), 0);
    },
  };
}

/**
 * The receipt no longer names a current delivery: SQS says MessageNotInflight or
 * ReceiptHandleIsInvalid, or for FIFO queues InvalidParameterValue "...receipt handle has expired".
 */
function isStaleReceipt(code: string | undefined, message: string | undefined): boolean {
  return /ReceiptHandleIsInvalid|MessageNotInflight/i.test(code ?? '') || (/InvalidParameterValue/i.test(code ?? '') && /receipt handle/i.test(message ?? ''));
}

/** Group and dedup ids allow up to 128 of a fixed character set; anything else is hashed to fit. */
function sqsToken(value: string): string {
  return /^[\w!"#$%&'()*+,\-./:;<=>?@[\\\]^`{|}~]{1,128}$/.test(value) ? value : createHash('sha256').update(value).digest('hex');
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

type Batched<E> = { entry: E; group: string | undefined; bytes: number; resolve: () => void; reject: (err: unknown) => void };

/**
 * Gathers concurrent calls into batches of up to 10 entries, sent when full or ~5 ms after the
 * first entry. A batch failing as a whole rejects all its callers. Entries of one group keep call
 * order: a group with an entry in a batch still in flight waits for it (batches run in parallel,
 * so two batches holding one group could land in either order); inside one batch SQS keeps order.
 */
function createBatcher<E>(options: { run: (batch: Batched<E>[]) => Promise<void>; maxBytes?: number }) {
  const maxEntries = 10;
  const lingerMs = 5;
  const maxBytes = options.maxBytes ?? Infinity;
  let pending: Batched<E>[] = [];
  const busyGroups = new Set<string>();
  let timer: NodeJS.Timeout | undefined;

  function take(): Batched<E>[] {
    const blocked = new Set(busyGroups);
    const batch: Batched<E>[] = [];
    const rest: Batched<E>[] = [];
    let bytes = 0;
    for (const b of pending) {
      const free = b.group === undefined || !blocked.has(b.group);
      const fits = batch.length === 0 || (batch.length < maxEntries && bytes + b.bytes <= maxBytes);
      if (free && fits) {
        batch.push(b);
        bytes += b.bytes;
      } else {
        rest.push(b);
        if (b.group !== undefined) blocked.add(b.group); // later entries of its group wait behind it
      }
    }
    pending = rest;
    return batch;
  }

  function flush(): void {
    clearTimeout(timer);
    timer = undefined;
    for (let batch = take(); batch.length > 0; batch = take()) {
      const groups = new Set(batch.flatMap((b) => (b.group === undefined ? [] : [b.group])));
      for (const g of groups) busyGroups.add(g);
      void options
        .run(batch)
        .catch((err) => batch.forEach((b) => b.reject(err)))
        .finally(() => {
          for (const g of groups) busyGroups.delete(g);
          if (pending.length > 0) flush(); // whatever waited behind these groups has lingered enough
        });
    }
  }

  return {
    add(entry: E, meta: { group?: string | undefined; bytes?: number }): Promise<void> {
      return new Promise<void>((resolve, reject) => {
        pending.push({ entry, group: meta.group, bytes: meta.bytes ?? 0, resolve, reject });
        if (pending.length >= maxEntries) flush();
        else timer ??= setTimeout(flush, lingerMs);
      });
    },
  };
}
