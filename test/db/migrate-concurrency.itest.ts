import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { spawnSluice } from '../support/child.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

/** What a complete schema is: what migrating an empty SQLite file in-process gives (tables, migration names). */
async function referenceSchema(): Promise<{ tables: string[]; migrations: string[] }> {
  const ref = await createTestDatabase('sqlite');
  const db = openDatabase(ref.url);
  try {
    const migrations = await migrateToLatest(db);
    const tables = (await db.kysely.introspection.getTables({ withInternalKyselyTables: true })).map((t) => t.name);
    return { tables: tables.filter((t) => !t.startsWith('sqlite_')).sort(), migrations };
  } finally {
    await db.close();
    await ref.drop();
  }
}

/**
 * Deployments run `sluice migrate` from several places at once (an init container per replica, a
 * Job and a rolling update): on MySQL each must wait for the other, never apply a migration twice.
 */
describe('two `sluice migrate` processes at once on a fresh MariaDB database', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase('mysql');
  });
  afterAll(async () => {
    await testDb?.drop();
  });

  async function migrate() {
    const child = spawnSluice(['migrate'], { SLUICE_DB_URL: testDb.url });
    const { code } = await child.exited;
    return { code, output: child.output() };
  }

  it('both succeed, the migrations are applied once, and a third run is up to date', async () => {
    const reference = await referenceSchema();
    expect(reference.migrations).toContain('003-production');
    const runs = await Promise.all([migrate(), migrate()]);
    for (const r of runs) expect(r.code, r.output).toBe(0);
    const applied = runs.filter((r) => r.output.includes('Applied '));
    expect(applied, runs.map((r) => r.output).join('\n---\n')).toHaveLength(1);
    expect(applied[0]!.output).toContain(`Applied ${reference.migrations.join(', ')} to `);
    expect(runs.filter((r) => r.output.includes('is up to date.'))).toHaveLength(1);

    const conn = await createConnection(testDb.url);
    try {
      const [tables] = await conn.query('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name');
      expect((tables as Array<{ name: string }>).map((t) => t.name).sort()).toEqual(reference.tables);
      const [migrations] = await conn.query('SELECT name FROM kysely_migration ORDER BY name');
      expect((migrations as Array<{ name: string }>).map((m) => m.name)).toEqual(reference.migrations);
    } finally {
      await conn.end();
    }

    const again = await migrate();
    expect(again.code).toBe(0);
    expect(again.output).toMatch(/is up to date\.$/m);
  });
});
