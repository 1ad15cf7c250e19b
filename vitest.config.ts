import { defineConfig } from 'vitest/config';

/**
 * unit: *.test.ts, no outside services.
 * integration: *.itest.ts against real anvil, SQLite and MariaDB. The core pipeline suite runs
 * twice, once per database (the `db` value each project provides).
 */
/** Fault-injection seed: fixed by default so CI is repeatable; `SEED=123 npm test` explores others. */
const seed = Number(process.env.SEED ?? 20261124);

const integration = {
  testTimeout: 120_000,
  hookTimeout: 120_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts', 'admin/src/**/*.test.ts'] },
      },
      {
        test: {
          ...integration,
          name: 'integration',
          include: ['src/**/*.itest.ts', 'test/cli/**/*.itest.ts', 'test/compat/**/*.itest.ts', 'test/db/**/*.itest.ts', 'test/deploy/**/*.itest.ts'],
          provide: { db: 'sqlite', seed },
        },
      },
      {
        test: { ...integration, name: 'core-sqlite', include: ['test/core/**/*.itest.ts', 'test/chain/**/*.itest.ts', 'test/crash/**/*.itest.ts', 'test/sim/**/*.itest.ts'], provide: { db: 'sqlite', seed } },
      },
      { test: { ...integration, name: 'browser', include: ['test/browser/**/*.itest.ts'], provide: { db: 'sqlite', seed } } },
      // One file at a time: each drives moto (SQS, KMS) hard, and moto slows down for everyone under two.
      { test: { ...integration, name: 'production', include: ['test/production/**/*.itest.ts'], fileParallelism: false, provide: { db: 'mysql', seed } } },
      {
        test: { ...integration, name: 'core-mariadb', include: ['test/core/**/*.itest.ts', 'test/chain/**/*.itest.ts', 'test/crash/**/*.itest.ts', 'test/sim/**/*.itest.ts'], provide: { db: 'mysql', seed } },
      },
    ],
  },
});
