import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import type { Db } from './connect.js';
import { assessMysqlServerSettings, type MysqlServerSettings, redoLogBytes, unsupportedServerReason, watchMysqlServerSettings } from './mysql-server-settings.js';

const GiB = 1024 ** 3;
// MariaDB 10.11 as this project provisions it: durable, 2 GiB of redo, a 1 GiB buffer pool.
const provisioned = {
  version: '10.11.19-MariaDB',
  innodb_flush_log_at_trx_commit: '1',
  log_bin: 'OFF',
  sync_binlog: '0',
  innodb_doublewrite: 'ON',
  innodb_log_file_size: String(2 * GiB),
  innodb_buffer_pool_size: String(GiB),
};

const settingsOf = (overrides: Record<string, string>) => assessMysqlServerSettings({ ...provisioned, ...overrides }).map((f) => `${f.risk}:${f.setting}`);

describe('unsupportedServerReason', () => {
  it('accepts MySQL from 8.0.1 and MariaDB from 10.6, as their versions read', () => {
    for (const version of ['8.0.1', '8.0.36', '8.4.3-log', '9.1.0', '10.6.0-MariaDB', '10.11.19-MariaDB-0+deb12u1', '11.4.2-MariaDB-log', '5.5.5-10.11.6-MariaDB']) {
      expect(unsupportedServerReason(version), version).toBeNull();
    }
  });

  it('refuses MySQL 5.7 / 8.0.0 and MariaDB before 10.6, naming what it needs', () => {
    expect(unsupportedServerReason('5.7.44-log')).toBe('Sluice needs MySQL 8.0.1 or later, or MariaDB 10.6 or later (FOR UPDATE SKIP LOCKED); this server is MySQL 5.7.44-log.');
    expect(unsupportedServerReason('8.0.0-dmr')).toMatch(/MySQL 8\.0\.0-dmr/);
    expect(unsupportedServerReason('10.5.23-MariaDB')).toMatch(/this server is MariaDB 10\.5\.23-MariaDB\.$/);
  });
});

describe('assessMysqlServerSettings', () => {
  it('finds nothing on a durable server with room for its writes', () => {
    expect(assessMysqlServerSettings(provisioned)).toEqual([]);
  });

  it('calls a commit not flushed to disk at each transaction a durability risk', () => {
    const [finding] = assessMysqlServerSettings({ ...provisioned, innodb_flush_log_at_trx_commit: '2' });
    expect(finding).toMatchObject({ setting: 'innodb_flush_log_at_trx_commit', value: '2', recommended: '1', risk: 'durability' });
    expect(settingsOf({ innodb_flush_log_at_trx_commit: '0' })).toEqual(['durability:innodb_flush_log_at_trx_commit']);
  });

  it('asks for sync_binlog = 1 only where the binary log is on', () => {
    expect(settingsOf({ log_bin: 'ON', sync_binlog: '0' })).toEqual(['durability:sync_binlog']);
    expect(settingsOf({ log_bin: 'ON', sync_binlog: '1' })).toEqual([]);
    expect(settingsOf({ log_bin: 'OFF', sync_binlog: '100' })).toEqual([]);
  });

  it('calls the doublewrite buffer off a durability risk, however the server spells off', () => {
    expect(settingsOf({ innodb_doublewrite: 'OFF' })).toEqual(['durability:innodb_doublewrite']);
    expect(settingsOf({ innodb_doublewrite: '0' })).toEqual(['durability:innodb_doublewrite']);
    // MySQL 8.0.30+ modes: DETECT_AND_RECOVER is ON; DETECT_ONLY finds torn pages without repairing them.
    expect(settingsOf({ innodb_doublewrite: 'DETECT_AND_RECOVER' })).toEqual([]);
    expect(settingsOf({ innodb_doublewrite: 'DETECT_ONLY' })).toEqual(['durability:innodb_doublewrite']);
  });

  it('sizes the redo log by innodb_redo_log_capacity where the server has it (MySQL ≥ 8.0.30), else by its files', () => {
    expect(redoLogBytes({ innodb_redo_log_capacity: String(GiB), innodb_log_file_size: '50331648' })).toBe(BigInt(GiB));
    expect(redoLogBytes({ innodb_log_file_size: '50331648', innodb_log_files_in_group: '2' })).toBe(100663296n);
    expect(redoLogBytes({ innodb_log_file_size: '100663296' })).toBe(100663296n);
    expect(redoLogBytes({})).toBeNull();
  });

  it('calls a redo log or buffer pool under 1 GiB a throughput risk, with the variable this server sizes by', () => {
    expect(settingsOf({ innodb_log_file_size: '100663296' })).toEqual(['throughput:innodb_log_file_size']);
    expect(settingsOf({ innodb_redo_log_capacity: '104857600' })).toEqual(['throughput:innodb_redo_log_capacity']);
    expect(settingsOf({ innodb_log_file_size: String(GiB - 1) })).toEqual(['throughput:innodb_log_file_size']);
    expect(settingsOf({ innodb_buffer_pool_size: '134217728' })).toEqual(['throughput:innodb_buffer_pool_size']);
  });

  it('on Aurora, checks only what Aurora lets the customer set', () => {
    const aurora = { version: '8.0.39', aurora_version: '3.08.0', innodb_flush_log_at_trx_commit: '1', log_bin: 'OFF', innodb_doublewrite: 'OFF', innodb_buffer_pool_size: '134217728' };
    expect(assessMysqlServerSettings(aurora)).toEqual([]);
    expect(assessMysqlServerSettings({ ...aurora, innodb_flush_log_at_trx_commit: '0' }).map((f) => f.setting)).toEqual(['innodb_flush_log_at_trx_commit']);
  });
});

describe('watchMysqlServerSettings', () => {
  afterEach(() => void vi.useRealTimers());

  /** A watch over a server whose settings (or failure to answer) the test sets between checks. */
  async function watchOf(initial: MysqlServerSettings) {
    vi.useFakeTimers();
    let served: MysqlServerSettings | Error = initial;
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({ write: (chunk, _enc, done) => void (lines.push(JSON.parse(String(chunk))), done()) });
    const metrics = createMetrics();
    const shutdown = new AbortController();
    const reads = vi.fn(async () => {
      if (served instanceof Error) throw served;
      return served;
    });
    const watch = await watchMysqlServerSettings({
      db: { dialect: 'mysql' } as Db,
      logger: createLogger({ level: 'info', destination }),
      gauge: metrics.dbServerSettingRisk,
      signal: shutdown.signal,
      intervalMs: 1_000,
      read: reads,
    });
    const gauge = async () => Object.fromEntries((await metrics.dbServerSettingRisk.get()).values.map((v) => [`${v.labels.risk}:${v.labels.setting}`, v.value]));
    return { watch, lines, gauge, reads, shutdown, serve: (s: MysqlServerSettings | Error) => void (served = s), tick: () => vi.advanceTimersByTimeAsync(1_000) };
  }

  it('sees a setting lowered after start-up, logs it once, and sets the gauge back to 0 once it is fixed', async () => {
    const w = await watchOf(provisioned);
    expect(w.watch.findings).toEqual([]);
    expect(await w.gauge()).toEqual({});

    w.serve({ ...provisioned, innodb_flush_log_at_trx_commit: '2' });
    await w.tick();
    await w.tick();
    expect(await w.gauge()).toEqual({ 'durability:innodb_flush_log_at_trx_commit': 1 });
    expect(w.lines).toEqual([expect.objectContaining({ level: 50, setting: 'innodb_flush_log_at_trx_commit', value: '2', risk: 'durability' })]);

    w.serve({ ...provisioned, innodb_flush_log_at_trx_commit: '0' });
    await w.tick();
    expect(w.lines.at(-1)).toMatchObject({ level: 50, value: '0' });

    w.serve(provisioned);
    await w.tick();
    expect(await w.gauge()).toEqual({ 'durability:innodb_flush_log_at_trx_commit': 0 });
    expect(w.lines.at(-1)).toMatchObject({ level: 30, setting: 'innodb_flush_log_at_trx_commit', msg: 'database server setting is as recommended again' });
    expect(w.lines).toHaveLength(3);
  });

  it('logs an unreadable server once per outage and keeps the last gauge values; stops reading when shut down', async () => {
    const w = await watchOf({ ...provisioned, innodb_doublewrite: 'OFF' });
    expect(w.watch.findings.map((f) => f.setting)).toEqual(['innodb_doublewrite']);
    w.serve(new Error('connection refused'));
    await w.tick();
    await w.tick();
    expect(w.lines.filter((l) => l.level === 40)).toHaveLength(1);
    expect(await w.gauge()).toEqual({ 'durability:innodb_doublewrite': 1 });

    w.serve({ ...provisioned, innodb_doublewrite: 'OFF' });
    await w.tick();
    expect(w.lines).toHaveLength(2); // the same finding again: not logged again

    const before = w.reads.mock.calls.length;
    w.shutdown.abort();
    await w.tick();
    await w.tick();
    expect(w.reads.mock.calls.length).toBe(before);
  });

  it('does nothing on SQLite', async () => {
    const read = vi.fn();
    const watch = await watchMysqlServerSettings({ db: { dialect: 'sqlite' } as Db, logger: createLogger({ level: 'silent' }), signal: new AbortController().signal, read });
    expect(watch.findings).toEqual([]);
    expect(read).not.toHaveBeenCalled();
  });
});
