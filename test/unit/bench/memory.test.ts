import { describe, expect, it } from 'vitest';
import { memorySection } from '../../../bench/scenarios/memory.js';
import type { RssPeak } from '../../../bench/lib/rss.js';

const peak = (role: string, peakMiB: number, extra: Partial<RssPeak> = {}): RssPeak => ({ role, scenario: 'signer', pid: 1, peakMiB, samples: 3, ...extra });

describe('memorySection', () => {
  it('judges each role process against the 200 MB budget, by its highest peak', () => {
    const { targets } = memorySection([peak('signer (keystore, MariaDB)', 170), peak('signer (keystore, MariaDB)', 195), peak('api (mysql)', 150, { scenario: 'api-mysql' })]);
    expect(targets.map((t) => [t.what, t.measured, t.pass])).toEqual([
      ['peak RSS, signer (keystore, MariaDB)', 204.5, false],
      ['peak RSS, api (mysql)', 157.3, true],
    ]);
  });

  it('shows a process with a reason not to judge it as a figure only, and names the reason', () => {
    const section = memorySection([peak('sluice dev (all roles)', 265, { scenario: 'e2e', reference: 'not a role' }), peak('api (sqlite)', 180, { scenario: 'api-sqlite' })]);
    expect(section.targets.map((t) => t.what)).toEqual(['peak RSS, api (sqlite)']);
    expect(section.figures.map((f) => f.what)).toContain('peak RSS, sluice dev (all roles) (e2e)');
    expect(section.notes.join(' ')).toContain('sluice dev (all roles): not a role');
  });

  it('does not pass a role whose scenario failed, whatever its peak', () => {
    const { targets } = memorySection([peak('api (sqlite)', 60, { scenario: 'api-sqlite' })], new Set(['api-sqlite']));
    expect(targets[0]!.pass).toBe(false);
  });
});
