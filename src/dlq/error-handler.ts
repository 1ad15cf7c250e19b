import type { Common } from '../common.js';
import { runConsumer } from '../queue/consumer.js';
import type { DeadLetterMessage, Queue, QueueMessage } from '../queue/types.js';
import type { DeadLetterQueueName, DeadLetters } from './dead-letters.js';

/**
 * "Handle Error": drains both DLQs. Every letter becomes (or already is) an open row the console
 * shows, and an error-level log line with `alert: "dead_letter"` for Logstash/Alertmanager.
 * `run` consumes until shutdown; `drainOnce` (`sluice cron dead-letters`) empties both and returns.
 */
export function createErrorHandler(deps: {
  common: Common;
  deadLetters: DeadLetters;
  queues: Record<DeadLetterQueueName, Queue<DeadLetterMessage>>;
}) {
  const log = deps.common.logger.child({ component: 'error-handler' });
  const queueNames: DeadLetterQueueName[] = ['invalid', 'tx'];

  async function handle(queueName: DeadLetterQueueName, m: QueueMessage<DeadLetterMessage>): Promise<void> {
    await deps.deadLetters.ensure({ queue: queueName, ...m.body });
    log.error({ alert: 'dead_letter', dlq: queueName, withdrawalId: m.body.withdrawalId, code: m.body.code, reason: m.body.reason }, 'dead letter needs an operator');
  }

  function consume(queueName: DeadLetterQueueName): Promise<void> {
    return runConsumer({
      queue: deps.queues[queueName],
      concurrency: 4,
      maxReceives: 100,
      signal: deps.common.signal,
      shutdownGraceMs: deps.common.config.shutdownTimeoutMs,
      pollWaitMs: deps.common.config.queuePollWaitSeconds * 1000,
      logger: log,
      handle: (m) => handle(queueName, m),
      onGiveUp: async () => {},
    });
  }

  async function drainQueue(queueName: DeadLetterQueueName): Promise<number> {
    const queue = deps.queues[queueName];
    let handled = 0;
    for (;;) {
      const batch = await queue.receive({ max: 10, waitMs: 0, signal: deps.common.signal });
      if (batch.length === 0 || deps.common.signal.aborted) return handled;
      for (const m of batch) {
        await handle(queueName, m);
        await queue.ack(m);
        handled += 1;
      }
    }
  }

  return {
    run: () => Promise.all(queueNames.map(consume)).then(() => undefined),
    /** One pass: every letter now on either DLQ recorded and acknowledged. */
    async drainOnce(): Promise<{ handled: number }> {
      const counts = await Promise.all(queueNames.map(drainQueue));
      return { handled: counts.reduce((a, b) => a + b, 0) };
    },
  };
}
