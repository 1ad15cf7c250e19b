import { hash, randomBytes } from 'node:crypto';
import type { Db } from '../db/connect.js';
import { defineWriteTask, runWriteTask } from '../db/write-task.js';
import { newId } from '../util/ids.js';

/** `admin`: the operator API under /admin/api (dead letters, audit log) until console sessions exist. */
export const SCOPES = ['withdrawals:write', 'withdrawals:read', 'ledger:write', 'ledger:read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export type ApiKeyIdentity = { id: string; name: string; scopes: Set<Scope> };

/** Keys are 32 random bytes; only their sha256 is stored (a fast hash is right for high-entropy keys). */
export function hashApiKey(key: string): string {
  // One-shot: no Hash object per request (it is hashed on every authenticated request).
  return hash('sha256', key, 'hex');
}

export function generateApiKey(): string {
  return `sk_${randomBytes(32).toString('base64url')}`;
}

export function parseScopes(input: string): Scope[] {
  const scopes = input
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`Unknown scope(s): ${unknown.join(', ')}. Known: ${SCOPES.join(', ')}`);
  if (scopes.length === 0) throw new Error(`At least one scope is required. Known: ${SCOPES.join(', ')}`);
  return [...new Set(scopes)] as Scope[];
}

/**
 * "Last used" for the console. A write task: on a SQLite file it waits for the write lock on the
 * write worker; run on the main connection, it held the event loop (every role's) while the
 * worker's commits went first, 31 ms a time under load.
 */
export const touchApiKey = defineWriteTask(import.meta.url, 'touchApiKey', async ({ trx }, id: string, at: number) => {
  await trx.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute();
});

/**
 * API keys in the database, with a short in-process cache so authentication costs no query per
 * request. A revoked key stops working within `cacheMs`.
 */
export function createApiKeyStore(db: Db, options: { cacheMs?: number } = {}) {
  const cacheMs = options.cacheMs ?? 10_000;
  const cache = new Map<string, { at: number; identity: ApiKeyIdentity | null }>();

  return {
    async create(input: { name: string; scopes: Scope[]; key?: string }): Promise<{ id: string; key: string }> {
      const key = input.key ?? generateApiKey();
      const id = newId('key');
      await db.kysely
        .insertInto('api_keys')
        .values({
          id,
          name: input.name,
          key_hash: hashApiKey(key),
          prefix: key.slice(0, 10),
          scopes: input.scopes.join(','),
          created_at: Date.now(),
          revoked_at: null,
          last_used_at: null,
        })
        .execute();
      return { id, key };
    },

    /**
     * Creates the key unless one with the same secret exists (dev mode restarts); an existing one
     * gets `scopes` (so a dev key made before a scope existed gains it).
     */
    async ensure(input: { name: string; scopes: Scope[]; key: string }): Promise<void> {
      const hash = hashApiKey(input.key);
      const existing = await db.kysely.selectFrom('api_keys').select(['id', 'scopes']).where('key_hash', '=', hash).executeTakeFirst();
      if (!existing) return void (await this.create(input));
      const scopes = input.scopes.join(',');
      if (existing.scopes !== scopes) {
        await db.kysely.updateTable('api_keys').set({ scopes }).where('id', '=', existing.id).execute();
        cache.delete(hash);
      }
    },

    async authenticate(key: string): Promise<ApiKeyIdentity | null> {
      const hash = hashApiKey(key);
      const hit = cache.get(hash);
      if (hit && Date.now() - hit.at < cacheMs) return hit.identity;
      const row = await db.kysely
        .selectFrom('api_keys')
        .selectAll()
        .where('key_hash', '=', hash)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      const identity = row ? { id: row.id, name: row.name, scopes: new Set(row.scopes.split(',') as Scope[]) } : null;
      // At most once per key per `cacheMs` per process: "last used" for the console, never a per-request write.
      if (row) void runWriteTask(db, touchApiKey, row.id, Date.now()).catch(() => {});
      if (cache.size > 10_000) cache.clear();
      cache.set(hash, { at: Date.now(), identity });
      return identity;
    },
  };
}

export type ApiKeyStore = ReturnType<typeof createApiKeyStore>;
