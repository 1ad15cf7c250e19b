import type { AuditLog } from '../audit/audit-log.js';
import { generateApiKey, hashApiKey, type Scope } from '../auth/api-keys.js';
import type { Db } from '../db/connect.js';
import type { ApiKeysTable } from '../db/schema.js';
import type { Tx } from '../db/transaction.js';
import { withTransaction } from '../db/transaction.js';
import { newId } from '../util/ids.js';
import { AdminActionError } from './errors.js';

export type ApiKeyView = { id: string; name: string; prefix: string; scopes: string[]; createdAt: number; revokedAt: number | null; lastUsedAt: number | null };

export function apiKeyView(row: ApiKeysTable): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes.split(','),
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

/**
 * API keys as the console manages them: create (the secret is returned once, only its sha256 is
 * stored), revoke, rotate (a new key with the same name and scopes; the old one revoked in the same
 * transaction). Each change is audited with it. Processes stop accepting a revoked key within the
 * key cache's lifetime (10 s).
 */
export function createApiKeyAdmin(deps: { db: Db; auditLog: AuditLog }) {
  const { db, auditLog } = deps;

  async function insert(trx: Tx, name: string, scopes: Scope[]): Promise<{ row: ApiKeysTable; secret: string }> {
    const secret = generateApiKey();
    const row: ApiKeysTable = { id: newId('key'), name, key_hash: hashApiKey(secret), prefix: secret.slice(0, 10), scopes: scopes.join(','), created_at: Date.now(), revoked_at: null, last_used_at: null };
    await trx.insertInto('api_keys').values(row).execute();
    return { row, secret };
  }

  async function revokeIn(trx: Tx, id: string): Promise<ApiKeysTable> {
    const row = await trx.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new AdminActionError(`No API key ${id}.`, { code: 'api_key_not_found' });
    if (row.revoked_at !== null) throw new AdminActionError(`API key ${id} is already revoked.`, { code: 'api_key_revoked' });
    const revokedAt = Date.now();
    const moved = await trx.updateTable('api_keys').set({ revoked_at: revokedAt }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    if (Number(moved.numUpdatedRows) !== 1) throw new AdminActionError(`API key ${id} is already revoked.`, { code: 'api_key_revoked' });
    return { ...row, revoked_at: revokedAt };
  }

  return {
    async list(): Promise<ApiKeyView[]> {
      return (await db.kysely.selectFrom('api_keys').selectAll().orderBy('created_at', 'desc').execute()).map(apiKeyView);
    },

    create(input: { name: string; scopes: Scope[] }, actor: string): Promise<{ apiKey: ApiKeyView; secret: string }> {
      return withTransaction(db, async (trx) => {
        const { row, secret } = await insert(trx, input.name, input.scopes);
        await auditLog.record(trx, { actor, action: 'api_key.create', targetType: 'api_key', targetId: row.id, after: { name: row.name, scopes: input.scopes } });
        return { apiKey: apiKeyView(row), secret };
      });
    },

    revoke(id: string, actor: string, reason: string): Promise<ApiKeyView> {
      return withTransaction(db, async (trx) => {
        const row = await revokeIn(trx, id);
        await auditLog.record(trx, { actor, action: 'api_key.revoke', targetType: 'api_key', targetId: id, reason, before: { revoked: false }, after: { revoked: true } });
        return apiKeyView(row);
      });
    },

    rotate(id: string, actor: string, reason: string): Promise<{ apiKey: ApiKeyView; secret: string; replaced: ApiKeyView }> {
      return withTransaction(db, async (trx) => {
        const old = await revokeIn(trx, id);
        const { row, secret } = await insert(trx, old.name, old.scopes.split(',') as Scope[]);
        await auditLog.record(trx, { actor, action: 'api_key.rotate', targetType: 'api_key', targetId: id, reason, before: { id, revoked: false }, after: { revoked: true, replacedBy: row.id } });
        return { apiKey: apiKeyView(row), secret, replaced: apiKeyView(old) };
      });
    },
  };
}
