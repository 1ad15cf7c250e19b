import { createAdminSessions } from '../admin/sessions.js';
import { createAdminUsers } from '../admin/users.js';
import { createAssetRegistry } from '../assets/registry.js';
import { createAuditLog } from '../audit/audit-log.js';
import { createApiKeyStore } from '../auth/api-keys.js';
import type { Cache } from '../cache/types.js';
import type { ChainRpc } from '../chain/rpc.js';
import type { Common } from '../common.js';
import type { Db } from '../db/connect.js';
import { createDeadLetterActions } from '../dlq/dead-letter-actions.js';
import { createDeadLetters } from '../dlq/dead-letters.js';
import type { KeyStore } from '../keys/types.js';
import { createLedger } from '../ledger/ledger.js';
import { createPauses } from '../settings/pause.js';
import type { DeadLetterMessage, Queue, RequestMessage, SignedMessage } from '../queue/types.js';
import { createWallets } from '../wallets/wallets.js';
import { createWithdrawalIntake, intakeConcurrency } from '../withdrawals/create-batcher.js';
import { createWithdrawalRepository } from '../withdrawals/repository.js';

export type Queues = {
  requests: Queue<RequestMessage>;
  signed: Queue<SignedMessage>;
  invalidDlq: Queue<DeadLetterMessage>;
  txDlq: Queue<DeadLetterMessage>;
};

/** Everything a role needs, built once from the outside resources it was given. */
export function createServices(input: {
  common: Common;
  db: Db;
  queues: Queues;
  chains: Map<number, ChainRpc>;
  keys: KeyStore | null;
  cache: Cache;
}) {
  const { common, db, queues } = input;
  const withdrawals = createWithdrawalRepository(db);
  const auditLog = createAuditLog(db);
  const { config } = common;
  const adminUsers = createAdminUsers({ db, auditLog });
  return {
    ...input,
    ledger: createLedger(db),
    withdrawals,
    /** POST /v1/withdrawals: group-committed creates; each batch's new rows go to the signer in one send. */
    withdrawalIntake: createWithdrawalIntake({
      db,
      logger: common.logger,
      metrics: common.metrics,
      concurrency: intakeConcurrency(db, common.config.dbPoolSize),
      // Stored first, queued second: a send that fails is logged and the reconciler re-queues later.
      afterCommit: (created) => queues.requests.sendBatch(created.map((row) => ({ body: { withdrawalId: row.id } }))),
    }),
    assets: createAssetRegistry(db),
    apiKeys: createApiKeyStore(db),
    wallets: createWallets(db),
    deadLetters: createDeadLetters({ db, common, queues: { invalid: queues.invalidDlq, tx: queues.txDlq } }),
    auditLog,
    /** Pause switches (kill switch), cached ≤ SLUICE_SETTINGS_CACHE_MS. */
    pauses: createPauses({ db, cacheMs: config.settingsCacheMs }),
    adminUsers,
    adminSessions: createAdminSessions({
      db,
      users: adminUsers,
      auditLog,
      policy: {
        idleMs: config.adminSessionIdleSeconds * 1000,
        maxMs: config.adminSessionMaxSeconds * 1000,
        lockoutAttempts: config.adminLockoutAttempts,
        lockoutWindowMs: config.adminLockoutWindowSeconds * 1000,
      },
    }),
    /** Operator retry / discard of dead letters, audited. */
    deadLetterActions: createDeadLetterActions({ common, db, withdrawals, auditLog, chains: input.chains, requests: queues.requests, signed: queues.signed }),
  };
}

export type Services = ReturnType<typeof createServices>;
