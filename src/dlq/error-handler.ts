import type { Common } from '../common.js';
import { runConsumer } from '../queue/consumer.js';
import type { DeadLetterMessage, Queue } from '../queue/types.js';
import type { DeadLetterQueueName, DeadLetters } from './dead-letters.js';

/**
 * "Handle Error": drains both DLQs. Every letter becomes (or already is) an open row the console
 * shows, and an error-level log line with `alert: "dead_letter"` for Logstash/Alertmanager.
 */
export function createErrorHandler(deps: {
  common: Common;
  deadLetters: DeadLetters;
  queues: Record<DeadLetterQueueName, Queue<DeadLetterMessage>>;
}) {
  const log = deps.common.logger.child({ component: 'error-handler' });

  function drain(queueName: DeadLetterQueueName): Promise<void> {
    return runConsumer({
      queue: deps.queues[queueName],
      concurrency: 4,
      maxReceives: 100,
      signal: deps.common.signal,
      logger: log,
      handle: async (m) => {
        await deps.deadLetters.ensure({ queue: queueName, ...m.body });
        log.error({ alert: 'dead_letter', dlq: queueName, withdrawalId: m.body.withdrawalId, code: m.body.code, reason: m.body.reason }, 'dead letter needs an operator');
      },
      onGiveUp: async () => {},
    });
  }

  return { run: () => Promise.all([drain('invalid'), drain('tx')]).then(() => undefined) };
}
