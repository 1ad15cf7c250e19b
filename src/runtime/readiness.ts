import { sql } from 'kysely';
import { withDeadline } from '../util/deadline.js';
import type { Services } from './services.js';

export type ReadinessReport = { ready: boolean; checks: Record<string, string> };
export type Readiness = () => Promise<ReadinessReport>;

/**
 * A dependency that has not answered within this long is reported down. Its own timeouts are
 * longer (a MySQL statement 60 s, an SQS call 30 s), and a probe that waited for them would hold
 * sluice_dependency_up at its last value (a database gone silent would raise no alert for a
 * minute) and /readyz past the kubelet's probe timeout (3 s in deploy/k8s): the kubelet would see
 * a timeout, and no log line would say which dependency hung.
 */
const PROBE_TIMEOUT_MS = 2_500;

/**
 * Ready = this process's own dependencies answer: the database always; the queues where they are
 * remote; each chain for the roles that talk to chains. Redis is reported but never makes a
 * process unready: Sluice works without it, only slower (invariant 11). A draining process
 * (SIGTERM received) is unready so the load balancer stops sending it work.
 */
export function createReadiness(
  services: Services,
  options: { chains: boolean; queues: boolean; draining?: () => boolean; probeTimeoutMs?: number },
): Readiness {
  // /readyz is anonymous: it says which dependency failed, never how (driver messages name hosts and users).
  const errorText = (err: unknown) => {
    services.common.logger.warn({ err }, 'readiness check failed');
    return 'error';
  };
  const probeTimeoutMs = options.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
  const answered = <T>(probe: Promise<T>, what: string) => withDeadline(probe, probeTimeoutMs, () => new Error(`${what}: no answer within ${probeTimeoutMs} ms`));
  return async () => {
    const checks: Record<string, string> = {};
    const fatal: string[] = ['database'];
    const probes: Promise<void>[] = [
      answered(sql`select 1`.execute(services.db.kysely), 'database').then(
        () => void (checks.database = 'ok'),
        (err) => void (checks.database = errorText(err)),
      ),
      services.cache.ping().then((up) => void (checks.cache = up ? 'ok' : 'degraded: unavailable (running without it)')),
    ];
    if (options.queues) {
      fatal.push('queues');
      probes.push(answered(services.queues.requests.depth(), 'queues').then(() => void (checks.queues = 'ok'), (err) => void (checks.queues = errorText(err))));
    }
    if (options.chains) {
      for (const chain of services.chains.values()) {
        const name = `chain:${chain.chain.chainId}`;
        fatal.push(name);
        probes.push(answered(chain.blockNumber(), name).then(() => void (checks[name] = 'ok'), (err) => void (checks[name] = errorText(err))));
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
