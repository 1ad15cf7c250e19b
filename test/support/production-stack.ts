import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createConnection } from 'mysql2/promise';
import { MYSQL_SERVER_URL } from './database.js';

/**
 * Helpers to run Sluice the way production does: separate OS processes from the built `dist/cli.js`
 * (`api`, `signer`, `sender`, `tracker`), the one-shots (`migrate`, `queues create`, `wallet create`,
 * `config apply`, `api-key create`, `cron …`), and a private redis-server that a test may stop and
 * restart. Every process writes to its own log file so a failure can be diagnosed from the tails.
 */

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'dist/cli.js');
export const MOTO_URL = 'http://127.0.0.1:5000';

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** Compiles src/ into dist/ so the processes run the code under test, not a stale build. */
export async function buildDist(): Promise<void> {
  const { code, output, timedOut } = await run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], process.env, 300_000);
  if (code !== 0) throw new Error(`tsc -p tsconfig.build.json failed (${timedOut ? 'timed out' : `exit ${code}`}):\n${output}`);
}

/** Fails loudly (never skips) when moto or MariaDB is not there. */
export async function requireServices(): Promise<void> {
  try {
    const res = await fetch(`${MOTO_URL}/moto-api/`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    throw new Error(`moto_server (SQS, KMS) is required at ${MOTO_URL}; run scripts/provision-test-services.sh. (${(err as Error).message})`);
  }
  try {
    const conn = await createConnection(MYSQL_SERVER_URL);
    await conn.end();
  } catch (err) {
    throw new Error(`MariaDB is required at ${MYSQL_SERVER_URL}; run scripts/provision-test-services.sh. (${(err as Error).message})`);
  }
}

/**
 * What every role of a test's production stack runs with: its services, moto for AWS, and the
 * settings that suit moto and a 2-core machine. Callers add their own timings.
 */
export function productionRoleEnv(input: { dbUrl: string; redisUrl: string; queuePrefix: string }): Record<string, string> {
  return {
    NODE_ENV: 'production',
    SLUICE_DB_URL: input.dbUrl,
    SLUICE_REDIS_URL: input.redisUrl,
    SLUICE_QUEUE_PREFIX: input.queuePrefix,
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: MOTO_URL,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    SLUICE_LOG_LEVEL: 'info',
    SLUICE_QUEUE_VISIBILITY_SECONDS: '15',
    SLUICE_QUEUE_POLL_WAIT_SECONDS: '1', // moto's FIFO long polls miss messages freed mid-poll
    SLUICE_RATE_LIMIT_PER_SECOND: '0',
    SLUICE_SHUTDOWN_TIMEOUT_MS: '10000',
    SLUICE_DB_POOL_SIZE: '8',
    SLUICE_SIGNER_CONCURRENCY: '8',
    SLUICE_SENDER_CONCURRENCY: '8',
  };
}

/** The environment of every Sluice process: the caller's env minus any SLUICE_* it had, plus `env`. */
export function processEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_') && !k.startsWith('AWS_')));
  return { ...base, ...env };
}

/**
 * What a hung process's diagnostic report says it was waiting on: its open sockets and timers. CI
 * shows only a failure's message, and the log directory does not outlive the machine.
 */
function summarizeReport(dir: string, pid: number | undefined): string {
  const file = fs.readdirSync(dir).find((f) => f.startsWith('report.') && f.includes(`.${pid}.`) && f.endsWith('.json'));
  if (!file) return `no diagnostic report from pid ${pid}`;
  type Handle = { type: string; is_active?: boolean; is_referenced?: boolean; localEndpoint?: { port: number }; remoteEndpoint?: { host: string; port: number }; timeout?: number };
  const report = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { libuv?: Handle[] };
  const handles = (report.libuv ?? [])
    .filter((h) => h.is_active && ['tcp', 'timer', 'udp', 'pipe'].includes(h.type))
    .map((h) => (h.remoteEndpoint ? `${h.type} :${h.localEndpoint?.port} -> ${h.remoteEndpoint.host}:${h.remoteEndpoint.port}` : `${h.type}${h.timeout ? ` ${h.timeout} ms` : ''}${h.is_referenced ? '' : ' (unref)'}`));
  return `${file}: active handles [${handles.join('; ')}]`;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string; output: string; timedOut: boolean; pid: number | undefined }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
      output += d;
    });
    child.stderr!.on('data', (d) => (output += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // A node started with --report-on-signal writes what it was waiting on (open sockets, timers) first.
      child.kill(args.includes('--report-on-signal') ? 'SIGUSR2' : 'SIGKILL');
      setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, output, timedOut, pid: child.pid });
    });
  });
}

export type RoleProcess = {
  name: string;
  args: string[];
  process: ChildProcess;
  exited: Promise<Exit>;
  logFile: string;
  /** Health (workers) or API base URL. */
  url: string;
};

/**
 * Runs Sluice processes for one test: one-shots (awaited, output kept in the log dir) and
 * long-running roles (spawned, restartable under the same name and port).
 */
export class ProductionStack {
  readonly roles = new Map<string, RoleProcess>();
  private readonly oneShotLogs: string[] = [];
  private seq = 0;

  constructor(
    readonly logDir: string,
    private readonly env: Record<string, string>,
  ) {
    fs.mkdirSync(logDir, { recursive: true });
  }

  /** `node dist/cli.js <args>` to completion; throws with its output unless it exits 0. Returns stdout. */
  async oneShot(args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 120_000): Promise<string> {
    const startedAt = new Date().toISOString();
    const nodeArgs = ['--report-on-signal', '--report-signal=SIGUSR2', `--report-directory=${this.logDir}`];
    const { code, stdout, output, timedOut, pid } = await run(process.execPath, [...nodeArgs, CLI, ...args], processEnv({ ...this.env, ...extraEnv }), timeoutMs);
    const file = path.join(this.logDir, `oneshot-${String(++this.seq).padStart(3, '0')}-${args.join('_').replace(/[^\w.-]+/g, '-').slice(0, 60)}.log`);
    const ending = timedOut ? `SIGKILLed: did not finish within ${timeoutMs} ms; ${summarizeReport(this.logDir, pid)}` : `exit ${code}`;
    fs.writeFileSync(file, `$ sluice ${args.join(' ')}\nstarted ${startedAt}, ${ending}\n${output}`);
    this.oneShotLogs.push(file);
    if (timedOut) throw new Error(`sluice ${args.join(' ')} started ${startedAt}, ${ending}\n${output}`);
    if (code !== 0) throw new Error(`sluice ${args.join(' ')} exited ${code}:\n${output}`);
    return stdout;
  }

  /** Starts a long-running role as `name` (a restart of the same name appends to its log). */
  start(name: string, role: 'api' | 'signer' | 'sender' | 'tracker', port: number): RoleProcess {
    const existing = this.roles.get(name);
    if (existing && existing.process.exitCode === null && existing.process.signalCode === null) throw new Error(`${name} is still running`);
    const logFile = path.join(this.logDir, `${name}.log`);
    const log = fs.openSync(logFile, 'a');
    fs.writeSync(log, `\n==== ${new Date().toISOString()} start sluice ${role} ====\n`);
    const portEnv: Record<string, string> = role === 'api' ? { SLUICE_PORT: String(port) } : { SLUICE_HEALTH_PORT: String(port) };
    const child = spawn(process.execPath, [CLI, role], {
      cwd: ROOT,
      env: processEnv({ ...this.env, ...portEnv }),
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const proc: RoleProcess = { name, args: [role], process: child, exited, logFile, url: `http://127.0.0.1:${port}` };
    this.roles.set(name, proc);
    return proc;
  }

  /** Polls `/readyz` until 200; fails early (with its log) if the process exits. */
  async waitReady(name: string, timeoutMs = 60_000): Promise<void> {
    const proc = this.roles.get(name)!;
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (proc.process.exitCode !== null || proc.process.signalCode !== null) {
        throw new Error(`${name} exited before it was ready (${proc.process.exitCode ?? proc.process.signalCode}):\n${tail(proc.logFile)}`);
      }
      try {
        const res = await fetch(`${proc.url}/readyz`, { signal: AbortSignal.timeout(5_000) });
        last = `${res.status} ${await res.text()}`;
        if (res.status === 200) return;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(250);
    }
    throw new Error(`${name} not ready within ${timeoutMs} ms (last: ${last}):\n${tail(proc.logFile)}`);
  }

  /** The role's readiness with every check: /readyz/details, which needs an API key with the admin scope. */
  async readyz(name: string, adminKey: string): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
    const res = await fetch(`${this.roles.get(name)!.url}/readyz/details`, { headers: { authorization: `Bearer ${adminKey}` }, signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: (await res.json()) as never };
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `timeoutMs`, reported as a timeout). */
  async stop(name: string, signal: NodeJS.Signals, timeoutMs = 30_000): Promise<Exit & { timedOut: boolean; ms: number }> {
    const proc = this.roles.get(name)!;
    const t0 = Date.now();
    if (proc.process.exitCode === null && proc.process.signalCode === null) proc.process.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      proc.exited.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) proc.process.kill('SIGKILL');
    return { ...(await proc.exited), timedOut, ms: Date.now() - t0 };
  }

  /** Last resort for teardown: SIGKILL whatever this stack started that still runs. */
  killAll(): void {
    for (const p of this.roles.values()) if (p.process.exitCode === null && p.process.signalCode === null) p.process.kill('SIGKILL');
  }

  /** The tail of every log this stack wrote, for a failure report. */
  tails(lines = 40): string {
    const files = [...[...this.roles.values()].map((p) => p.logFile), ...this.oneShotLogs.slice(-6)];
    return files.map((f) => `----- ${path.basename(f)} (${f}) -----\n${tail(f, lines)}`).join('\n');
  }
}

/** A private redis-server on a fixed port that can be stopped and started again on that port. */
export class RedisServer {
  private child: ChildProcess | undefined;
  private exited: Promise<Exit> | undefined;
  constructor(
    readonly port: number,
    readonly logFile: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`;
  }

  async start(): Promise<void> {
    const log = fs.openSync(this.logFile, 'a');
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}):\n${tail(this.logFile)}`);
      if (await ping(this.port)) return;
      await sleep(100);
    }
    throw new Error(`redis-server on ${this.port} did not answer PING:\n${tail(this.logFile)}`);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<Exit> {
    if (!this.child || !this.exited) throw new Error('redis-server not started');
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  isRunning(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }
}

/** Raw RESP PING over TCP (no client library, no reconnect logic in the way). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    import('node:net').then(({ createConnection: connect }) => {
      const socket = connect({ host: '127.0.0.1', port });
      let data = '';
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(1_000, () => done(false));
      socket.once('error', () => done(false));
      socket.once('connect', () => socket.write('PING\r\n'));
      socket.on('data', (d) => {
        data += d;
        if (data.includes('\r\n')) done(data.startsWith('+PONG'));
      });
    });
  });
}

export function tail(file: string, lines = 40): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
