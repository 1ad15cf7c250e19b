import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../..');

export type BenchChild<M> = {
  process: ChildProcess;
  pid: number;
  /** The next IPC message matching `pick`, or a rejection when the child exits first. */
  message<T extends M>(pick: (m: M) => m is T, timeoutMs?: number): Promise<T>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  tail(): string;
};

/** `npm run bench -- --cpu-prof DIR` profiles every child (servers, signer, load generators). */
function profileArgs(): string[] {
  const dir = process.env.BENCH_CPU_PROF_DIR;
  return dir ? ['--cpu-prof', '--cpu-prof-dir', dir] : [];
}

/** `npm run bench -- --node-args "…"`: node flags for every child (bench/run.ts passes them as JSON). */
function extraNodeArgs(): string[] {
  const json = process.env.BENCH_NODE_ARGS;
  return json ? (JSON.parse(json) as string[]) : [];
}

/**
 * Runs a bench TypeScript file (via tsx) or a built JS file as a separate OS process: the load
 * generator must never share the event loop of the server it measures. It talks back over IPC;
 * its stdout/stderr (logs) go to `logFile`.
 */
export function spawnBenchChild<M = unknown>(
  script: string,
  args: string[],
  options: { logFile: string; env?: Record<string, string>; tsx?: boolean },
): BenchChild<M> {
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.openSync(options.logFile, 'a');
  const nodeArgs = [...(options.tsx === false ? [] : ['--import', 'tsx']), ...profileArgs(), ...extraNodeArgs()];
  // The child's SLUICE_* settings are exactly what the scenario gives it, never the caller's shell.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')));
  const child = spawn(process.execPath, [...nodeArgs, path.resolve(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...base, ...options.env },
    stdio: ['ignore', log, log, 'ipc'],
  });
  fs.closeSync(log);
  const inbox: M[] = [];
  const waiters = new Set<() => void>();
  child.on('message', (m) => {
    inbox.push(m as M);
    for (const w of waiters) w();
  });
  let gone = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      gone = true;
      for (const w of waiters) w();
      resolve({ code, signal });
    }),
  );
  const tail = () => {
    try {
      const text = fs.readFileSync(options.logFile, 'utf8');
      return text.split('\n').slice(-25).join('\n');
    } catch {
      return '';
    }
  };
  return {
    process: child,
    pid: child.pid!,
    exited,
    tail,
    message<T extends M>(pick: (m: M) => m is T, timeoutMs = 600_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`${script}: no answer within ${timeoutMs} ms; log ${options.logFile}:\n${tail()}`)), timeoutMs);
        const check = () => {
          const i = inbox.findIndex(pick);
          if (i >= 0) return finish(null, inbox.splice(i, 1)[0] as T);
          if (gone) finish(new Error(`${script} exited (code ${child.exitCode}, signal ${child.signalCode}) before answering; log ${options.logFile}:\n${tail()}`));
        };
        function finish(err: Error | null, value?: T) {
          clearTimeout(timer);
          waiters.delete(check);
          if (err) reject(err);
          else resolve(value!);
        }
        waiters.add(check);
        check();
      });
    },
    async stop(graceMs = 15_000) {
      if (gone) return;
      // A profile is written only on a normal exit: a child that is about to exit gets the chance.
      if (process.env.BENCH_CPU_PROF_DIR) await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** In a child: sends one IPC message and waits until it is handed to the parent. */
export function tell(message: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('not started by the bench harness (no IPC channel)'));
    process.send(message, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}
