import { createChainSettingsRefresh } from '../chain/chain-settings.js';
import { createErrorHandler } from '../dlq/error-handler.js';
import { createReconciler } from '../reconciler/reconciler.js';
import { createSender } from '../sender/sender.js';
import { createSigner } from '../signer/signer.js';
import { createTracker } from '../tracker/tracker.js';
import type { Services } from './services.js';

/** How soon a chain setting edited in the console reaches running workers. */
const CHAIN_SETTINGS_REFRESH_MS = 5_000;

export type WorkerRole = 'signer' | 'sender' | 'tracker' | 'reconciler' | 'error-handler';

/**
 * Starts the named background roles on the shared services. Each runs until `common.signal`
 * aborts; the returned promise settles when all of them have drained.
 */
export function startWorkers(services: Services, roles: WorkerRole[], options: { onCrash?: (role: WorkerRole, err: unknown) => void } = {}) {
  const { common, db, queues } = services;
  const build: Record<WorkerRole, () => { run(): Promise<void> }> = {
    signer: () => {
      if (!services.keys) throw new Error('The signer role needs a key store.');
      return createSigner({ ...services, keys: services.keys, requests: queues.requests, signed: queues.signed });
    },
    sender: () => createSender({ ...services, signed: queues.signed, requests: queues.requests }),
    tracker: () => createTracker({ ...services, requests: queues.requests, signed: queues.signed }),
    reconciler: () => createReconciler({ common, db, requests: queues.requests, signed: queues.signed, pauses: services.pauses }),
    'error-handler': () => createErrorHandler({ ...services, queues: { invalid: queues.invalidDlq, tx: queues.txDlq } }),
  };
  const running = roles.map((role) =>
    build[role]()
      .run()
      .catch((err) => {
        common.logger.fatal({ err, role }, 'worker crashed');
        options.onCrash?.(role, err);
        throw err;
      }),
  );
  // Every worker reads its chain's confirmations, fee cap and in-flight limit live from the chains table.
  const settings = createChainSettingsRefresh({ db, chains: services.chains, logger: common.logger, intervalMs: CHAIN_SETTINGS_REFRESH_MS, signal: common.signal }).run();
  return { done: Promise.allSettled([...running, settings]) };
}
