import { describe, expect, it } from 'vitest';
import { type DbServerCpu, dbServerCpuBetween } from '../../../bench/lib/db-server-cpu.js';

const SIGNER = 4242;
const HARNESS = 777;

function reading(total: number, threads: Array<[tid: number, seconds: number, client: number]>): DbServerCpu {
  return { total, threads: new Map(threads.map(([tid, seconds, client]) => [tid, { seconds, client }])), split: true };
}

describe('dbServerCpuBetween', () => {
  it('gives each client the time its connection threads used between the readings, and the rest to the server', () => {
    const before = reading(10, [
      [1, 3, 0], // InnoDB's purge thread
      [2, 1, SIGNER],
      [3, 0.5, HARNESS],
    ]);
    const after = reading(16, [
      [1, 3.6, 0],
      [2, 4, SIGNER],
      [3, 1.5, HARNESS],
      [4, 0.4, SIGNER], // a connection the signer's pool opened meanwhile: counts from zero
    ]);
    const used = dbServerCpuBetween(before, after, [SIGNER, HARNESS]);
    expect(used.total).toBeCloseTo(6);
    expect(used.byClient.get(SIGNER)).toBeCloseTo(3.4);
    expect(used.byClient.get(HARNESS)).toBeCloseTo(1);
    // The purge thread's 0.6 s, and 1 s of threads that exited (their time is only in the total).
    expect(used.rest).toBeCloseTo(1.6);
  });

  it('counts a thread the server took from its cache for a client only from the earlier reading on', () => {
    // Thread 5 served the migration's connection (no client of ours) before it served the signer.
    const before = reading(20, [[5, 8, 0]]);
    const after = reading(21, [[5, 8.5, SIGNER]]);
    const used = dbServerCpuBetween(before, after, [SIGNER, HARNESS]);
    expect(used.byClient.get(SIGNER)).toBeCloseTo(0.5);
    expect(used.byClient.get(HARNESS)).toBe(0);
    expect(used.rest).toBeCloseTo(0.5);
  });
});
