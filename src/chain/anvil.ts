// Runs a real anvil (Foundry) node as a child process for dev mode and integration tests.
//
// Verified against anvil 1.7.1 (`--state <file> --state-interval 1`): after a restart the
// chain resumes where it was — block number, blocks, transactions, receipts, balances and
// nonces are all restored. That holds for a graceful SIGTERM (anvil dumps on exit) and for
// SIGKILL, losing at most the last ~1s (the dump interval). What is NOT restored without
// `--preserve-historical-states` is historical *state*: eth_getBalance/eth_call at a block
// mined before the restart fails with BlockOutOfRangeError; queries at "latest" are fine.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { sleep } from '../util/sleep.js';

export interface StartAnvilOptions {
  /** 0 or undefined picks a free port. */
  port?: number;
  host?: string;
  /** Seconds between blocks; undefined means automine (a block per transaction). */
  blockTime?: number;
  chainId?: number;
  /** Persist chain state here so it survives restarts. */
  stateFile?: string;
  /** Record {pid, rpcUrl}; a live anvil named there is reused instead of starting a new one. */
  pidFile?: string;
  /** Do not forward anvil's own output to this process's stdout/stderr. */
  silent?: boolean;
  startTimeoutMs?: number;
}

export interface AnvilHandle {
  rpcUrl: string;
  pid: number;
  /** True when an already running anvil from `pidFile` was adopted. */
  reused: boolean;
  stop(): Promise<void>;
}

interface PidFileContent {
  pid: number;
  rpcUrl: string;
  chainId: number;
}

const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_CHARS = 4_000;

export function anvilBinaryPath(): string {
  // Mirrors the naming of @foundry-rs/anvil's optional platform packages (x64 is "amd64").
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`;
  const require = createRequire(import.meta.url);
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`${pkg}/package.json`);
  } catch {
    throw new Error(
      `anvil binary package ${pkg} is not installed (platform ${process.platform}/${process.arch}). ` +
        `Run "npm install" (optional dependencies must be enabled) or install Foundry's anvil.`,
    );
  }
  const bin = join(dirname(pkgJson), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
  if (!existsSync(bin)) throw new Error(`anvil binary missing at ${bin} (package ${pkg} is incomplete)`);
  return bin;
}

export function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not allocate a port'))));
    });
  });
}

function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function rpc(rpcUrl: string, method: string, timeoutMs = 1_000): Promise<unknown> {
  const res = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [] }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message?: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message ?? 'rpc error'}`);
  return body.result;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: exists but belongs to someone else — still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie accepts signal 0 but is gone for our purposes.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no procfs (macOS): trust kill(0)
  }
}

/** Guards against PID reuse: a recycled pid must never receive our SIGTERM. */
function looksLikeAnvil(pid: number, port: string): boolean {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true; // no procfs: rely on the RPC identity check alone
  }
  const args = cmdline.split('\0');
  return /anvil(\.exe)?$/.test(args[0] ?? '') && args.includes(port);
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

async function terminate(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  if (await waitForExit(pid, STOP_GRACE_MS)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  if (!(await waitForExit(pid, STOP_GRACE_MS))) throw new Error(`anvil pid ${pid} did not exit after SIGKILL`);
}

function removePidFileIfOwned(pidFile: string | undefined, pid: number): void {
  if (!pidFile) return;
  // Another instance may have replaced the file since; only remove our own record.
  if (readPidFile(pidFile)?.pid === pid) rmSync(pidFile, { force: true });
}

function readPidFile(pidFile: string): PidFileContent | undefined {
  try {
    const data = JSON.parse(readFileSync(pidFile, 'utf8')) as Partial<PidFileContent>;
    if (typeof data.pid === 'number' && typeof data.rpcUrl === 'string' && typeof data.chainId === 'number') {
      return { pid: data.pid, rpcUrl: data.rpcUrl, chainId: data.chainId };
    }
  } catch {
    // missing or corrupt: treated as no record
  }
  return undefined;
}

function writePidFile(pidFile: string, content: PidFileContent): void {
  mkdirSync(dirname(pidFile), { recursive: true });
  const tmp = `${pidFile}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(content));
  renameSync(tmp, pidFile); // atomic, so a crash never leaves a half-written record
}

async function tryReuse(pidFile: string, opts: StartAnvilOptions, chainId: number): Promise<AnvilHandle | undefined> {
  const rec = readPidFile(pidFile);
  if (!rec) return undefined;
  const port = new URL(rec.rpcUrl).port;
  if (isAlive(rec.pid) && looksLikeAnvil(rec.pid, port)) {
    const [version, remoteChainId] = await Promise.all([
      rpc(rec.rpcUrl, 'web3_clientVersion').catch(() => undefined),
      rpc(rec.rpcUrl, 'eth_chainId').catch(() => undefined),
    ]);
    if (typeof version === 'string' && version.startsWith('anvil/') && typeof remoteChainId === 'string') {
      const wantPort = opts.port ? String(opts.port) : port;
      if (Number(remoteChainId) !== chainId || wantPort !== port) {
        throw new Error(
          `pid file ${pidFile} names a running anvil (pid ${rec.pid}, ${rec.rpcUrl}, chain ${Number(remoteChainId)}) ` +
            `that does not match the requested chain ${chainId}${opts.port ? ` / port ${opts.port}` : ''}; ` +
            `stop it (kill ${rec.pid}) or delete the pid file.`,
        );
      }
      let stopping: Promise<void> | undefined;
      return {
        rpcUrl: rec.rpcUrl,
        pid: rec.pid,
        reused: true,
        stop: () =>
          (stopping ??= terminate(rec.pid).then(() => removePidFileIfOwned(pidFile, rec.pid))),
      };
    }
  }
  rmSync(pidFile, { force: true }); // stale record
  return undefined;
}

export async function startAnvil(opts: StartAnvilOptions = {}): Promise<AnvilHandle> {
  const chainId = opts.chainId ?? 31337;
  if (opts.pidFile) {
    const reused = await tryReuse(opts.pidFile, opts, chainId);
    if (reused) return reused;
  }
  const host = opts.host ?? '127.0.0.1';
  if (opts.port) {
    if (!(await isPortFree(host, opts.port))) throw new Error(`cannot start anvil: ${host}:${opts.port} is already in use`);
    return spawnAnvil(opts, host, opts.port, chainId);
  }
  // Another process can grab a probed free port before anvil binds it; retry on that race.
  for (let attempt = 1; ; attempt++) {
    try {
      return await spawnAnvil(opts, host, await getFreePort(host), chainId);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof Error) || !/address already in use/i.test(err.message)) throw err;
    }
  }
}

async function spawnAnvil(opts: StartAnvilOptions, host: string, port: number, chainId: number): Promise<AnvilHandle> {
  // Past its last 500 blocks anvil writes each block's state to a JSON file under
  // ~/.foundry/anvil/tmp, and leaves them there when it stops (SIGTERM or SIGINT). After a bulk
  // `anvil_mine` each file holds more than the last: 1.7 GB for 5,000 blocks, written back while
  // the next measurement ran. Nothing here reads state that old (the deepest is the nonce at a
  // chain's finality depth); blocks and receipts are kept either way.
  const args = ['--host', host, '--port', String(port), '--chain-id', String(chainId), '--max-persisted-states', '0'];
  if (opts.blockTime !== undefined) {
    if (!(opts.blockTime > 0)) throw new Error(`blockTime must be > 0 seconds (omit it for automine), got ${opts.blockTime}`);
    args.push('--block-time', String(opts.blockTime));
  }
  if (opts.stateFile) {
    mkdirSync(dirname(opts.stateFile), { recursive: true });
    args.push('--state', opts.stateFile, '--state-interval', '1');
  }

  // With a pid file the node is meant to outlive a crash of this process, so it gets its
  // own process group (a terminal SIGINT/SIGHUP to ours does not reach it). Verified:
  // anvil keeps serving after the parent exits and its stdout pipe breaks.
  const child = spawn(anvilBinaryPath(), args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: Boolean(opts.pidFile),
  });
  let tail = '';
  const capture = (target: NodeJS.WriteStream) => (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
    if (!opts.silent) target.write(chunk);
  };
  child.stdout?.on('data', capture(process.stdout));
  child.stderr?.on('data', capture(process.stderr));

  const connectHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const rpcUrl = `http://${connectHost.includes(':') ? `[${connectHost}]` : connectHost}:${port}`;

  const pid = child.pid;
  if (pid === undefined) {
    const spawnErr = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`failed to spawn anvil: ${spawnErr.message}`);
  }

  try {
    await waitUntilReady(child, rpcUrl, opts.startTimeoutMs ?? 30_000, () => tail);
  } catch (err) {
    await terminateChild(child);
    throw err;
  }
  if (opts.pidFile) writePidFile(opts.pidFile, { pid, rpcUrl, chainId });

  let stopping: Promise<void> | undefined;
  return {
    rpcUrl,
    pid,
    reused: false,
    stop: () => (stopping ??= terminateChild(child).then(() => removePidFileIfOwned(opts.pidFile, pid))),
  };
}

async function waitUntilReady(child: ChildProcess, rpcUrl: string, timeoutMs: number, tail: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `anvil exited during startup (code ${child.exitCode ?? child.signalCode}): ${tail().trim() || '(no output)'}`,
      );
    }
    try {
      await rpc(rpcUrl, 'eth_chainId', 500);
      // Re-check: if anvil failed to bind, something else might be answering on this port.
      if (child.exitCode === null && child.signalCode === null) return;
    } catch (err) {
      lastError = err;
    }
    await sleep(100);
  }
  throw new Error(
    `anvil did not answer eth_chainId on ${rpcUrl} within ${timeoutMs}ms (${String(lastError)}). Output: ${tail().trim()}`,
  );
}

async function terminateChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}
