// `npm run bench`: Sluice's throughput, latency and memory next to ceilings measured in the same
// run. See `npm run bench -- --help` and README "Benchmarks".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeDatabaseServer } from './lib/database.js';
import { machineInfo } from './lib/machine.js';
import { createProgress } from './lib/progress.js';
import type { ScenarioContext, SectionResult, Target } from './lib/result.js';
import { createRssRecorder } from './lib/rss.js';
import { type Options, parseArgs, type ScenarioName, USAGE } from './options.js';
import { type BenchReport, renderMarkdown } from './report.js';
import { runApiScenario } from './scenarios/api.js';
import { runE2eScenario } from './scenarios/e2e.js';
import { runHistoryScenario } from './scenarios/history.js';
import { memorySection } from './scenarios/memory.js';
import { runSignerScenario } from './scenarios/signer.js';

type Runner = (ctx: ScenarioContext) => Promise<Omit<SectionResult, 'name' | 'seconds'>>;

const RUNNERS: Record<Exclude<ScenarioName, 'memory'>, Runner> = {
  'api-sqlite': (ctx) => runApiScenario('sqlite', ctx),
  'api-mysql': (ctx) => runApiScenario('mysql', ctx),
  signer: runSignerScenario,
  e2e: runE2eScenario,
  history: runHistoryScenario,
};

let options: Options;
try {
  const parsed = parseArgs(process.argv.slice(2));
  if ('help' in parsed) {
    console.log(USAGE);
    process.exit(0);
  }
  options = parsed;
} catch (err) {
  console.error(`error: ${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}

// Read by bench/lib/child.ts when it spawns each child.
if (options.cpuProfDir) process.env.BENCH_CPU_PROF_DIR = path.resolve(options.cpuProfDir);
if (options.nodeArgs) process.env.BENCH_NODE_ARGS = JSON.stringify(options.nodeArgs);

const startedAt = new Date();
const machine = machineInfo();
// The sections that run on the local MariaDB (memory measures the roles of those runs).
if (options.only.some((name) => ['api-mysql', 'signer', 'memory'].includes(name))) machine.databaseServer = await describeDatabaseServer();
const progress = createProgress();
const rss = createRssRecorder();
const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
const ctx: ScenarioContext = { profile: options.profile, progress, rss, workDir };
const sections: SectionResult[] = [];

process.stderr.write(
  `Sluice bench${options.profile.quick ? ' (--quick)' : ''}: ${options.only.join(', ')}\n` +
    `${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}, commit ${machine.gitCommit.slice(0, 12)}; scratch ${workDir}\n`,
);

for (const name of options.only) {
  if (name === 'memory') continue;
  const t0 = performance.now();
  try {
    const result = await RUNNERS[name](ctx);
    sections.push({ name, seconds: (performance.now() - t0) / 1000, ...result });
  } catch (err) {
    progress.done();
    process.stderr.write(`[${name}] failed: ${(err as Error).stack ?? String(err)}\n`);
    sections.push({ name, ok: false, error: (err as Error).message.split('\n')[0], seconds: (performance.now() - t0) / 1000, figures: [], targets: [], raw: { error: String((err as Error).stack ?? err) }, notes: [] });
  }
}
if (options.only.includes('memory')) {
  const failed = new Set(sections.filter((s) => !s.ok).map((s) => s.name));
  sections.push({ name: 'memory', seconds: 0, ...memorySection(rss.peaks, failed) });
}
progress.done();

const finishedAt = new Date();
const targets: Target[] = sections.flatMap((s) => s.targets);
const report: BenchReport = {
  startedAt: startedAt.toISOString(),
  finishedAt: finishedAt.toISOString(),
  seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
  quick: options.profile.quick,
  scenarios: options.only,
  machine,
  options,
  sections,
  targets,
};
fs.mkdirSync(options.outDir, { recursive: true });
const stamp = startedAt.toISOString().replace(/:/g, '').replace(/\.\d+Z$/, 'Z');
const base = path.join(options.outDir, `${stamp}-${machine.host.replace(/[^\w.-]/g, '_')}`);
fs.writeFileSync(`${base}.json`, JSON.stringify(report, null, 2));
fs.writeFileSync(`${base}.md`, renderMarkdown(report));

const failed = sections.filter((s) => !s.ok);
if (failed.length === 0 && !options.keep) fs.rmSync(workDir, { recursive: true, force: true });
else process.stderr.write(`scratch kept: ${workDir}\n`);
console.log(`${base}.md`);
console.log(`${base}.json`);
for (const t of targets) process.stderr.write(`${t.pass === null ? 'n/a ' : t.pass ? 'PASS' : 'MISS'}  ${t.section}: ${t.what} — ${t.measured ?? '—'} ${t.unit} (goal ${t.goal})${t.note ? `; ${t.note}` : ''}\n`);
if (failed.length) process.stderr.write(`${failed.length} section(s) failed: ${failed.map((s) => s.name).join(', ')}; logs kept in ${workDir}\n`);
// A benchmark reports; it does not judge by exit code (targets are in the report). A section that
// could not run at all is an error.
process.exit(failed.length ? 1 : 0);
