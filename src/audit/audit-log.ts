import type { Db } from '../db/connect.js';
import type { AuditLogTable } from '../db/schema.js';
import type { Tx } from '../db/transaction.js';

export type AuditEntry = {
  /** Who: `user:<console username>` or `apikey:<key name>`. */
  actor: string;
  /** What, as `<thing>.<verb>`: `dead_letter.retry`, `dead_letter.discard`. */
  action: string;
  targetType: string;
  targetId: string;
  reason?: string | null;
  before?: unknown;
  after?: unknown;
};

export type AuditRow = Omit<AuditLogTable, 'id'> & { id: number };

export type AuditRecord = {
  id: number;
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  reason: string | null;
  before: unknown;
  after: unknown;
  createdAt: string;
};

const parse = (text: string | null): unknown => {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/**
 * The audit trail of operator actions. An entry is written inside the same database transaction
 * as the change it describes, so there is never a change without its entry, nor an entry for a
 * change that rolled back.
 */
export function createAuditLog(db: Db) {
  return {
    async record(trx: Tx, entry: AuditEntry): Promise<void> {
      await trx
        .insertInto('audit_log')
        .values({
          actor: entry.actor.slice(0, 100),
          action: entry.action.slice(0, 64),
          target_type: entry.targetType.slice(0, 32),
          target_id: entry.targetId.slice(0, 64),
          reason: entry.reason ?? null,
          before_state: entry.before === undefined ? null : JSON.stringify(entry.before),
          after_state: entry.after === undefined ? null : JSON.stringify(entry.after),
          created_at: Date.now(),
        })
        .execute();
    },

    /** Newest first; `before` is an id from a previous page (exclusive). */
    async list(filter: { actor?: string; action?: string; targetType?: string; targetId?: string; limit: number; before?: number }): Promise<AuditRow[]> {
      let q = db.kysely.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(filter.limit);
      if (filter.actor) q = q.where('actor', '=', filter.actor);
      if (filter.action) q = q.where('action', '=', filter.action);
      if (filter.targetType) q = q.where('target_type', '=', filter.targetType);
      if (filter.targetId) q = q.where('target_id', '=', filter.targetId);
      if (filter.before !== undefined) q = q.where('id', '<', filter.before);
      return (await q.execute()) as AuditRow[];
    },

    toRecord(row: AuditRow): AuditRecord {
      return {
        id: Number(row.id),
        actor: row.actor,
        action: row.action,
        targetType: row.target_type,
        targetId: row.target_id,
        reason: row.reason,
        before: parse(row.before_state),
        after: parse(row.after_state),
        createdAt: new Date(Number(row.created_at)).toISOString(),
      };
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
