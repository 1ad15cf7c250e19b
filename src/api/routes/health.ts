import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import type { Services } from '../../runtime/services.js';

export function registerHealthRoutes(app: FastifyInstance, services: Services) {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  /** Ready = the database answers and every configured chain has a reachable endpoint. */
  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const checks: Record<string, string> = {};
    try {
      await sql`select 1`.execute(services.db.kysely);
      checks.database = 'ok';
    } catch (err) {
      checks.database = `error: ${(err as Error).message}`;
    }
    await Promise.all(
      [...services.chains.values()].map(async (chain) => {
        try {
          await chain.blockNumber();
          checks[`chain:${chain.chain.chainId}`] = 'ok';
        } catch (err) {
          checks[`chain:${chain.chain.chainId}`] = `error: ${(err as { shortMessage?: string }).shortMessage ?? 'unreachable'}`;
        }
      }),
    );
    const ready = Object.values(checks).every((v) => v === 'ok');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    for (const [name, queue] of Object.entries(services.queues)) {
      services.common.metrics.queueDepth.set({ queue: name }, await queue.depth());
    }
    return reply.type(services.common.metrics.registry.contentType).send(await services.common.metrics.registry.metrics());
  });
}
