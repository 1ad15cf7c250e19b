import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import type { Db } from '../db/connect.js';
import type { AdminRole } from '../db/schema.js';
import { withTransaction } from '../db/transaction.js';
import type { AdminUsers } from './users.js';

export type SessionPolicy = { idleMs: number; maxMs: number; lockoutAttempts: number; lockoutWindowMs: number };

export type AdminSession = { username: string; role: AdminRole; csrfToken: string; expiresAt: number; tokenHash: string };

export type LoginResult =
  | { ok: true; token: string; session: AdminSession }
  | { ok: false; reason: 'invalid_credentials' }
  | { ok: false; reason: 'too_many_attempts'; retryAfterSeconds: number };

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Constant-time string comparison (CSRF tokens). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Console sessions in the database (so any API replica serves them): the cookie carries a random
 * token whose sha256 is the row's key; each session has its own CSRF token. A session ends after
 * `idleMs` without use or `maxMs` after login. `last_seen_at` is written at most once a minute.
 * Failed logins are counted per username and per IP over a window; past the limit, logins for that
 * subject answer "too many attempts" until the oldest failure leaves the window.
 */
export function createAdminSessions(deps: { db: Db; users: AdminUsers; auditLog: AuditLog; policy: SessionPolicy }) {
  const { db, users, auditLog, policy } = deps;
  const k = db.kysely;
  const touchEveryMs = Math.min(60_000, Math.floor(policy.idleMs / 4));

  const expiresAt = (createdAt: number, lastSeenAt: number) => Math.min(createdAt + policy.maxMs, lastSeenAt + policy.idleMs);

  async function lockedFor(subjects: string[], now: number): Promise<number> {
    const since = now - policy.lockoutWindowMs;
    let retryAfterMs = 0;
    for (const subject of subjects) {
      const rows = await k
        .selectFrom('admin_login_failures')
        .select('created_at')
        .where('subject', '=', subject)
        .where('created_at', '>', since)
        .orderBy('created_at', 'desc')
        .limit(policy.lockoutAttempts)
        .execute();
      if (rows.length >= policy.lockoutAttempts) {
        // Open again once the oldest of the last `lockoutAttempts` failures leaves the window.
        const oldest = Number(rows[rows.length - 1]!.created_at);
        retryAfterMs = Math.max(retryAfterMs, oldest + policy.lockoutWindowMs - now);
      }
    }
    return retryAfterMs;
  }

  return {
    async login(input: { username: string; password: string; ip: string }): Promise<LoginResult> {
      const now = Date.now();
      const subjects = [`user:${input.username.slice(0, 100)}`, `ip:${input.ip.slice(0, 100)}`];
      const wait = await lockedFor(subjects, now);
      if (wait > 0) return { ok: false, reason: 'too_many_attempts', retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)) };
      const user = await users.verify(input.username, input.password);
      if (!user) {
        await k.insertInto('admin_login_failures').values(subjects.map((subject) => ({ subject, created_at: now }))).execute();
        // Old failures no longer count; dropping them keeps the table at the size of one window.
        await k.deleteFrom('admin_login_failures').where('created_at', '<', now - policy.lockoutWindowMs).execute();
        return { ok: false, reason: 'invalid_credentials' };
      }
      const token = randomBytes(32).toString('base64url');
      const csrfToken = randomBytes(24).toString('base64url');
      const tokenHash = sha256(token);
      await withTransaction(db, async (trx) => {
        await trx.insertInto('admin_sessions').values({ token_hash: tokenHash, username: user.username, csrf_token: csrfToken, created_at: now, last_seen_at: now }).execute();
        await trx.updateTable('admin_users').set({ last_login_at: now }).where('username', '=', user.username).execute();
        await trx.deleteFrom('admin_login_failures').where('subject', '=', subjects[0]!).execute();
        await trx.deleteFrom('admin_sessions').where('created_at', '<', now - policy.maxMs).execute();
        await auditLog.record(trx, { actor: `user:${user.username}`, action: 'session.create', targetType: 'admin_user', targetId: user.username, after: { ip: input.ip } });
      });
      return { ok: true, token, session: { username: user.username, role: user.role, csrfToken, expiresAt: expiresAt(now, now), tokenHash } };
    },

    /** The live session for a cookie token (extending its idle expiry), or undefined. */
    async authenticate(token: string): Promise<AdminSession | undefined> {
      if (!token || token.length > 100) return undefined;
      const tokenHash = sha256(token);
      const row = await k
        .selectFrom('admin_sessions as s')
        .innerJoin('admin_users as u', 'u.username', 's.username')
        .select(['s.token_hash', 's.username', 's.csrf_token', 's.created_at', 's.last_seen_at', 'u.role', 'u.disabled_at'])
        .where('s.token_hash', '=', tokenHash)
        .executeTakeFirst();
      if (!row) return undefined;
      const now = Date.now();
      const createdAt = Number(row.created_at);
      let lastSeen = Number(row.last_seen_at);
      if (row.disabled_at !== null || now >= expiresAt(createdAt, lastSeen)) {
        await k.deleteFrom('admin_sessions').where('token_hash', '=', tokenHash).execute();
        return undefined;
      }
      if (now - lastSeen >= touchEveryMs) {
        lastSeen = now;
        await k.updateTable('admin_sessions').set({ last_seen_at: now }).where('token_hash', '=', tokenHash).execute();
      }
      return { username: row.username, role: row.role, csrfToken: row.csrf_token, expiresAt: expiresAt(createdAt, lastSeen), tokenHash };
    },

    async logout(session: AdminSession): Promise<void> {
      await withTransaction(db, async (trx) => {
        await trx.deleteFrom('admin_sessions').where('token_hash', '=', session.tokenHash).execute();
        await auditLog.record(trx, { actor: `user:${session.username}`, action: 'session.delete', targetType: 'admin_user', targetId: session.username });
      });
    },
  };
}

export type AdminSessions = ReturnType<typeof createAdminSessions>;
