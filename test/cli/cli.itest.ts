import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAdminUsers } from '../../src/admin/users.js';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { createApiKeyStore } from '../../src/auth/api-keys.js';
import { openDatabase } from '../../src/db/connect.js';
import { spawnSluice } from '../support/child.js';

/** The CLI as an operator runs it: a real process, its output and exit code. */
describe('sluice CLI', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cli-'));
  const env = { SLUICE_DATA_DIR: dataDir };
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  async function run(args: string[], extraEnv: Record<string, string> = {}, stdin?: string) {
    const child = spawnSluice(args, { ...env, ...extraEnv }, stdin === undefined ? {} : { stdin });
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
      // "Last used" is written behind the answer, by the write worker.
      const before = Date.now();
      let lastUsed: number | null = null;
      for (let i = 0; i < 100 && lastUsed === null; i++) {
        const row = await db.kysely.selectFrom('api_keys').select('last_used_at').where('id', '=', identity!.id).executeTakeFirstOrThrow();
        lastUsed = row.last_used_at === null ? null : Number(row.last_used_at);
        if (lastUsed === null) await new Promise((r) => setTimeout(r, 20));
      }
      expect(lastUsed).toBeGreaterThan(before - 60_000);
    } finally {
      await db.close();
    }
  });

  it('creates console users: a generated password printed once, or one read from stdin; only scrypt hashes stored', async () => {
    const generated = await run(['admin', 'create-user', '--username', 'ops-ann', '--role', 'operator']);
    expect(generated.code).toBe(0);
    const printed = JSON.parse(generated.output.slice(generated.output.indexOf('{'), generated.output.lastIndexOf('}') + 1));
    expect(printed).toEqual({ username: 'ops-ann', role: 'operator', password: expect.stringMatching(/^[\w-]{20,}$/) });
    const given = await run(['admin', 'create-user', '--username', 'viewer-bo', '--role', 'viewer', '--password-stdin'], {}, 'a long enough password\n');
    expect(given.code).toBe(0);
    expect(given.output).not.toContain('password');

    const db = openDatabase(`sqlite:${path.join(dataDir, 'sluice.db')}`);
    try {
      const users = createAdminUsers({ db, auditLog: createAuditLog(db) });
      expect(await users.verify('ops-ann', printed.password)).toMatchObject({ role: 'operator' });
      expect(await users.verify('viewer-bo', 'a long enough password')).toMatchObject({ role: 'viewer' });
      expect(await users.verify('viewer-bo', 'wrong')).toBeUndefined();
      const stored = JSON.stringify(await db.kysely.selectFrom('admin_users').selectAll().execute());
      expect(stored).not.toContain(printed.password);
      expect(stored).toContain('scrypt$');
      const audit = await db.kysely.selectFrom('audit_log').selectAll().where('action', '=', 'admin_user.create').execute();
      expect(audit.map((a) => a.target_id).sort()).toEqual(['ops-ann', 'viewer-bo']);
    } finally {
      await db.close();
    }

    const duplicate = await run(['admin', 'create-user', '--username', 'ops-ann', '--role', 'admin']);
    expect(duplicate.code).toBe(1);
    expect(duplicate.output).toContain('exists');
    const badRole = await run(['admin', 'create-user', '--username', 'x', '--role', 'root']);
    expect(badRole.code).toBe(1);
    expect(badRole.output).toContain('Unknown role "root"');
    const weak = await run(['admin', 'create-user', '--username', 'weak', '--role', 'viewer', '--password-stdin'], {}, 'short\n');
    expect(weak.code).toBe(1);
    expect(weak.output).toContain('at least 12 characters');
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
