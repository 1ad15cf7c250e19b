import fs from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's times: USER_HZ, 100 on every Linux build that matters here. */
const USER_HZ = 100;

/** user + system seconds from a /proc stat line (a process's or one thread's), or null if unreadable. */
function statCpuSeconds(file: string): number | null {
  let stat: string;
  try {
    stat = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / USER_HZ : null;
}

/**
 * CPU seconds (user + system, all threads) a live process has used, or null once it is gone.
 * CPU per request is steadier across runs on a shared machine than requests per second, which
 * also move with what the machine's other tenants take.
 */
export function readCpuSeconds(pid: number): number | null {
  return statCpuSeconds(`/proc/${pid}/stat`);
}

/** CPU seconds of each thread of a live process at one moment, with the wall clock (ms) and the whole machine's CPU then. */
export type ThreadCpu = { at: number; seconds: Map<number, number>; machine: MachineCpu | null };

export function readThreadCpu(pid: number): ThreadCpu {
  const seconds = new Map<number, number>();
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    // gone: no threads
  }
  for (const tid of tids) {
    const s = statCpuSeconds(`/proc/${pid}/task/${tid}/stat`);
    if (s !== null) seconds.set(Number(tid), s);
  }
  return { at: performance.now(), seconds, machine: readMachineCpu() };
}

/**
 * How busy (share of wall time, 0–1) the main thread (its id is the pid) and the busiest other
 * thread (in a Sluice role, the SQLite write worker) were between two readings, and the share of
 * all the machine's cores that worked meanwhile. A thread near 1 is what bounds the rate; if none
 * is, a machine near 1 is (the load generator, V8's helper threads and the kernel share it).
 */
export function threadBusy(pid: number, before: ThreadCpu, after: ThreadCpu): { main: number; busiestOther: number; machine: number | null } | null {
  const wall = (after.at - before.at) / 1000;
  if (wall <= 0 || !after.seconds.has(pid)) return null;
  const used = (tid: number) => (after.seconds.get(tid) ?? 0) - (before.seconds.get(tid) ?? 0);
  let busiestOther = 0;
  for (const tid of after.seconds.keys()) if (tid !== pid) busiestOther = Math.max(busiestOther, used(tid));
  return { main: used(pid) / wall, busiestOther: busiestOther / wall, machine: machineBusy(before.machine, after.machine) };
}

/** The whole machine's CPU time from /proc/stat (every core, every process and the kernel), in ticks. */
export type MachineCpu = { busy: number; total: number };

export function readMachineCpu(): MachineCpu | null {
  let line: string | undefined;
  try {
    line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  } catch {
    return null;
  }
  // cpu  user nice system idle iowait irq softirq steal ...: idle and iowait are time no core worked.
  const ticks = line?.startsWith('cpu ') ? line.slice(4).trim().split(/\s+/).map(Number) : [];
  if (ticks.length < 5 || ticks.some((t) => !Number.isFinite(t))) return null;
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: total - ticks[3]! - ticks[4]!, total };
}

/** Share (0–1) of all the machine's cores that worked between two readings. */
export function machineBusy(before: MachineCpu | null, after: MachineCpu | null): number | null {
  if (!before || !after || after.total <= before.total) return null;
  return (after.busy - before.busy) / (after.total - before.total);
}

/**
 * The most items per second `cores` fully busy cores allow when each item costs `microsPerItem` of
 * CPU across every process that does its work: a bound no pipeline can pass on this machine, so a
 * goal above it is out of this host's reach at this cost, whatever waits are removed.
 */
export function coresBoundPerSecond(cores: number, microsPerItem: number): number | null {
  return cores > 0 && microsPerItem > 0 ? Math.round((cores * 1e6) / microsPerItem) : null;
}
