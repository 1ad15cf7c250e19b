import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { openDatabase } from '../../src/db/connect.js';
import { assessMysqlServerSettings, readMysqlServerSettings, redoLogBytes } from '../../src/db/mysql-server-settings.js';
import { ROOT } from './child.js';

export const MYSQL_SERVER_URL = 'mysql://sluice:sluice@127.0.0.1:3306';

export type BenchDatabase = { kind: 'sqlite' | 'mysql'; url: string; drop(): Promise<void> };

/**
 * A fresh database migrated by the real CLI (`sluice migrate`): a SQLite file under `dir`, or a new
 * `sluice_bench_*` database on the local MariaDB (user sluice/sluice), dropped afterwards.
 */
export async function createBenchDatabase(kind: 'sqlite' | 'mysql', dir: string): Promise<BenchDatabase> {
  let db: BenchDatabase;
  if (kind === 'sqlite') {
    const file = path.join(dir, `sluice-${randomBytes(4).toString('hex')}.db`);
    fs.mkdirSync(dir, { recursive: true });
    db = {
      kind,
      url: `sqlite:${file}`,
      drop: async () => {
        for (const suffix of ['', '-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
      },
    };
  } else {
    const name = `sluice_bench_${randomBytes(5).toString('hex')}`;
    const conn = await createConnection(MYSQL_SERVER_URL).catch((err: Error) => {
      throw new Error(`MariaDB is needed at ${MYSQL_SERVER_URL} (scripts/provision-test-services.sh starts it): ${err.message}`);
    });
    await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    await conn.end();
    db = {
      kind,
      url: `${MYSQL_SERVER_URL}/${name}`,
      drop: async () => {
        const c = await createConnection(MYSQL_SERVER_URL);
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
        await c.end();
      },
    };
  }
  await migrateWithCli(db.url);
  return db;
}

export async function migrateWithCli(dbUrl: string): Promise<void> {
  const cli = path.join(ROOT, 'dist/cli.js');
  if (!fs.existsSync(cli)) throw new Error('dist/cli.js is missing: run `npm run build` (npm run bench does it first).');
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')));
  await promisify(execFile)(process.execPath, [cli, 'migrate'], { cwd: ROOT, env: { ...base, SLUICE_DB_URL: dbUrl } });
}

/** The local MariaDB server's pid (mariadbd, or mysqld on older installs), to read its CPU time; null if none is found. */
export function databaseServerPid(): number | null {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let comm: string;
    try {
      comm = fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm === 'mariadbd' || comm === 'mysqld') return Number(entry);
  }
  return null;
}

/**
 * The local MariaDB's version and the settings Sluice's writes depend on, for the report (a run
 * against a 96 MiB redo log is not comparable with one against 2 GiB); null if it does not answer.
 */
export async function describeDatabaseServer(): Promise<string | null> {
  const db = openDatabase(MYSQL_SERVER_URL, { poolSize: 1 });
  try {
    const s = await readMysqlServerSettings(db);
    const mib = (bytes: bigint | null) => (bytes === null ? '—' : `${bytes / 2n ** 20n} MiB`);
    const findings = assessMysqlServerSettings(s).map((f) => `${f.setting} (${f.risk})`);
    return (
      `${s.version ?? 'unknown version'}: innodb_flush_log_at_trx_commit ${s.innodb_flush_log_at_trx_commit}, ` +
      `redo log ${mib(redoLogBytes(s))}, buffer pool ${mib(s.innodb_buffer_pool_size ? BigInt(s.innodb_buffer_pool_size) : null)}` +
      (findings.length ? `; off the recommended settings: ${findings.join(', ')}` : '; as deploy/mysql/sluice.cnf recommends')
    );
  } catch {
    return null;
  } finally {
    await db.close();
  }
}
