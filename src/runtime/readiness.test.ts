import { describe, expect, it } from 'vitest';
import { Kysely, SqliteDialect } from 'kysely';
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
});
