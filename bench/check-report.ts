// CI smoke check of a `npm run bench -- --quick` output directory: both files exist and every
// section ran and is rendered. No thresholds: the numbers are the benchmark's to report, not CI's.
import fs from 'node:fs';
import path from 'node:path';
import { SCENARIOS } from './options.js';
import type { BenchReport } from './report.js';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node --import tsx bench/check-report.ts <out dir>');
  process.exit(2);
}
const problems: string[] = [];
const jsons = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
if (jsons.length !== 1) problems.push(`expected one .json in ${dir}, found ${jsons.length}`);
const json = jsons[0] ? path.join(dir, jsons[0]) : '';
const md = json.replace(/\.json$/, '.md');
if (json && !fs.existsSync(md)) problems.push(`${md} is missing`);
if (json && fs.existsSync(md)) {
  const report = JSON.parse(fs.readFileSync(json, 'utf8')) as BenchReport;
  const text = fs.readFileSync(md, 'utf8');
  for (const name of SCENARIOS) {
    const section = report.sections.find((s) => s.name === name);
    if (!section) problems.push(`section ${name} missing from the .json`);
    else if (!section.ok) problems.push(`section ${name} failed: ${section.error}`);
    else if (section.figures.length === 0) problems.push(`section ${name} has no figures`);
    if (!text.includes(`## ${name}\n`)) problems.push(`section ${name} missing from the .md`);
  }
  if (!text.includes('## Targets')) problems.push('the .md has no targets table');
  for (const field of ['cpuModel', 'cores', 'node', 'gitCommit'] as const) if (!report.machine[field]) problems.push(`machine.${field} missing`);
  if (report.targets.length === 0) problems.push('no targets reported');
}
if (problems.length) {
  console.error(`bench smoke check failed:\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
console.log(`bench smoke check: ${path.basename(json)} and .md have every section (${SCENARIOS.join(', ')})`);
