/**
 * Entry of the SQLite write worker (see sqlite-write-worker.ts): owns a second connection to the
 * file and runs each task in its own transaction on it (BEGIN IMMEDIATE, see connect.ts), so the
 * commit's fsync and the B-tree work happen off the main event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteConnection } from './sqlite-connection.js';
import type { WorkerPreload, WorkerReply, WorkerRequest } from './sqlite-write-worker.js';
import type { WriteTask } from './write-task.js';

const { file } = workerData as { file: string };
const db = openSqliteConnection(file, { writer: true });
const modules = new Map<string, Promise<Record<string, unknown>>>();

async function taskOf(module: string, name: string): Promise<WriteTask<unknown[], unknown>> {
  let loaded = modules.get(module);
  if (!loaded) {
    loaded = import(module) as Promise<Record<string, unknown>>;
    modules.set(module, loaded);
  }
  const task = (await loaded)[name] as WriteTask<unknown[], unknown> | undefined;
  if (typeof task?.run !== 'function') throw new Error(`${module} has no write task ${name}`);
  return task;
}

parentPort!.on('message', (request: WorkerRequest | WorkerPreload) => {
  if ('preload' in request) {
    // A task that cannot load says so when it is run, to its caller.
    for (const { module, name } of request.preload) taskOf(module, name).catch(() => {});
    return;
  }
  void (async () => {
    let reply: WorkerReply;
    try {
      const task = await taskOf(request.module, request.name);
      // One try: a busy file is the caller's to retry, by its own policy (intake answers 503 after its tries).
      reply = { id: request.id, ok: true, value: await db.kysely.transaction().execute((trx) => Promise.resolve(task.run({ db, trx }, ...request.args))) };
    } catch (err) {
      const e = err as { name?: unknown; message?: unknown; code?: unknown };
      reply = { id: request.id, ok: false, error: { name: String(e?.name ?? 'Error'), message: String(e?.message ?? err), code: typeof e?.code === 'string' ? e.code : undefined } };
    }
    parentPort!.postMessage(reply);
  })();
});
