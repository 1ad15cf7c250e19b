import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSluice } from '../../test/support/child.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { waitFor } from '../../test/support/stack.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { type Db, openDatabase } from './connect.js';
import { assessMysqlServerSettings, readMysqlServerSettings, redoLogBytes, watchMysqlServerSettings } from './mysql-server-settings.js';

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

  it('sees the server stop flushing each commit under a running process (an error log, the gauge), and `sluice migrate` prints DANGER; the gauge goes back to 0 once it is fixed', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({ write: (chunk, _enc, done) => void (lines.push(JSON.parse(String(chunk))), done()) });
    const metrics = createMetrics();
    const shutdown = new AbortController();
    const gauge = async () => (await metrics.dbServerSettingRisk.get()).values.find((v) => v.labels.setting === 'innodb_flush_log_at_trx_commit')?.value;
    const gaugeAt = (value: number) => waitFor(`the gauge at ${value}`, async () => ((await gauge()) === value ? true : undefined), 10_000, 50);
    const watch = await watchMysqlServerSettings({ db, logger: createLogger({ level: 'info', destination }), gauge: metrics.dbServerSettingRisk, signal: shutdown.signal, intervalMs: 200 });
    try {
      expect(watch.findings.filter((f) => f.risk === 'durability')).toEqual([]);
      expect(await gauge()).toBeUndefined();

      await asRoot('SET GLOBAL innodb_flush_log_at_trx_commit = 2');
      try {
        await gaugeAt(1);
        expect(lines.filter((l) => l.setting === 'innodb_flush_log_at_trx_commit')).toEqual([
          expect.objectContaining({ level: 50, value: '2', recommended: '1', risk: 'durability' }),
        ]);

        const migrate = spawnSluice(['migrate'], { SLUICE_DB_URL: database.url });
        expect((await migrate.exited).code).toBe(0);
        expect(migrate.output()).toMatch(/DANGER: MySQL server setting innodb_flush_log_at_trx_commit = 2 \(recommended 1\): a commit is not on disk/);
      } finally {
        await asRoot('SET GLOBAL innodb_flush_log_at_trx_commit = 1');
      }
      await gaugeAt(0);
      expect(lines.filter((l) => l.setting === 'innodb_flush_log_at_trx_commit').at(-1)).toMatchObject({ level: 30, msg: 'database server setting is as recommended again' });
    } finally {
      shutdown.abort();
    }
    expect((await readMysqlServerSettings(db)).innodb_flush_log_at_trx_commit).toBe('1');
  });
});
