import { describe, expect, it } from 'vitest';
import { assessMysqlServerSettings, redoLogBytes } from './mysql-server-settings.js';

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
