import type { MachineInfo } from './lib/machine.js';
import type { Figure, SectionResult, Target } from './lib/result.js';
import type { Options } from './options.js';

export type BenchReport = {
  startedAt: string;
  finishedAt: string;
  seconds: number;
  quick: boolean;
  scenarios: string[];
  machine: MachineInfo;
  options: Options;
  sections: SectionResult[];
  targets: Target[];
};

const num = (v: number | null | undefined, unit = '') => {
  if (v == null) return '—';
  const s = Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : String(Math.round(v * 100) / 100);
  return unit ? `${s} ${unit}`.replace(' %', '%').replace(' /s', '/s') : s;
};
const pct = (r: number | null | undefined) => (r == null ? '—' : `${Math.round(r * 1000) / 10}%`);
const verdict = (pass: boolean | null) => (pass === null ? 'n/a' : pass ? '**PASS**' : '**MISS**');
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderMarkdown(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [];
  out.push(`# Sluice benchmark — ${report.startedAt.slice(0, 10)} on ${m.host}`, '');
  out.push(
    `${report.quick ? 'Quick run (`--quick`: small loads, short windows; not comparable to the targets)' : 'Full run'}, ${Math.round(report.seconds)} s. ` +
      `Commit \`${m.gitCommit.slice(0, 12)}\`${m.gitDirty ? ' (with uncommitted changes)' : ''} on \`${m.gitBranch}\`.`,
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}; load average at start ${m.loadAverage.join(' / ')}.`,
    ...(m.databaseServer === undefined ? [] : [`Database server: ${m.databaseServer ?? 'not reachable at the start of the run'}.`]),
    'Absolute numbers drift on shared machines, so every figure sits next to a ceiling measured in the same run, and the ratio is what to compare across runs.',
    '',
    '## Targets',
    '',
    '| section | target | goal | measured | ratio | result |',
    '|---|---|---|---|---|---|',
  );
  for (const t of report.targets) {
    const r = t.ratio ? `${pct(t.ratio.value)} of ${t.ratio.to}` : '—';
    out.push(`| ${t.section} | ${cell(t.what)} | ${cell(t.goal)} | ${num(t.measured, t.unit)}${t.note ? ` (${cell(t.note)})` : ''} | ${cell(r)} | ${verdict(t.pass)} |`);
  }
  for (const s of report.sections) {
    out.push('', `## ${s.name}`, '');
    if (!s.ok) {
      out.push(`**Failed** after ${Math.round(s.seconds)} s: ${cell(s.error ?? 'unknown error')}`, '');
      continue;
    }
    out.push(`${Math.round(s.seconds)} s.`, '');
    if (s.figures.length) {
      out.push('| figure | value | ceiling (same run) | ratio | note |', '|---|---|---|---|---|');
      for (const f of s.figures) out.push(figureRow(f));
    }
    if (s.notes.length) out.push('', ...s.notes.map((n) => `- ${n}`));
  }
  out.push('', `Raw figures: the .json file next to this one.`, '');
  return out.join('\n');
}

function figureRow(f: Figure): string {
  const ceiling = f.ceiling ? `${num(f.ceiling.value, f.unit)} — ${f.ceiling.what}` : '—';
  return `| ${cell(f.what)} | ${num(f.value, f.unit)} | ${cell(ceiling)} | ${f.ceiling ? pct(f.ratio) : '—'} | ${cell(f.note ?? '')} |`;
}
