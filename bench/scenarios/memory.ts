import type { SectionResult, Target } from '../lib/result.js';
import type { RssPeak } from '../lib/rss.js';

const LIMIT_MB = 200;

/** Peak RSS of each role process, sampled while the other scenarios loaded it. */
export function memorySection(peaks: RssPeak[], failedScenarios: ReadonlySet<string> = new Set()): Omit<SectionResult, 'name' | 'seconds'> {
  const byRole = new Map<string, RssPeak>();
  for (const p of peaks) if (!byRole.has(p.role) || byRole.get(p.role)!.peakMiB < p.peakMiB) byRole.set(p.role, p);
  const targets: Target[] = [...byRole.values()]
    .filter((p) => p.reference === undefined)
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
    `The budget is per role: each role's process alone under its load (the API on SQLite as well, as the API section runs it; the signer on MariaDB, the only database \`sluice signer\` runs on). Shown but not judged against it: ${
      [...byRole.values()]
        .filter((p) => p.reference !== undefined)
        .map((p) => `${p.role}: ${p.reference}`)
        .join('; ') || 'none'
    }.`,
  ];
  if (peaks.length === 0) notes.push('No role process ran in this invocation: memory is measured during api-*, signer, e2e and history.');
  return {
    ok: true,
    figures: [...byRole.values()].map((p) => ({ what: `peak RSS, ${p.role} (${p.scenario})`, value: p.peakMiB, unit: 'MiB', ...(p.reference ? { note: 'not judged against the per-role budget (notes)' } : {}) })),
    targets,
    raw: { peaks },
    notes,
  };
}
