/**
 * Entry of the SQLite write worker (see sqlite-write-worker.ts): owns a second connection to the
 * file and runs each task in its own IMMEDIATE transaction, so the commit's fsync and the B-tree
 * work happen off the main event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import SqliteDatabase from 'better-sqlite3';
import { configureSqlite } from './sqlite-pragmas.js';
import type { WorkerReply, WorkerRequest, WriteTaskFn } from './sqlite-write-worker.js';

const { file } = workerData as { file: string };
const sqlite = new SqliteDatabase(file);
configureSqlite(sqlite);
const modules = new Map<string, Promise<Record<string, unknown>>>();

async function taskFn(module: string, name: string): Promise<WriteTaskFn> {
  let loaded = modules.get(module);
  if (!loaded) {
    loaded = import(module) as Promise<Record<string, unknown>>;
    modules.set(module, loaded);
  }
  const fn = (await loaded)[name];
  if (typeof fn !== 'function') throw new Error(`${module} has no export ${name}`);
  return fn as WriteTaskFn;
}

parentPort!.on('message', (request: WorkerRequest) => {
  void (async () => {
    let reply: WorkerReply;
    try {
      const fn = await taskFn(request.module, request.name);
      const value = sqlite.transaction(() => fn(sqlite, ...(request.args as never[]))).immediate();
      reply = { id: request.id, ok: true, value };
    } catch (err) {
      const e = err as { name?: unknown; message?: unknown; code?: unknown };
      reply = { id: request.id, ok: false, error: { name: String(e?.name ?? 'Error'), message: String(e?.message ?? err), code: typeof e?.code === 'string' ? e.code : undefined } };
    }
    parentPort!.postMessage(reply);
  })();
});
