import fs from 'node:fs';
import { type SluiceChild, spawnSluice } from '../child.js';

/** What a simulation runs: `sluice dev` (below) or the production roles (production-cluster.ts). */
export type SluiceUnderTest = {
  /** The API's base URL. */
  readonly url: string;
  /** Starts what is not running and waits for GET /readyz. */
  start(): Promise<void>;
  /**
   * Sends the signal to one process and waits for it to be gone; `pick`, a roll in [0, 1), chooses
   * which one where there are several. Returns its name.
   */
  kill(signal: 'SIGKILL' | 'SIGTERM', pick?: number): Promise<string>;
  /** Sends the signal to every process and waits for them to be gone. */
  stop(signal: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Is every process up and answering? */
  readonly up: boolean;
  /** Exits nobody asked for (crash of Sluice itself), with their tails. */
  readonly unexpectedExits: string[];
  readonly starts: number;
  /** Last lines of the output. */
  tail(lines?: number): string;
  /** Closes the log file (after the last kill). */
  close(): void;
};

/**
 * The `sluice dev` child of a simulation run: one data dir and port for its whole life, so a
 * SIGKILL + restart picks up exactly where the dead process was. Its output goes to `logFile`.
 * An exit the harness did not cause is recorded (and the process is started again).
 */
export function createSluiceProcess(input: {
  env: Record<string, string>;
  port: number;
  logFile: string;
  /** Called before each boot (the harness pauses RPC faults: dev bootstrapping is plumbing) and once ready. */
  onBooting?: () => void;
  onReady?: () => void;
  /** An exit nobody asked for is restarted only while this says so (not while the run is ending). */
  keepAlive?: () => boolean;
}): SluiceUnderTest {
  const url = `http://127.0.0.1:${input.port}`;
  const log = fs.createWriteStream(input.logFile, { flags: 'a' });
  let child: SluiceChild | undefined;
  let expectingExit = false;
  let up = false;
  let starts = 0;
  let recent: string[] = [];
  const unexpectedExits: string[] = [];
  let restarting: Promise<void> | undefined;

  function remember(chunk: Buffer) {
    log.write(chunk);
    recent.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (recent.length > 400) recent = recent.slice(-200);
  }

  async function waitReady(c: SluiceChild, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (c.process.exitCode !== null || c.process.signalCode !== null) throw new Error('exited during boot');
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) }).catch(() => null);
      if (res?.status === 200) return;
      await res?.body?.cancel();
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`not ready within ${timeoutMs} ms`);
  }

  async function startOnce(): Promise<void> {
    input.onBooting?.();
    starts += 1;
    log.write(`\n===== sim: starting sluice dev (start #${starts}) at ${new Date().toISOString()} =====\n`);
    const c = spawnSluice(['dev'], input.env);
    child = c;
    expectingExit = false;
    c.process.stdout!.on('data', remember);
    c.process.stderr!.on('data', remember);
    let ready = false;
    c.process.once('exit', (code, signal) => {
      up = false;
      log.write(`===== sim: sluice exited (code ${code}, signal ${signal}) =====\n`);
      if (expectingExit || child !== c) return;
      if (input.keepAlive && !input.keepAlive()) return;
      unexpectedExits.push(`sluice exited by itself (code ${code}, signal ${signal}); last output:\n${tailOf(20)}`);
      // A boot that dies is retried by the start() waiting for it; a second start here would race
      // it for the port and fail with EADDRINUSE, one more exit nobody asked for.
      if (!ready) return;
      // Keep the run going: bring it back like an orchestrator would.
      restarting ??= start().finally(() => (restarting = undefined));
    });
    try {
      await waitReady(c, 90_000);
      ready = true;
    } catch (err) {
      expectingExit = true;
      if (c.process.exitCode === null && c.process.signalCode === null) {
        c.process.kill('SIGKILL');
        await c.exited;
      }
      throw new Error(`sluice dev did not become ready (${(err as Error).message}); last output:\n${tailOf(30)}`);
    }
    up = true;
    input.onReady?.();
  }

  async function start(): Promise<void> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= 4; attempt++) {
      try {
        await startOnce();
        return;
      } catch (err) {
        lastError = err;
        log.write(`===== sim: boot attempt ${attempt} failed: ${(err as Error).message.split('\n')[0]} =====\n`);
      }
    }
    throw lastError;
  }

  async function kill(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    if (restarting) await restarting.catch(() => undefined);
    const c = child;
    if (!c || c.process.exitCode !== null || c.process.signalCode !== null) return;
    expectingExit = true;
    up = false;
    log.write(`===== sim: sending ${signal} at ${new Date().toISOString()} =====\n`);
    c.process.kill(signal);
    const timer = signal === 'SIGTERM' ? setTimeout(() => c.process.kill('SIGKILL'), 30_000) : undefined;
    await c.exited;
    if (timer) clearTimeout(timer);
  }

  function tailOf(lines: number): string {
    return recent.slice(-lines).join('\n');
  }

  return {
    url,
    start: async () => {
      if (restarting) return restarting;
      return start();
    },
    kill: async (signal) => {
      await kill(signal);
      return 'sluice dev';
    },
    stop: kill,
    get up() {
      return up;
    },
    get unexpectedExits() {
      return unexpectedExits;
    },
    get starts() {
      return starts;
    },
    tail: (lines = 30) => tailOf(lines),
    close: () => log.end(),
  };
}
