import { sql } from 'kysely';
import type { Logger } from '../observability/logger.js';
import type { Db } from './connect.js';

/**
 * The MySQL / MariaDB server variables Sluice's durability and write throughput depend on, as the
 * server reports them (lower-case names). A variable the server does not have is absent: Aurora
 * manages its own redo and pages, MySQL ≥ 8.0.30 sizes its redo by `innodb_redo_log_capacity`,
 * MariaDB by `innodb_log_file_size`.
 */
export type MysqlServerSettings = Readonly<Record<string, string>>;

const VARIABLES = [
  'version',
  'aurora_version',
  'innodb_flush_log_at_trx_commit',
  'log_bin',
  'sync_binlog',
  'innodb_doublewrite',
  'innodb_redo_log_capacity',
  'innodb_log_file_size',
  'innodb_log_files_in_group',
  'innodb_buffer_pool_size',
];

/**
 * `durability`: a crash of the server (or its host) could lose commits Sluice has already acted on:
 * a 202 sent, a nonce taken, a signed transaction handed to the sender. `throughput`: only slower.
 */
export type ServerSettingRisk = 'durability' | 'throughput';

export type ServerSettingFinding = { setting: string; value: string; recommended: string; risk: ServerSettingRisk; why: string };

const GiB = 1024n ** 3n;

export async function readMysqlServerSettings(db: Db): Promise<MysqlServerSettings> {
  // SHOW, not information_schema: MySQL 8 moved the global variables to performance_schema.
  const names = sql.join(VARIABLES.map((name) => sql.lit(name)));
  const { rows } = await sql<{ Variable_name: string; Value: string | null }>`SHOW GLOBAL VARIABLES WHERE Variable_name IN (${names})`.execute(db.kysely);
  return Object.fromEntries(rows.map((row) => [row.Variable_name.toLowerCase(), row.Value ?? '']));
}

/** Redo log capacity in bytes, however this server spells it; null where the server manages it (Aurora) or does not say. */
export function redoLogBytes(settings: MysqlServerSettings): bigint | null {
  const capacity = settings.innodb_redo_log_capacity;
  if (capacity) return BigInt(capacity);
  const fileSize = settings.innodb_log_file_size;
  if (!fileSize) return null;
  return BigInt(fileSize) * BigInt(settings.innodb_log_files_in_group || '1');
}

// MySQL 8.0.30+ also has DETECT_ONLY: torn pages are found, not repaired.
const doublewriteOff = (value: string | undefined) => value !== undefined && ['OFF', '0', 'DETECT_ONLY'].includes(value.toUpperCase());

/** What in these settings puts committed money state at risk, or slows Sluice's writes; empty when nothing does. */
export function assessMysqlServerSettings(settings: MysqlServerSettings): ServerSettingFinding[] {
  const findings: ServerSettingFinding[] = [];
  const flushLog = settings.innodb_flush_log_at_trx_commit;
  if (flushLog !== undefined && flushLog !== '1') {
    findings.push({
      setting: 'innodb_flush_log_at_trx_commit',
      value: flushLog,
      recommended: '1',
      risk: 'durability',
      why: 'a commit is not on disk when the server answers it: a crash can lose about the last second of accepted withdrawals, reserved nonces and stored signatures, some of them already broadcast',
    });
  }
  if (settings.log_bin === 'ON' && settings.sync_binlog !== undefined && settings.sync_binlog !== '1') {
    findings.push({
      setting: 'sync_binlog',
      value: settings.sync_binlog,
      recommended: '1',
      risk: 'durability',
      why: 'the binary log (what replicas and point-in-time recovery replay) can lose commits after a crash, so a replica promoted in a failover would miss them',
    });
  }
  // Aurora's storage writes whole pages and keeps the redo itself: neither knob applies there.
  if (settings.aurora_version !== undefined) return findings;
  if (doublewriteOff(settings.innodb_doublewrite)) {
    findings.push({
      setting: 'innodb_doublewrite',
      value: settings.innodb_doublewrite!,
      recommended: 'ON',
      risk: 'durability',
      why: 'a page torn by a crash in the middle of its write cannot be repaired from the redo log; turn it off only on storage that writes pages atomically',
    });
  }
  const redo = redoLogBytes(settings);
  if (redo !== null && redo < GiB) {
    findings.push({
      setting: settings.innodb_redo_log_capacity ? 'innodb_redo_log_capacity' : 'innodb_log_file_size',
      value: String(redo),
      recommended: '2147483648 (2 GiB)',
      risk: 'throughput',
      why: 'a small redo log makes InnoDB write pages out early to free it, and stalls commits when it fills: on MariaDB 10.11 its 96 MiB default had it writing ~20 MB/s of pages while the signer worked a backlog, against none with 2 GiB (docs/performance.md)',
    });
  }
  const pool = settings.innodb_buffer_pool_size;
  if (pool && BigInt(pool) < GiB) {
    findings.push({
      setting: 'innodb_buffer_pool_size',
      value: pool,
      recommended: 'at least 1073741824 (1 GiB); on a host of its own, most of its memory',
      risk: 'throughput',
      why: 'pages of the withdrawals table and its indexes are evicted and read back from disk under load',
    });
  }
  return findings;
}

/**
 * Reads a MySQL server's settings once at start-up (nothing on SQLite) and logs each finding: an error for a durability
 * risk (with the alert SluiceDatabaseNotDurable on the gauge), a warning for throughput. A server
 * that cannot be asked is logged and does not stop Sluice: the settings are advice, not a gate.
 */
export async function reportMysqlServerSettings(
  db: Db,
  logger: Logger,
  gauge?: { set(labels: { setting: string; risk: ServerSettingRisk }, value: number): void },
): Promise<ServerSettingFinding[]> {
  if (db.dialect !== 'mysql') return [];
  let findings: ServerSettingFinding[];
  try {
    findings = assessMysqlServerSettings(await readMysqlServerSettings(db));
  } catch (err) {
    logger.warn({ err }, 'could not read the database server settings; durability not checked');
    return [];
  }
  for (const f of findings) {
    gauge?.set({ setting: f.setting, risk: f.risk }, 1);
    const fields = { setting: f.setting, value: f.value, recommended: f.recommended, risk: f.risk };
    if (f.risk === 'durability') logger.error(fields, `database server setting puts committed withdrawals at risk: ${f.why}`);
    else logger.warn(fields, `database server setting slows Sluice's writes: ${f.why}`);
  }
  return findings;
}
