// Seeded chaos simulation of the whole pipeline against a real node; see `npm run sim -- --help`.
import { formatProgress, formatReport } from '../test/support/sim/format.js';
import { parseArgs, USAGE } from '../test/support/sim/options.js';
import { runSimulation } from '../test/support/sim/run.js';

let parsed;
try {
  parsed = parseArgs(process.argv.slice(2));
} catch (err) {
  console.error(`error: ${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if ('help' in parsed) {
  console.log(USAGE);
  process.exit(0);
}
const { options, quiet } = parsed;

const tty = process.stdout.isTTY === true;
let lastPeriodic = 0;
let progressShown = false;
const clearProgress = () => {
  if (tty && progressShown) process.stdout.write('\r\x1b[2K');
  progressShown = false;
};
const log = (line: string) => {
  if (quiet) return;
  clearProgress();
  console.log(line);
};

const abort = new AbortController();
process.once('SIGINT', () => {
  log('SIGINT: stopping the run and cleaning up (Ctrl-C again to force)…');
  abort.abort();
  process.once('SIGINT', () => process.exit(130));
});

log(`SEED=${options.seed}: ${options.withdrawals} withdrawals, ${options.wallets} wallet(s), ${options.db}, block time ${options.blockTime}s`);
log(`chaos on: ${options.chaos.join(', ') || 'none'}`);
const report = await runSimulation(options, {
  log,
  signal: abort.signal,
  progress: (p) => {
    if (quiet) return;
    const line = formatProgress(p);
    if (tty) {
      process.stdout.write(`\r\x1b[2K${line.slice(0, (process.stdout.columns ?? 200) - 1)}`);
      progressShown = true;
    } else if (Date.now() - lastPeriodic >= 10_000 || p.phase === 'done') {
      lastPeriodic = Date.now();
      console.log(line);
    }
  },
});
clearProgress();
console.log(formatReport(report));
process.exit(report.ok ? 0 : 1);
