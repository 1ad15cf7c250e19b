import type { FastifyInstance } from 'fastify';
import type { Services } from '../../runtime/services.js';
import { createTxStats, type StatsRange } from '../../stats/tx-stats.js';
import { adminErrors } from './admin-common.js';

const countsSchema = {
  type: 'object',
  properties: Object.fromEntries(['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING', 'COMPLETED', 'REJECTED', 'FAILED', 'CANCELLED'].map((s) => [s, { type: 'integer' }])),
} as const;
const pct = { type: ['object', 'null'], properties: { p50: { type: 'number' }, p95: { type: 'number' }, p99: { type: 'number' } } } as const;
const rangeQuery = { type: 'object', additionalProperties: false, properties: { range: { type: 'string', enum: ['1h', '24h'], default: '1h' } } } as const;

/** TX Status API for the console: every query an index range or a rollup, answers cached for a few seconds. */
export function registerAdminStatsRoutes(app: FastifyInstance, services: Services) {
  const stats = createTxStats({ db: services.db });
  const { queues, pauses } = services;

  app.get(
    '/admin/api/stats/overview',
    {
      config: { adminRole: 'viewer' },
      schema: {
        tags: ['admin'],
        summary: 'Withdrawals by status, open dead letters, queue depths, SLA breaches, pauses',
        description: 'slaBreaches: broadcastOver30s = RECEIVED/SIGNED requested over 30 s ago; completionOver5m = not settled over 5 min after the request.',
        response: {
          200: {
            type: 'object',
            properties: {
              counts: countsSchema,
              openDeadLetters: { type: 'object', properties: { invalid: { type: 'integer' }, tx: { type: 'integer' } } },
              queues: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, depth: { type: ['integer', 'null'] } } } },
              slaBreaches: { type: 'object', properties: { broadcastOver30s: { type: 'integer' }, completionOver5m: { type: 'integer' } } },
              paused: {
                type: 'object',
                properties: {
                  global: { type: 'boolean' },
                  chains: { type: 'array', items: { type: 'integer' } },
                  networks: { type: 'array', items: { type: 'object', properties: { asset: { type: 'string' }, chainId: { type: 'integer' } } } },
                },
              },
            },
          },
          ...adminErrors,
        },
      },
    },
    async () => {
      const [counts, openDeadLetters, slaBreaches, pause, depths] = await Promise.all([
        stats.counts(),
        stats.openDeadLetters(),
        stats.slaBreaches(),
        pauses.current(),
        Promise.all(Object.values(queues).map(async (queue) => ({ name: queue.name, depth: await queue.depth().catch(() => null) }))),
      ]);
      return {
        counts,
        openDeadLetters,
        queues: depths,
        slaBreaches,
        paused: { global: pause.global.paused, chains: [...pause.chains.keys()], networks: [...pause.networks.values()].map((n) => ({ asset: n.asset, chainId: n.chainId })) },
      };
    },
  );

  app.get<{ Querystring: { range?: StatsRange } }>(
    '/admin/api/stats/throughput',
    {
      config: { adminRole: 'viewer' },
      schema: {
        tags: ['admin'],
        summary: 'Withdrawals created, completed and failed (REJECTED/FAILED/CANCELLED) per time bucket',
        querystring: rangeQuery,
        response: {
          200: {
            type: 'object',
            properties: {
              bucketSeconds: { type: 'integer' },
              buckets: { type: 'array', items: { type: 'object', properties: { t: { type: 'integer' }, created: { type: 'integer' }, completed: { type: 'integer' }, failed: { type: 'integer' } } } },
            },
          },
          ...adminErrors,
        },
      },
    },
    async (request) => stats.throughput(request.query.range ?? '1h'),
  );

  app.get<{ Querystring: { range?: StatsRange } }>(
    '/admin/api/stats/latency',
    {
      config: { adminRole: 'viewer' },
      schema: {
        tags: ['admin'],
        summary: 'Stage latency percentiles (ms from the request to SIGNED, BROADCAST, COMPLETED) per time bucket of reaching the stage',
        querystring: rangeQuery,
        response: {
          200: {
            type: 'object',
            properties: {
              bucketSeconds: { type: 'integer' },
              buckets: { type: 'array', items: { type: 'object', properties: { t: { type: 'integer' }, signed: pct, broadcast: pct, completed: pct } } },
            },
          },
          ...adminErrors,
        },
      },
    },
    async (request) => stats.latency(request.query.range ?? '1h'),
  );
}
