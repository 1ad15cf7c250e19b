/** `npm run bench` options and the sizes of each profile (default ≈ 5 minutes, --quick ≈ 1). */
export const SCENARIOS = ['api-sqlite', 'api-mysql', 'signer', 'e2e', 'memory', 'history'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export const USAGE = `Usage: npm run bench -- [options]

Measures Sluice against ceilings taken in the same run and writes
bench/results/<date>-<host>.md and .json.

Options:
  --quick            about 1 minute instead of about 5 (smaller loads, shorter windows)
  --only LIST        comma-separated subset of: ${SCENARIOS.join(', ')}
                     (memory reports the peak RSS sampled during the other scenarios)
  --out DIR          where the .md and .json go (default bench/results)
  --cpu-prof DIR     write a V8 CPU profile of every child process (the roles
                     under test, load generators) into DIR (.cpuprofile files)
  --node-args FLAGS  extra node flags for every child process, one string
                     (e.g. --node-args "--trace-opt --trace-gc"; their output goes to
                     the child logs, so add --keep)
  --keep             keep the scratch directory (databases, child logs) even when every section ran
  --help             this text
`;

export type Profile = {
  quick: boolean;
  /**
   * API accept: seconds per max-rate window, per fixed-rate window, DB ceiling window; the max-rate
   * runs (HTTP ceiling, accepts) use twice `connections`. Group commit grows its batches with the
   * requests in flight, so a closed loop over too few connections measures the connections, not the
   * server (MariaDB: 4,029/s over 128, 4,741/s over 512, same hour).
   */
  api: { users: number; maxRateSeconds: number; fixedSeconds: number; dbCeilingSeconds: number; connections: number };
  signer: { backlog: number; kmsBacklog: number; warmup: number; kmsWarmup: number; capSeconds: number; kmsCapSeconds: number; ceilingSeconds: number; wallets: number; kmsWallets: number };
  e2e: { withdrawals: number; rate: number; wallets: number; drainCapSeconds: number; users: number };
  history: { rows: number; probeSeconds: number; probeRate: number; ticks: number };
};

export type Options = { profile: Profile; only: ScenarioName[]; outDir: string; keep: boolean; cpuProfDir?: string; nodeArgs?: string[] };

const DEFAULT: Profile = {
  quick: false,
  api: { users: 500, maxRateSeconds: 10, fixedSeconds: 8, dbCeilingSeconds: 4, connections: 256 },
  signer: { backlog: 50_000, kmsBacklog: 2_000, warmup: 5_000, kmsWarmup: 200, capSeconds: 45, kmsCapSeconds: 20, ceilingSeconds: 2, wallets: 8, kmsWallets: 4 },
  e2e: { withdrawals: 20_000, rate: 400, wallets: 32, drainCapSeconds: 60, users: 500 },
  // 10 s probes: 5,000 answers, so the P99 is the 50th slowest. At 5 s (2,500 answers, the 25th)
  // one pause of this shared host decided it (POST P99 30.6 against 11.5 ms empty in the full run
  // of 2026-12-06 07:11; 7.9-11.7 against 6.7-7.9 ms in four more runs of the section that hour).
  history: { rows: 1_000_000, probeSeconds: 10, probeRate: 500, ticks: 9 },
};

const QUICK: Profile = {
  quick: true,
  api: { users: 20, maxRateSeconds: 2, fixedSeconds: 2, dbCeilingSeconds: 1, connections: 32 },
  signer: { backlog: 1_000, kmsBacklog: 50, warmup: 200, kmsWarmup: 10, capSeconds: 5, kmsCapSeconds: 4, ceilingSeconds: 1, wallets: 2, kmsWallets: 1 },
  e2e: { withdrawals: 200, rate: 100, wallets: 2, drainCapSeconds: 10, users: 20 },
  history: { rows: 20_000, probeSeconds: 2, probeRate: 200, ticks: 5 },
};

export function parseArgs(argv: string[]): Options | { help: true } {
  let quick = false;
  let only: ScenarioName[] = [...SCENARIOS];
  let outDir = 'bench/results';
  let keep = false;
  let cpuProfDir: string | undefined;
  let nodeArgs: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--help' || arg === '-h') return { help: true };
    else if (arg === '--quick') quick = true;
    else if (arg === '--keep') keep = true;
    else if (arg === '--out') outDir = value();
    else if (arg === '--cpu-prof') cpuProfDir = value();
    else if (arg === '--node-args') {
      // Its value is node flags, so it may start with --.
      const v = argv[++i];
      if (v === undefined || v.trim() === '') throw new Error('--node-args needs a value');
      nodeArgs = v.trim().split(/\s+/);
    }
    else if (arg === '--only') {
      const names = value().split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = names.filter((n) => !(SCENARIOS as readonly string[]).includes(n));
      if (unknown.length) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; one of ${SCENARIOS.join(', ')}`);
      only = names as ScenarioName[];
    } else throw new Error(`unknown option ${arg}`);
  }
  return { profile: quick ? QUICK : DEFAULT, only, outDir, keep, ...(cpuProfDir ? { cpuProfDir } : {}), ...(nodeArgs ? { nodeArgs } : {}) };
}
