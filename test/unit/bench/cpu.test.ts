import { describe, expect, it } from 'vitest';
import { readCpuSeconds } from '../../../bench/lib/cpu.js';

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
