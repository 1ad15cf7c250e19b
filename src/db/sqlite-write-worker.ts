import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/** Names a WriteTask (write-task.ts): the URL of its module (its `import.meta.url`) and its export name. */
export type WriteTaskRef = { module: string; name: string };

export type WorkerRequest = { id: number; module: string; name: string; args: unknown[] };
/** Imports task modules ahead of their first use; no reply. */
export type WorkerPreload = { preload: WriteTaskRef[] };
export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string; code: string | undefined } };

/** Code of the error a task gets when the worker died under it; transient (db/errors.ts). */
export const WORKER_EXITED = 'SLUICE_SQLITE_WORKER_EXITED';

export type SqliteWriteWorker = {
  /** Runs the task in its own transaction on the worker's connection; resolves after COMMIT. */
  run<T>(task: WriteTaskRef, args: unknown[]): Promise<T>;
  /** Boots the thread now if it is not running (it never keeps the process alive while idle). */
  start(): void;
  /**
   * Boots the thread and has it import these tasks' modules now: the first import costs hundreds
   * of ms (the module and what it imports, viem for the signer's), which the first requests after
   * a start would otherwise wait for.
   */
  preload(tasks: WriteTaskRef[]): void;
  close(): Promise<void>;
};

/**
 * The worker's young generation: 12 MB (4 MB semi-spaces) where V8 would grow it to 48 MB. What the
 * worker allocates lives for one transaction, so a smaller nursery is only collected more often:
 * the signer process lost 25-30 MB of RSS for throughput within noise (bench signer, two same-hour
 * A/B pairs: peak RSS 290 -> 266 and 297 -> 266 MB; 1,513 -> 1,692/s and 1,743 -> 1,512/s).
 */
const RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 12 };

/**
 * A worker thread with its own connection to the SQLite file, for hot write paths. better-sqlite3
 * is synchronous: on the main thread every commit (an fsync under synchronous=FULL) and all B-tree
 * work stop the event loop, so the API could not parse requests while it stored them and the
 * signer could not sign. In the worker both overlap with the main thread's work. Each task runs in
 * its own transaction on the worker's Kysely (one at a time: one connection). Started on first
 * use; a worker that dies fails its tasks with a transient error and is started again by the next.
 *
 * A task must never be awaited inside a main-thread transaction: the worker would wait for that
 * transaction's write lock while the transaction waits for the task.
 */
export function createSqliteWriteWorker(file: string): SqliteWriteWorker {
  let worker: Worker | null = null;
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let closed = false;

  function start(): Worker {
    const here = import.meta.url;
    const w = here.endsWith('.ts') ? startTypeScript(here) : new Worker(new URL('./sqlite-write-worker-thread.js', here), { workerData: { file }, resourceLimits: RESOURCE_LIMITS });
    w.unref();
    w.on('message', (reply: WorkerReply) => {
      const p = pending.get(reply.id);
      if (!p) return;
      pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.value);
      else p.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name, code: reply.error.code }));
    });
    const fail = (cause: unknown) => {
      if (worker === w) worker = null;
      const err = Object.assign(new Error('The SQLite write worker stopped; the task may or may not have committed.', { cause }), { code: WORKER_EXITED });
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    return w;
  }

  /**
   * Under tsx or vitest the sources are TypeScript. On Node 20 a worker ignores the loader hooks
   * that `--import tsx` registers, so the thread's entry is loaded with tsx's tsImport, which also
   * serves the entry's own imports (the task modules).
   */
  function startTypeScript(here: string): Worker {
    // The package's ESM API; createRequire resolves the CommonJS twin beside it.
    const api = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
    const entry = new URL('./sqlite-write-worker-thread.ts', here).href;
    const bootstrap = `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(here)}));`;
    return new Worker(bootstrap, { eval: true, execArgv: [], workerData: { file }, resourceLimits: RESOURCE_LIMITS });
  }

  return {
    run<T>(task: WriteTaskRef, args: unknown[]): Promise<T> {
      if (closed) return Promise.reject(new Error('The database is closed.'));
      worker ??= start();
      const id = nextId++;
      const w = worker;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        // Held only while a task runs, so an idle worker never keeps the process alive.
        w.ref();
        w.postMessage({ id, module: task.module, name: task.name, args } satisfies WorkerRequest);
      }).finally(() => {
        if (pending.size === 0) w.unref();
      });
    },
    start() {
      if (!closed) worker ??= start();
    },
    preload(tasks) {
      if (closed) return;
      worker ??= start();
      worker.postMessage({ preload: tasks.map(({ module, name }) => ({ module, name })) } satisfies WorkerPreload);
    },
    async close() {
      closed = true;
      const w = worker;
      worker = null;
      if (w) await w.terminate();
    },
  };
}
