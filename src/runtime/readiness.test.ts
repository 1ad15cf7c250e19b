import { describe, expect, it } from 'vitest';
import { Kysely, MysqlDialect, SqliteDialect } from 'kysely';
import { createReadiness } from './readiness.js';
import type { Services } from './services.js';

describe('readiness', () => {
  it('says which dependency failed but never the error text (/readyz is anonymous)', async () => {
    // A database that cannot be reached, with a driver message that names what an outsider must not see.
    const kysely = new Kysely({
      dialect: new SqliteDialect({
        database: async () => {
          throw new Error('Access denied for user sluice@10.0.3.7 (using password: YES)');
        },
      }),
    });
    const db = { kysely, dialect: 'sqlite' as const, close: () => kysely.destroy() };
    const logged: unknown[] = [];
    const services = {
      db,
      cache: { ping: async () => true },
      chains: new Map(),
      queues: {},
      common: { logger: { warn: (obj: unknown) => logged.push(obj) } },
    } as unknown as Services;
    const report = await createReadiness(services, { chains: false, queues: false })();
    expect(report).toEqual({ ready: false, checks: { database: 'error', cache: 'ok' } });
    expect(JSON.stringify(report)).not.toContain('Access denied');
    // The operator still finds the cause in the logs.
    expect(logged).toHaveLength(1);
  });

  it('reports a dependency that does not answer as down within the probe timeout, instead of waiting on it', async () => {
    // A database gone silent: a pool that never hands out a connection, so the statement neither answers nor fails.
    const kysely = new Kysely({ dialect: new MysqlDialect({ pool: { getConnection: () => {}, end: (done) => done(null) } }) });
    const db = { kysely, dialect: 'mysql' as const };
    const logged: unknown[] = [];
    const services = {
      db,
      cache: { ping: async () => true },
      chains: new Map(),
      queues: { requests: { depth: async () => 0 } },
      common: { logger: { warn: (obj: unknown) => logged.push(obj) } },
    } as unknown as Services;
    const report = await createReadiness(services, { chains: false, queues: true, probeTimeoutMs: 50 })();
    expect(report).toEqual({ ready: false, checks: { database: 'error', cache: 'ok', queues: 'ok' } });
    expect(String((logged[0] as { err: Error }).err.message)).toContain('database: no answer within 50 ms');
  });
});
