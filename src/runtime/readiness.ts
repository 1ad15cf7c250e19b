import { sql } from 'kysely';
import type { Services } from './services.js';

export type ReadinessReport = { ready: boolean; checks: Record<string, string> };
export type Readiness = () => Promise<ReadinessReport>;

/**
 * Ready = this process's own dependencies answer: the database always; the queues where they are
 * remote; each chain for the roles that talk to chains. Redis is reported but never makes a
 * process unready: Sluice works without it, only slower (invariant 11). A draining process
 * (SIGTERM received) is unready so the load balancer stops sending it work.
 */
export function createReadiness(services: Services, options: { chains: boolean; queues: boolean; draining?: () => boolean }): Readiness {
  // /readyz is anonymous: it says which dependency failed, never how (driver messages name hosts and users).
  const errorText = (err: unknown) => {
    services.common.logger.warn({ err }, 'readiness check failed');
    return 'error';
  };
  return async () => {
    const checks: Record<string, string> = {};
    const fatal: string[] = ['database'];
    const probes: Promise<void>[] = [
      sql`select 1`.execute(services.db.kysely).then(
        () => void (checks.database = 'ok'),
        (err) => void (checks.database = errorText(err)),
      ),
      services.cache.ping().then((up) => void (checks.cache = up ? 'ok' : 'degraded: unavailable (running without it)')),
    ];
    if (options.queues) {
      fatal.push('queues');
      probes.push(services.queues.requests.depth().then(() => void (checks.queues = 'ok'), (err) => void (checks.queues = errorText(err))));
    }
    if (options.chains) {
      for (const chain of services.chains.values()) {
        const name = `chain:${chain.chain.chainId}`;
        fatal.push(name);
        probes.push(chain.blockNumber().then(() => void (checks[name] = 'ok'), (err) => void (checks[name] = errorText(err))));
      }
    }
    await Promise.all(probes);
    if (options.draining?.()) {
      checks.process = 'draining: shutting down';
      fatal.push('process');
    }
    return { ready: fatal.every((name) => checks[name] === 'ok'), checks };
  };
}
