// @ts-check
// Role processes under test run Sluice's compiled JavaScript (dist/), never through the tsx loader:
// tsx alone adds ~60 MB of RSS and would distort the memory figures. Types come from src/ through
// `typeof import(...)` casts at each import.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** @param {string} file a path under dist/, e.g. 'api/server.js' @returns {Promise<any>} */
export function fromDist(file) {
  return import(pathToFileURL(path.join(ROOT, 'dist', file)).href);
}

/** One IPC message to the harness, resolved once handed over. @param {unknown} message @returns {Promise<void>} */
export function tell(message) {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error('not started by the bench harness (no IPC channel)'));
    process.send(message, (/** @type {Error | null} */ err) => (err ? reject(err) : resolve()));
  });
}

/**
 * The API-only process has no signer behind it: what it queues is counted and dropped, so a growing
 * in-memory backlog does not pollute its memory or CPU figures.
 * @template T
 * @param {string} name
 * @returns {import('../../src/queue/types.js').Queue<T> & { sent(): number }}
 */
export function createSinkQueue(name) {
  let sent = 0;
  return {
    name,
    maxReceive: 10,
    sent: () => sent,
    send: async () => void (sent += 1),
    sendBatch: async (messages) => void (sent += messages.length),
    receive: async () => [],
    ack: async () => {},
    retry: async () => {},
    extendVisibility: async () => {},
    depth: async () => 0,
  };
}
