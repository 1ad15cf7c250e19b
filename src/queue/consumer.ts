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
  concurrency: number;
  signal: AbortSignal;
  logger: Logger;
  backoff?: { baseMs: number; maxMs: number };
};

export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + Math.random() * (exp / 2)); // jitter keeps retries of a burst apart
}

/**
 * Pulls messages and runs up to `concurrency` handlers at once until `signal` aborts; resolves
 * when the in-flight handlers have finished.
 */
export async function runConsumer<T>(options: ConsumerOptions<T>): Promise<void> {
  const { queue, signal, logger, concurrency } = options;
  const { baseMs, maxMs } = options.backoff ?? { baseMs: 250, maxMs: 30_000 };
  const running = new Set<Promise<void>>();

  async function process(message: QueueMessage<T>): Promise<void> {
    try {
      await options.handle(message);
      await queue.ack(message);
    } catch (error) {
      if (message.receiveCount >= options.maxReceives) {
        logger.error({ err: error, queue: queue.name, messageId: message.id }, 'giving up on message');
        try {
          await options.onGiveUp(message, error);
          await queue.ack(message);
        } catch (giveUpError) {
          logger.error({ err: giveUpError, queue: queue.name }, 'dead-lettering failed; message stays queued');
          await queue.retry(message, maxMs).catch(() => {});
        }
        return;
      }
      const delay = backoffDelay(message.receiveCount, baseMs, maxMs);
      logger.warn({ err: error, queue: queue.name, messageId: message.id, attempt: message.receiveCount, retryInMs: delay }, 'message failed; will retry');
      await queue.retry(message, delay).catch(() => {});
    }
  }

  while (!signal.aborted) {
    const free = concurrency - running.size;
    if (free <= 0) {
      await Promise.race(running);
      continue;
    }
    let messages: QueueMessage<T>[];
    try {
      messages = await queue.receive({ max: Math.min(free, 10), waitMs: 1_000, signal });
    } catch (error) {
      logger.error({ err: error, queue: queue.name }, 'receive failed');
      await sleep(1_000, signal);
      continue;
    }
    for (const m of messages) {
      const p = process(m).finally(() => running.delete(p));
      running.add(p);
    }
  }
  await Promise.allSettled(running);
}
