import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiKeyStore } from '../../src/auth/api-keys.js';
import { openDatabase } from '../../src/db/connect.js';
import { spawnSluice } from '../support/child.js';

/** The CLI as an operator runs it: a real process, its output and exit code. */
describe('sluice CLI', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cli-'));
  const env = { SLUICE_DATA_DIR: dataDir };
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  async function run(args: string[], extraEnv: Record<string, string> = {}) {
    const child = spawnSluice(args, { ...env, ...extraEnv });
    const { code } = await child.exited;
    return { code, output: child.output() };
  }

  it('prints help for the program and every command', async () => {
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of ['dev', 'migrate', 'api-key', 'wallet']) expect(top.output).toContain(cmd);
    for (const cmd of [['dev'], ['migrate'], ['api-key'], ['api-key', 'create'], ['wallet'], ['wallet', 'nonces']]) {
      const r = await run([...cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.output).toContain('Usage: sluice');
    }
  });

  it('migrates, then creates an API key that authenticates with exactly its scopes', async () => {
    const migrated = await run(['migrate']);
    expect(migrated.code).toBe(0);
    expect(migrated.output).toMatch(/Applied 001-initial|up to date/);

    const created = await run(['api-key', 'create', '--name', 'backoffice', '--scopes', 'withdrawals:read,ledger:read']);
    expect(created.code).toBe(0);
    const printed = JSON.parse(created.output.slice(created.output.indexOf('{'), created.output.lastIndexOf('}') + 1));
    expect(printed.key).toMatch(/^sk_/);

    const db = openDatabase(`sqlite:${path.join(dataDir, 'sluice.db')}`);
    try {
      const identity = await createApiKeyStore(db).authenticate(printed.key);
      expect([...identity!.scopes].sort()).toEqual(['ledger:read', 'withdrawals:read']);
      const stored = await db.kysely.selectFrom('api_keys').selectAll().execute();
      expect(JSON.stringify(stored)).not.toContain(printed.key); // only the hash is kept
    } finally {
      await db.close();
    }
  });

  it('refuses unknown scopes and bad configuration with a clear error and exit code 1', async () => {
    const badScope = await run(['api-key', 'create', '--name', 'x', '--scopes', 'withdrawals:admin']);
    expect(badScope.code).toBe(1);
    expect(badScope.output).toContain('Unknown scope(s): withdrawals:admin');

    const badEnv = await run(['migrate'], { SLUICE_DB_URL: 'postgres://nope' });
    expect(badEnv.code).toBe(1);
    expect(badEnv.output).toContain('SLUICE_DB_URL');

    const missing = await run(['api-key', 'create', '--name', 'x']);
    expect(missing.code).not.toBe(0);
    expect(missing.output).toContain("required option '--scopes <list>' not specified");
  });
});
