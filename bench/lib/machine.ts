import { execFileSync } from 'node:child_process';
import os from 'node:os';

export type MachineInfo = {
  host: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  loadAverage: number[];
  node: string;
  platform: string;
  gitCommit: string;
  gitDirty: boolean;
  gitBranch: string;
  /** The local MariaDB and its settings, where a section runs on it (describeDatabaseServer). */
  databaseServer?: string | null;
};

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    host: os.hostname(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    gitCommit: git(['rev-parse', 'HEAD']),
    gitDirty: git(['status', '--porcelain', '--untracked-files=no']) !== '',
    gitBranch: git(['rev-parse', '--abbrev-ref', 'HEAD']),
  };
}
