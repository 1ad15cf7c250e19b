import Fastify, { type FastifyInstance } from 'fastify';
import { registerHealthRoutes } from '../api/routes/health.js';
import { type Common, createShutdownController } from '../common.js';
import type { Config } from '../config/schema.js';
import { createErrorHandler } from '../dlq/error-handler.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { createPrettyDestination } from '../observability/pretty-logs.js';
import { createStateMetrics } from '../observability/state-metrics.js';
import { createReconciler } from '../reconciler/reconciler.js';
import { createTracker } from '../tracker/tracker.js';
import { pausedScopes } from '../settings/pause.js';
import { openProductionServices } from './production-services.js';
import { createReadiness } from './readiness.js';
import { startWorkers, type WorkerRole } from './workers.js';
import { applyHeapGrowth } from './heap.js';

export type RoleName = 'api' | 'signer' | 'sender' | 'tracker';
export const ROLES: RoleName[] = ['api', 'signer', 'sender', 'tracker'];
export type CronJob = 'reconcile' | 'track' | 'dead-letters';
export const CRON_JOBS: CronJob[] = ['reconcile', 'track', 'dead-letters'];

/**
 * What each worker role runs. The tracker role also keeps the reconciler and the DLQ handler
 * running, so no request is ever lost even where no CronJob is deployed (invariant 3); their
 * `sluice cron` one-shots are the same code and safe to run beside it.
 */
const WORKERS: Record<Exclude<RoleName, 'api'>, WorkerRole[]> = {
  signer: ['signer'],
  sender: ['sender'],
  tracker: ['tracker', 'reconciler', 'error-handler'],
};

export type RunningRole = { url: string; stop(reason: string): Promise<void> };

function commonFor(config: Config, name: string, signal: AbortSignal): Common {
  // Production roles log JSON for Logstash; SLUICE_LOG_FORMAT=pretty is for running one by hand.
  const pretty = config.logFormat === 'pretty' ? createPrettyDestination(process.stdout) : undefined;
  pretty?.release();
  const logger = createLogger({ level: config.logLevel, name, sync: config.logSync, ...(pretty ? { destination: pretty.stream } : {}) });
  return { config, logger, metrics: createMetrics(), signal };
}

/**
 * Starts one production role on MySQL, Redis, SQS and the key stores. `stop` (SIGTERM) makes it
 * unready, stops taking work, lets in-flight work finish for up to SLUICE_SHUTDOWN_TIMEOUT_MS
 * (consumers hand back what is still running: visibility 0), then closes every connection.
 */
export async function startRole(role: RoleName, config: Config): Promise<RunningRole> {
  applyHeapGrowth(config);
  const shutdown = createShutdownController();
  const common = commonFor(config, role, shutdown.signal);
  const log = common.logger;
  const { services, close } = await openProductionServices(common, `sluice ${role}`, { keys: role === 'signer', redis: true });
  let draining = false;
  const readiness = createReadiness(services, { chains: role !== 'api', queues: true, draining: () => draining });

  let server: FastifyInstance;
  let workers: Promise<unknown> = Promise.resolve();
  try {
    if (role === 'api') {
      // The API's routes, schemas and console are only this role's: the worker roles serve health
      // and metrics on a bare Fastify and do not load them (~7 MB of memory).
      const { createApiServer } = await import('../api/server.js');
      server = await createApiServer(services, { readiness });
      await server.listen({ host: config.host, port: config.port });
    } else {
      server = Fastify({ logger: false, return503OnClosing: false });
      // The pipeline-state gauges come from one process only (counters would count twice): the tracker.
      const stateMetrics =
        role === 'tracker' ? createStateMetrics({ db: services.db, metrics: common.metrics, logger: common.logger, chains: services.chains, assets: services.assets, paused: () => pausedScopes(services.pauses) }) : undefined;
      registerHealthRoutes(server, services, readiness, stateMetrics ? { stateMetrics } : {});
      await server.listen({ host: config.host, port: config.healthPort });
      // A worker loop that died would leave a live, ready-looking process doing nothing (a stalled
      // lane): exit instead, so the orchestrator restarts it.
      workers = startWorkers(services, WORKERS[role], {
        onCrash: (worker) => {
          if (shutdown.signal.aborted) return;
          common.logger.fatal({ worker }, 'a worker loop stopped unexpectedly; exiting so the process is restarted');
          process.exitCode = 1;
          setImmediate(() => process.exit(1));
        },
      }).done;
    }
  } catch (err) {
    shutdown.abort();
    await close();
    throw err;
  }
  const address = server.server.address();
  const url = `http://${config.host}:${typeof address === 'object' && address ? address.port : config.port}`;
  log.info({ url, chains: [...services.chains.keys()] }, `sluice ${role} started`);

  let stopping: Promise<void> | undefined;
  const stop = (reason: string) =>
    (stopping ??= (async () => {
      log.info({ reason }, 'stopping: finishing in-flight work');
      draining = true;
      shutdown.abort();
      // The API stops accepting connections and finishes the requests it has; workers drain.
      await Promise.all([role === 'api' ? server.close() : Promise.resolve(), workers]);
      if (role !== 'api') await server.close();
      await close();
      log.info('stopped');
    })());
  return { url, stop };
}

/**
 * `sluice cron <job>`: one pass of the same code the long-running tracker role loops on, for a
 * Kubernetes CronJob. Returns what the pass did.
 */
export async function runCronJob(job: CronJob, config: Config): Promise<Record<string, number>> {
  const shutdown = createShutdownController();
  const common = commonFor(config, `cron-${job}`, shutdown.signal);
  const { services, close } = await openProductionServices(common, `sluice cron ${job}`, { keys: false, redis: job === 'track' });
  const { db, queues } = services;
  try {
    switch (job) {
      case 'reconcile':
        return await createReconciler({ common, db, requests: queues.requests, signed: queues.signed, pauses: services.pauses }).tick();
      case 'track':
        return await createTracker({ ...services, requests: queues.requests, signed: queues.signed }).tick();
      case 'dead-letters':
        return await createErrorHandler({ ...services, queues: { invalid: queues.invalidDlq, tx: queues.txDlq } }).drainOnce();
    }
  } finally {
    shutdown.abort();
    await close();
  }
}
