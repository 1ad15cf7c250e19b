import type { SectionResult, Target } from '../lib/result.js';
import type { RssPeak } from '../lib/rss.js';

const LIMIT_MB = 200;

/** Peak RSS of each role process, sampled while the other scenarios loaded it. */
export function memorySection(peaks: RssPeak[], failedScenarios: ReadonlySet<string> = new Set()): Omit<SectionResult, 'name' | 'seconds'> {
  const byRole = new Map<string, RssPeak>();
  for (const p of peaks) if (!byRole.has(p.role) || byRole.get(p.role)!.peakMiB < p.peakMiB) byRole.set(p.role, p);
  const targets: Target[] = [...byRole.values()]
    .filter((p) => !p.role.startsWith('anvil'))
    .map((p) => ({
      section: 'memory',
      what: `peak RSS, ${p.role}`,
      goal: `< ${LIMIT_MB} MB`,
      measured: Math.round(p.peakMiB * 1.048576 * 10) / 10,
      unit: 'MB',
      ratio: { to: `the ${LIMIT_MB} MB budget`, value: Math.round(((p.peakMiB * 1.048576) / LIMIT_MB) * 1000) / 1000 },
      // A role whose scenario failed may have died before the load: its peak proves nothing.
      pass: !failedScenarios.has(p.scenario) && p.peakMiB * 1.048576 < LIMIT_MB,
      note: failedScenarios.has(p.scenario) ? `during ${p.scenario}, which failed: not a peak under load` : `during ${p.scenario}`,
    }));
  const notes = [
    'VmHWM (kernel high-water mark) of each process, sampled every 500 ms while its scenario ran; MB = 10^6 bytes.',
    '`sluice dev` runs every role (API, signer, sender, tracker, reconciler) in one process, so its figure bounds each role from above.',
  ];
  if (peaks.length === 0) notes.push('No role process ran in this invocation: memory is measured during api-*, signer, e2e and history.');
  return {
    ok: true,
    figures: [...byRole.values()].map((p) => ({ what: `peak RSS, ${p.role} (${p.scenario})`, value: p.peakMiB, unit: 'MiB' })),
    targets,
    raw: { peaks },
    notes,
  };
}
