import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type AnvilHandle, getFreePort, startAnvil } from '../../src/chain/anvil.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { type DevHandle, startDev } from '../../src/dev/dev-mode.js';
import type { Services } from '../../src/runtime/services.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const TEST_API_KEY = 'sk_test_all_scopes_key_0123456789abcdef';
export const TEST_KEYSTORE_PASSWORD = 'test-keystore-password';

export type Stack = {
  readonly url: string;
  readonly services: Services;
  rpcUrl: string;
  chainId: number;
  dataDir: string;
  database: TestDatabase;
  anvil: AnvilHandle;
  request(method: string, urlPath: string, options?: { body?: unknown; headers?: Record<string, string>; raw?: string }): Promise<{ status: number; headers: Headers; body: any }>;
  /** Graceful stop and start on the same database, data dir and port, with changed settings. */
  restart(overrides?: Partial<Config>): Promise<void>;
  teardown(): Promise<void>;
};

/**
 * The whole pipeline in this process on a real database and a real anvil (fast blocks), exactly
 * as `sluice dev` wires it, with the HTTP API listening on a free port.
 */
export async function startStack(
  db: 'sqlite' | 'mysql',
  overrides: Partial<Config> = {},
  options: { logDestination?: NodeJS.WritableStream } = {},
): Promise<Stack> {
  const anvil = await startAnvil({ blockTime: 0.25, silent: true });
  const database = await createTestDatabase(db);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-data-'));
  const settings: Partial<Config> = {
    port: await getFreePort(),
    dataDir,
    dbUrl: database.url,
    devnetRpcUrl: anvil.rpcUrl,
    devApiKey: TEST_API_KEY,
    keystorePassword: TEST_KEYSTORE_PASSWORD,
    logLevel: (process.env.STACK_LOG_LEVEL as 'fatal' | undefined) ?? 'fatal',
    trackerIntervalMs: 100,
    reconcileIntervalMs: 500,
    ...overrides,
  };
  let handle: DevHandle = await startDev(loadConfig({}, settings), () => {}, options);
  const chainId = [...handle.services.chains.keys()][0]!;

  async function request(method: string, urlPath: string, options: { body?: unknown; headers?: Record<string, string>; raw?: string } = {}) {
    const headers: Record<string, string> = { authorization: `Bearer ${TEST_API_KEY}`, ...options.headers };
    let body: string | undefined = options.raw;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${handle.url}${urlPath}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON (metrics, docs) */
    }
    return { status: res.status, headers: res.headers, body: parsed as any };
  }

  return {
    get url() {
      return handle.url;
    },
    get services() {
      return handle.services;
    },
    rpcUrl: anvil.rpcUrl,
    chainId,
    dataDir,
    database,
    anvil,
    request,
    async restart(changes: Partial<Config> = {}) {
      await handle.stop();
      Object.assign(settings, changes);
      handle = await startDev(loadConfig({}, settings), () => {}, options);
    },
    async teardown() {
      await handle.stop();
      await anvil.stop();
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a value (not undefined) or the time runs out. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
