import type { FastifyInstance } from 'fastify';
import type { Readiness } from '../../runtime/readiness.js';
import type { Services } from '../../runtime/services.js';

/** /healthz (alive), /readyz (`readiness`: this process's own dependencies) and /metrics, on every role. */
export function registerHealthRoutes(app: FastifyInstance, services: Services, readiness: Readiness) {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const { ready, checks } = await readiness();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const { requests, signed, invalidDlq, txDlq } = services.queues;
    const depths = await Promise.all(
      Object.entries({ requests, signed, invalidDlq, txDlq }).map(async ([name, queue]) => [name, await queue.depth().catch(() => undefined)] as const),
    );
    // A queue that cannot be read now (SQS outage) keeps its last value; /readyz reports the outage.
    for (const [name, depth] of depths) if (depth !== undefined) services.common.metrics.queueDepth.set({ queue: name }, depth);
    return reply.type(services.common.metrics.registry.contentType).send(await services.common.metrics.registry.metrics());
  });
}
