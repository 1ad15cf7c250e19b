import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSluice } from '../../test/support/child.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { type Db, openDatabase } from './connect.js';
import { assessMysqlServerSettings, readMysqlServerSettings, redoLogBytes, reportMysqlServerSettings } from './mysql-server-settings.js';

/** SET GLOBAL needs more than the tests' `sluice` user may do: root over the socket, as the provision script does. */
const asRoot = (statement: string) => promisify(execFile)('mysql', ['--protocol=socket', '-uroot', '-e', statement]);

describe('MySQL server settings on the local MariaDB', () => {
  let database: TestDatabase;
  let db: Db;

  beforeAll(async () => {
    database = await createTestDatabase('mysql');
    db = openDatabase(database.url);
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  it('reads the variables from the server, and finds no durability risk on the server as scripts/provision-test-services.sh sets it up', async () => {
    const settings = await readMysqlServerSettings(db);
    expect(settings.version).toContain('MariaDB');
    expect(settings.innodb_flush_log_at_trx_commit).toBe('1');
    expect(settings.aurora_version).toBeUndefined();
    const findings = assessMysqlServerSettings(settings);
    expect(findings.filter((f) => f.risk === 'durability')).toEqual([]);
    // The sizes are grown where the disk allows it (the script warns otherwise): whichever, the finding matches the server.
    const redo = redoLogBytes(settings)!;
    expect(redo).toBeGreaterThan(0n);
    expect(findings.some((f) => f.setting === 'innodb_log_file_size')).toBe(redo < 1024n ** 3n);
  });

  it('reports a server that does not flush each commit: an error log, the gauge, and a DANGER line from `sluice migrate`', async () => {
    await asRoot('SET GLOBAL innodb_flush_log_at_trx_commit = 2');
    try {
      const lines: string[] = [];
      const destination = new Writable({ write: (chunk, _enc, done) => void (lines.push(String(chunk)), done()) });
      const metrics = createMetrics();
      const findings = await reportMysqlServerSettings(db, createLogger({ level: 'info', destination }), metrics.dbServerSettingRisk);
      expect(findings.map((f) => f.setting)).toEqual(['innodb_flush_log_at_trx_commit']);
      const logged = lines.map((l) => JSON.parse(l));
      expect(logged).toEqual([expect.objectContaining({ level: 50, setting: 'innodb_flush_log_at_trx_commit', value: '2', recommended: '1', risk: 'durability' })]);
      const gauge = await metrics.dbServerSettingRisk.get();
      expect(gauge.values).toEqual([{ labels: { setting: 'innodb_flush_log_at_trx_commit', risk: 'durability' }, value: 1 }]);

      const migrate = spawnSluice(['migrate'], { SLUICE_DB_URL: database.url });
      expect((await migrate.exited).code).toBe(0);
      expect(migrate.output()).toMatch(/DANGER: MySQL server setting innodb_flush_log_at_trx_commit = 2 \(recommended 1\): a commit is not on disk/);
    } finally {
      await asRoot('SET GLOBAL innodb_flush_log_at_trx_commit = 1');
    }
    expect((await readMysqlServerSettings(db)).innodb_flush_log_at_trx_commit).toBe('1');
  });
});
