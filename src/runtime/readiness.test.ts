import { describe, expect, it } from 'vitest';
import { openDatabase } from '../db/connect.js';
import { createReadiness } from './readiness.js';
import type { Services } from './services.js';

describe('readiness', () => {
  it('says which dependency failed but never the error text (/readyz is anonymous)', async () => {
    const db = openDatabase('sqlite::memory:');
    await db.close(); // every query now fails with the driver's message
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
    // The operator still finds the cause in the logs.
    expect(logged).toHaveLength(1);
  });
});
