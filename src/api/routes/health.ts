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
    for (const [name, queue] of Object.entries(services.queues)) {
      services.common.metrics.queueDepth.set({ queue: name }, await queue.depth());
    }
    return reply.type(services.common.metrics.registry.contentType).send(await services.common.metrics.registry.metrics());
  });
}
