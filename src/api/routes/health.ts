import type { FastifyInstance } from 'fastify';
import type { StateMetrics } from '../../observability/state-metrics.js';
import type { Readiness } from '../../runtime/readiness.js';
import type { Services } from '../../runtime/services.js';
import { sendProblem } from '../problem.js';

/** /healthz (alive), /readyz (`readiness`: this process's own dependencies) and /metrics, on every role. */
export function registerHealthRoutes(app: FastifyInstance, services: Services, readiness: Readiness, options: { stateMetrics?: StateMetrics } = {}) {
  const { metrics } = services.common;
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  // Anonymous: ready or not, nothing more. Dependency errors can name hosts, users and databases;
  // they go to the log (when a check changes) and to /readyz/details for an admin key.
  let lastChecks = '';
  async function check() {
    const report = await readiness();
    const summary = JSON.stringify(report.checks);
    if (summary !== lastChecks) {
      lastChecks = summary;
      const log = services.common.logger;
      if (report.ready) log.info({ checks: report.checks }, 'ready');
      else log.warn({ checks: report.checks }, 'not ready');
    }
    return report;
  }

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const { ready } = await check();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready' });
  });

  // Checked here rather than by the API's auth hook: worker roles serve this on their health port too.
  app.get('/readyz/details', { schema: { hide: true } }, async (request, reply) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    const identity = match ? await services.apiKeys.authenticate(match[1]!) : null;
    if (!identity) {
      reply.header('WWW-Authenticate', 'Bearer');
      return sendProblem(reply, 401, 'unauthorized', 'Send an API key with the "admin" scope as "Authorization: Bearer <key>".');
    }
    if (!identity.scopes.has('admin')) return sendProblem(reply, 403, 'forbidden', 'This API key lacks the "admin" scope.');
    const { ready, checks } = await check();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const { requests, signed, invalidDlq, txDlq } = services.queues;
    const [depths, report] = await Promise.all([
      Promise.all(Object.entries({ requests, signed, invalidDlq, txDlq }).map(async ([name, queue]) => [name, await queue.depth().catch(() => undefined)] as const)),
      readiness().catch(() => ({ ready: false, checks: { database: 'error' } as Record<string, string> })),
      options.stateMetrics?.collect(),
    ]);
    // A queue that cannot be read now (SQS outage) keeps its last value; /readyz reports the outage.
    for (const [name, depth] of depths) if (depth !== undefined) metrics.queueDepth.set({ queue: name }, depth);
    // What this process reaches, for alerts that must not depend on a failing scrape (Redis down: still scraped).
    for (const [dependency, state] of Object.entries(report.checks)) {
      if (dependency !== 'process') metrics.dependencyUp.set({ dependency }, state === 'ok' ? 1 : 0);
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
