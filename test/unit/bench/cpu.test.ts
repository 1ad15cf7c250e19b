import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { coresBoundPerSecond, machineBusy, readCpuSeconds, readMachineCpu, readThreadCpu, type ThreadCpu, threadBusy } from '../../../bench/lib/cpu.js';

describe('readCpuSeconds', () => {
  it('reads this process\'s CPU time, which grows with work done', () => {
    const before = readCpuSeconds(process.pid);
    expect(before).not.toBeNull();
    const until = process.cpuUsage();
    // Burn at least 50 ms of CPU (three ticks of /proc's 10 ms clock, with room).
    while ((process.cpuUsage(until).user + process.cpuUsage(until).system) < 50_000) Math.sqrt(Math.random());
    const after = readCpuSeconds(process.pid)!;
    expect(after).toBeGreaterThan(before!);
    const own = process.cpuUsage();
    expect(Math.abs(after - (own.user + own.system) / 1e6)).toBeLessThan(0.5);
  });

  it('answers null for a process that does not exist', () => {
    expect(readCpuSeconds(2 ** 22 + 7)).toBeNull();
  });
});

describe('threadBusy', () => {
  const reading = (at: number, entries: [number, number][], machine: ThreadCpu['machine'] = null): ThreadCpu => ({ at, seconds: new Map(entries), machine });

  it('gives the main thread\'s share of wall time and the busiest other thread\'s', () => {
    const before = reading(0, [[100, 1], [101, 0.5], [102, 2]], { busy: 1_000, total: 2_000 });
    const after = reading(2_000, [[100, 2.8], [101, 0.7], [102, 3], [103, 0.4]], { busy: 1_320, total: 2_400 });
    const busy = threadBusy(100, before, after)!;
    expect(busy.machine).toBeCloseTo(0.8);
    expect(busy.main).toBeCloseTo(0.9);
    // 102 used 1 s of 2; 103 started after the first reading and counts from zero.
    expect(busy.busiestOther).toBeCloseTo(0.5);
  });

  it('answers null when no time passed or the process is gone', () => {
    expect(threadBusy(100, reading(5, [[100, 1]]), reading(5, [[100, 1]]))).toBeNull();
    expect(threadBusy(100, reading(0, [[100, 1]]), reading(1_000, []))).toBeNull();
  });

  it('sees a worker thread that burns CPU while the thread that started it waits', async () => {
    const before = readThreadCpu(process.pid);
    expect(before.seconds.get(process.pid)).toBeDefined();
    // It burns 300 ms of its own CPU time (by its /proc entry), not of wall time: on a loaded
    // machine a wall-clock loop may get a core for only part of its time. It stays alive until
    // read (its port's listener holds it; without one it ended right after posting, and on a
    // loaded host its /proc entry was often gone before the reading): an exited thread is not counted.
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       const fs = require('node:fs');
       const ticks = () => { const s = fs.readFileSync('/proc/thread-self/stat', 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' '); return Number(f[11]) + Number(f[12]); };
       const start = ticks();
       while (ticks() - start < 30) for (let i = 0; i < 100000; i++) Math.sqrt(i);
       parentPort.on('message', () => {});
       parentPort.postMessage('burnt');`,
      { eval: true },
    );
    await new Promise((resolve) => worker.once('message', resolve));
    const after = readThreadCpu(process.pid);
    const busy = threadBusy(process.pid, before, after)!;
    await worker.terminate();
    // The share of the window times the window: the CPU seconds of the busiest other thread.
    expect(busy.busiestOther * ((after.at - before.at) / 1000)).toBeGreaterThanOrEqual(0.29);
  });
});

describe('machineBusy', () => {
  it('is the share of all cores that worked between two readings of /proc/stat', () => {
    expect(machineBusy({ busy: 100, total: 400 }, { busy: 250, total: 600 })).toBeCloseTo(0.75);
    expect(machineBusy({ busy: 100, total: 400 }, { busy: 100, total: 400 })).toBeNull();
    expect(machineBusy(null, { busy: 1, total: 2 })).toBeNull();
  });

  it('reads this machine, and counts this process burning CPU', () => {
    const before = readMachineCpu();
    expect(before).not.toBeNull();
    const start = process.cpuUsage();
    while (process.cpuUsage(start).user < 100_000) Math.sqrt(Math.random());
    const busy = machineBusy(before, readMachineCpu())!;
    expect(busy).toBeGreaterThan(0);
    expect(busy).toBeLessThanOrEqual(1);
  });
});

describe('coresBoundPerSecond', () => {
  it('is the rate that keeps every core busy at this CPU cost per item', () => {
    expect(coresBoundPerSecond(2, 450)).toBe(4_444);
    expect(coresBoundPerSecond(2, 400)).toBe(5_000);
    expect(coresBoundPerSecond(4, 450)).toBe(8_889);
  });

  it('has no bound without a cost or without cores', () => {
    expect(coresBoundPerSecond(2, 0)).toBeNull();
    expect(coresBoundPerSecond(0, 450)).toBeNull();
  });
});
