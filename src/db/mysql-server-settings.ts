import { sql } from 'kysely';
import { SluiceError } from '../errors/base.js';
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

/**
 * Why this server cannot run Sluice, or null when it can. The reconciler claims rows with
 * `FOR UPDATE SKIP LOCKED` (tracker replicas side by side), which MySQL has since 8.0.1 and
 * MariaDB since 10.6; an older server rejects it as a syntax error at every pass.
 */
export function unsupportedServerReason(version: string): string | null {
  // MariaDB 10+ may prefix its version with 5.5.5- for old clients' sake.
  const match = /^(?:5\.5\.5-(?=\d+\.\d+\.\d+-mariadb))?(\d+)\.(\d+)\.(\d+)/i.exec(version);
  if (!match) return null; // a form not seen: let the statements themselves tell
  const [major, minor, patch] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const atLeast = (m: number, n: number, p: number) => major > m || (major === m && (minor > n || (minor === n && patch >= p)));
  const mariadb = /mariadb/i.test(version);
  if (mariadb ? atLeast(10, 6, 0) : atLeast(8, 0, 1)) return null;
  return `Sluice needs MySQL 8.0.1 or later, or MariaDB 10.6 or later (FOR UPDATE SKIP LOCKED); this server is ${mariadb ? 'MariaDB' : 'MySQL'} ${version}.`;
}

/** Refuses a server too old for Sluice's statements (unsupportedServerReason). Nothing on SQLite. */
export async function assertSupportedServer(db: Db): Promise<void> {
  if (db.dialect !== 'mysql') return;
  const { rows } = await sql<{ version: string }>`SELECT VERSION() AS version`.execute(db.kysely);
  const reason = unsupportedServerReason(rows[0]?.version ?? '');
  if (reason) throw new SluiceError(reason, { code: 'db_server_unsupported' });
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

type RiskGauge = { set(labels: { setting: string; risk: ServerSettingRisk }, value: number): void };

/** How often every process reads the server's settings again after start-up. */
const SERVER_SETTINGS_RECHECK_MS = 60_000;

/**
 * Checks a MySQL server's settings (nothing on SQLite) when a process starts and again every
 * `intervalMs` until `signal` aborts, because a server's settings change under a running Sluice: a
 * restart drops every `SET GLOBAL` back to the option file, and an operator may lower durability
 * by hand to get through an incident. Each finding is logged when it appears or its value
 * changes: an error for a durability risk (with the gauge behind SluiceDatabaseNotDurable), a
 * warning for throughput; a finding that goes away is logged and its gauge set to 0, so the alert
 * resolves without restarting the roles. A server that cannot be asked is logged once per outage
 * and does not stop Sluice: the settings are advice, not a gate. Resolves with the first findings
 * and `stop` (for whoever closes the database before `signal` aborts).
 */
export async function watchMysqlServerSettings(deps: {
  db: Db;
  logger: Logger;
  gauge?: RiskGauge;
  signal: AbortSignal;
  intervalMs?: number;
  read?: (db: Db) => Promise<MysqlServerSettings>;
}): Promise<{ findings: ServerSettingFinding[]; stop(): void }> {
  if (deps.db.dialect !== 'mysql') return { findings: [], stop: () => {} };
  const check = createServerSettingsCheck(deps);
  const first = await check();
  const intervalMs = deps.intervalMs ?? SERVER_SETTINGS_RECHECK_MS;
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  const stop = () => clearInterval(timer);
  deps.signal.addEventListener('abort', stop, { once: true });
  return { findings: first ?? [], stop };
}

/** One check that remembers what the last one found, so it logs changes only. Null when the server could not be read. */
function createServerSettingsCheck(deps: { db: Db; logger: Logger; gauge?: RiskGauge; signal: AbortSignal; read?: (db: Db) => Promise<MysqlServerSettings> }) {
  const { logger, gauge } = deps;
  const read = deps.read ?? readMysqlServerSettings;
  let known = new Map<string, ServerSettingFinding>();
  let unreadable = false;
  return async function check(): Promise<ServerSettingFinding[] | null> {
    let findings: ServerSettingFinding[];
    try {
      findings = assessMysqlServerSettings(await read(deps.db));
    } catch (err) {
      if (!unreadable && !deps.signal.aborted) logger.warn({ err }, 'could not read the database server settings; durability not checked');
      unreadable = true;
      return null;
    }
    unreadable = false;
    const current = new Map(findings.map((f) => [`${f.setting}\u0000${f.risk}`, f]));
    for (const [key, f] of current) {
      gauge?.set({ setting: f.setting, risk: f.risk }, 1);
      if (known.get(key)?.value === f.value) continue;
      const fields = { setting: f.setting, value: f.value, recommended: f.recommended, risk: f.risk };
      if (f.risk === 'durability') logger.error(fields, `database server setting puts committed withdrawals at risk: ${f.why}`);
      else logger.warn(fields, `database server setting slows Sluice's writes: ${f.why}`);
    }
    for (const [key, f] of known) {
      if (current.has(key)) continue;
      gauge?.set({ setting: f.setting, risk: f.risk }, 0);
      logger.info({ setting: f.setting, risk: f.risk }, 'database server setting is as recommended again');
    }
    known = current;
    return findings;
  };
}
