import type { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../db/connect.js';
import type { PausesTable } from '../db/schema.js';
import { withTransaction } from '../db/transaction.js';
import { SluiceError } from '../errors/base.js';

export type PauseScope = { scope: 'global' } | { scope: 'chain'; chainId: number } | { scope: 'network'; chainId: number; asset: string };
export type PauseState = {
  global: { paused: boolean; reason: string | null; by: string | null; at: number | null };
  chains: Map<number, { reason: string; by: string; at: number }>;
  networks: Map<string, { asset: string; chainId: number; reason: string; by: string; at: number }>;
};

export class PauseInputError extends SluiceError {
  override name = 'PauseInputError';
}

export function scopeKey(s: PauseScope): string {
  if (s.scope === 'global') return 'global';
  if (s.scope === 'chain') return `chain:${s.chainId}`;
  return `network:${s.asset}:${s.chainId}`;
}

function toState(rows: PausesTable[]): PauseState {
  const state: PauseState = { global: { paused: false, reason: null, by: null, at: null }, chains: new Map(), networks: new Map() };
  for (const r of rows) {
    const meta = { reason: r.reason, by: r.paused_by, at: Number(r.paused_at) };
    if (r.scope === 'global') state.global = { paused: true, ...meta };
    else if (r.scope === 'chain') state.chains.set(Number(r.chain_id), meta);
    else state.networks.set(`${r.asset}:${Number(r.chain_id)}`, { asset: r.asset!, chainId: Number(r.chain_id), ...meta });
  }
  return state;
}

/** Why a withdrawal of `asset` on `chainId` may not be signed now, or null. */
export function pauseReason(state: PauseState, chainId: number, asset: string): string | null {
  if (state.global.paused) return `All withdrawals are paused: ${state.global.reason}`;
  const chain = state.chains.get(chainId);
  if (chain) return `Withdrawals on chain ${chainId} are paused: ${chain.reason}`;
  const network = state.networks.get(`${asset}:${chainId}`);
  if (network) return `${asset} withdrawals on chain ${chainId} are paused: ${network.reason}`;
  return null;
}

/**
 * The kill switch. Pauses live in the `pauses` table (a row per paused scope); every process reads
 * them through this cached reader, so a pause reaches every signer within `cacheMs` (≤ 1 s) with
 * no restart. The table has a handful of rows: one small query per `cacheMs` per process.
 */
export function createPauses(deps: { db: Db; cacheMs: number }) {
  const { db, cacheMs } = deps;
  let cached: { at: number; state: PauseState } | undefined;
  let loading: Promise<PauseState> | undefined;

  async function load(): Promise<PauseState> {
    const rows = (await db.kysely.selectFrom('pauses').selectAll().execute()) as PausesTable[];
    const state = toState(rows);
    cached = { at: Date.now(), state };
    return state;
  }

  async function current(): Promise<PauseState> {
    if (cached && Date.now() - cached.at < cacheMs) return cached.state;
    // One query in flight per process however many signings ask at once.
    loading ??= load().finally(() => (loading = undefined));
    return loading;
  }

  return {
    current,
    /** Fresh from the database (the Admin API answers with what it just wrote). */
    read: load,

    /** Null when `asset` on `chainId` may be signed; else the reason it waits. */
    async isPaused(chainId: number, asset: string): Promise<string | null> {
      return pauseReason(await current(), chainId, asset);
    },

    /** Sets or lifts one pause, audited in the same transaction. Idempotent. */
    async set(scope: PauseScope, paused: boolean, input: { actor: string; reason: string; auditLog: AuditLog }): Promise<PauseState> {
      const key = scopeKey(scope);
      await withTransaction(db, async (trx) => {
        const before = await trx.selectFrom('pauses').selectAll().where('scope_key', '=', key).executeTakeFirst();
        if (paused) {
          const row: PausesTable = {
            scope_key: key,
            scope: scope.scope,
            chain_id: scope.scope === 'global' ? null : scope.chainId,
            asset: scope.scope === 'network' ? scope.asset : null,
            reason: input.reason,
            paused_by: input.actor.slice(0, 100),
            paused_at: Date.now(),
          };
          if (before) await trx.updateTable('pauses').set({ reason: row.reason, paused_by: row.paused_by, paused_at: row.paused_at }).where('scope_key', '=', key).execute();
          else await trx.insertInto('pauses').values(row).execute();
        } else if (before) {
          await trx.deleteFrom('pauses').where('scope_key', '=', key).execute();
        }
        await input.auditLog.record(trx, {
          actor: input.actor,
          action: paused ? 'pause.set' : 'pause.lift',
          targetType: 'pause',
          targetId: key,
          reason: input.reason,
          before: { paused: !!before, ...(before ? { reason: before.reason, by: before.paused_by } : {}) },
          after: { paused },
        });
      });
      return load();
    },
  };
}

export type Pauses = ReturnType<typeof createPauses>;

export const PAUSED_CODE = 'paused';

/**
 * The signer's one pause check, made before a new withdrawal takes a nonce: while its scope is
 * paused the withdrawal stays RECEIVED with `failure_code: paused` (a visible wait, never a
 * rejection) and its message is done; the reconciler queues it again once the pause is lifted.
 * True when it must wait.
 */
export async function waitIfPaused(
  deps: { db: Db; pauses: Pauses; logger: { info(obj: object, msg: string): void } },
  w: { id: string; status: string; chain_id: number; asset: string; failure_code: string | null; failure_reason: string | null },
): Promise<boolean> {
  const reason = await deps.pauses.isPaused(w.chain_id, w.asset);
  if (!reason) return false;
  if (w.failure_code !== PAUSED_CODE || w.failure_reason !== reason) {
    // Compare-and-set on the status: a row that moved on is not marked.
    await deps.db.kysely.updateTable('withdrawals').set({ failure_code: PAUSED_CODE, failure_reason: reason }).where('id', '=', w.id).where('status', '=', w.status as never).where('nonce', 'is', null).execute();
    deps.logger.info({ withdrawalId: w.id, chainId: w.chain_id, asset: w.asset, reason }, 'withdrawal waits: paused');
  }
  return true;
}

/**
 * What is paused, as the `sluice_paused{scope}` gauge names it: `global`, a chain id, or
 * `ASSET@chainId` for one asset-network (a handful of values: operators pause few things).
 */
export async function pausedScopes(pauses: Pauses): Promise<Array<{ scope: string; since: number }>> {
  const state = await pauses.read();
  const scopes: Array<{ scope: string; since: number }> = [];
  if (state.global.paused) scopes.push({ scope: 'global', since: state.global.at ?? Date.now() });
  for (const [chainId, p] of state.chains) scopes.push({ scope: String(chainId), since: p.at });
  for (const p of state.networks.values()) scopes.push({ scope: `${p.asset}@${p.chainId}`, since: p.at });
  return scopes;
}
