/**
 * The seeded chaos simulation (test/support/sim/run.ts, as `npm run sim`) against the production
 * topology instead of `sluice dev`: api ×1 and signer, sender, tracker ×2 as separate processes
 * from dist/, on MariaDB, a private Redis, moto's SQS, one KMS hot wallet and two in Secrets Manager. Chain and RPC faults,
 * a silent database, and SIGKILL / SIGTERM of one role process at a time (the seed picks which);
 * then the same ground truth as every simulation: each withdrawal terminal as its funding says,
 * paid exactly once, no nonce gaps, ledger conserved. So two replicas of each worker role share
 * lanes, queues and the reconciler while the chain misbehaves.
 *
 * Reproduce with progress (the failure message prints the exact command):
 *   npm run sim -- --seed <n> --topology production --db mysql --withdrawals 120 --wallets 3 --endpoints 2 --chaos today --block-time 0.5 --rate 8
 */
import { describe, expect, inject, it } from 'vitest';
import { formatReport } from '../support/sim/format.js';
import { DEFAULTS, SURVIVABLE_TODAY } from '../support/sim/options.js';
import { runSimulation } from '../support/sim/run.js';

const seed = inject('seed');

describe(`seeded chaos simulation, production topology (SEED=${seed})`, () => {
  it('replicated roles under chain faults and process kills pay every covered withdrawal exactly once', async () => {
    const report = await runSimulation({
      ...DEFAULTS,
      seed,
      topology: 'production',
      replicas: 2,
      db: 'mysql',
      withdrawals: 120,
      wallets: 3,
      endpoints: 2,
      chaos: [...SURVIVABLE_TODAY],
      blockTime: 0.5,
      rate: 8,
      chaosTailSeconds: 10,
      settleSeconds: 90,
    });
    if (!report.ok) console.error(formatReport(report));
    expect(report.violations, `SEED=${seed} — reproduce: ${report.reproduce}`).toEqual([]);

    // Chaos must have happened, to the processes too, or green proves nothing.
    expect(report.faults.lostBroadcasts, 'ambiguous broadcasts').toBeGreaterThanOrEqual(3);
    expect((report.chaos.sigkill ?? 0) + (report.chaos.restart ?? 0), 'role processes killed').toBeGreaterThan(0);
    expect(report.chaosLog.some((e) => /sent to (api|signer|sender|tracker)-\d/.test(e.detail)), 'a kill names the role process it hit').toBe(true);
    expect(report.sluiceStarts, 'processes started, restarts included').toBeGreaterThan(7);
    for (const kind of ['reorg', 'foreign-nonce', 'db-silence']) {
      expect((report.chaos[kind] ?? 0) + (report.chaosSkipped[kind] ?? 0), `${kind} events scheduled`).toBeGreaterThan(0);
    }
    expect(report.statusCounts.COMPLETED ?? 0, 'completed').toBe(report.expected.completed);
    expect(report.statusCounts.REJECTED ?? 0, 'rejected').toBe(report.expected.rejected);
  }, 600_000);
});
