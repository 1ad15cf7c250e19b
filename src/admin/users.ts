import { randomBytes } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.js';
import { hashPassword, verifyPassword } from '../auth/passwords.js';
import type { Db } from '../db/connect.js';
import type { AdminRole, AdminUsersTable } from '../db/schema.js';
import { withTransaction } from '../db/transaction.js';
import { isUniqueViolation } from '../db/errors.js';
import { AdminActionError } from './errors.js';

export type AdminUserView = { username: string; role: AdminRole; createdAt: number; disabledAt: number | null; lastLoginAt: number | null };

export const USERNAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._@-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 12;

export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

export function userView(row: AdminUsersTable): AdminUserView {
  return {
    username: row.username,
    role: row.role,
    createdAt: Number(row.created_at),
    disabledAt: row.disabled_at === null ? null : Number(row.disabled_at),
    lastLoginAt: row.last_login_at === null ? null : Number(row.last_login_at),
  };
}

/** Console users (scrypt password hashes). Every change is audited in its own transaction. */
export function createAdminUsers(deps: { db: Db; auditLog: AuditLog }) {
  const { db, auditLog } = deps;
  const k = db.kysely;

  function checkPassword(password: string) {
    if (password.length < MIN_PASSWORD_LENGTH) throw new AdminActionError(`Passwords have at least ${MIN_PASSWORD_LENGTH} characters.`, { code: 'weak_password' });
  }

  return {
    async get(username: string): Promise<AdminUsersTable | undefined> {
      return k.selectFrom('admin_users').selectAll().where('username', '=', username).executeTakeFirst();
    },

    async list(): Promise<AdminUserView[]> {
      return (await k.selectFrom('admin_users').selectAll().orderBy('username').execute()).map(userView);
    },

    /** Creates a user; without a password one is generated and returned (shown once). */
    async create(input: { username: string; role: AdminRole; password?: string | undefined }, actor: string): Promise<{ user: AdminUserView; password?: string }> {
      if (!USERNAME_PATTERN.test(input.username)) throw new AdminActionError('Usernames are 1-64 letters, digits, ".", "_", "@" or "-".', { code: 'invalid_username' });
      const password = input.password ?? generatePassword();
      checkPassword(password);
      const row: AdminUsersTable = { username: input.username, password_hash: await hashPassword(password), role: input.role, created_at: Date.now(), disabled_at: null, last_login_at: null };
      try {
        await withTransaction(db, async (trx) => {
          await trx.insertInto('admin_users').values(row).execute();
          await auditLog.record(trx, { actor, action: 'admin_user.create', targetType: 'admin_user', targetId: row.username, after: { role: row.role } });
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new AdminActionError(`A console user named "${input.username}" exists.`, { code: 'user_exists' });
        throw err;
      }
      return { user: userView(row), ...(input.password === undefined ? { password } : {}) };
    },

    /** Role change and/or disabling; disabling (or a role change) ends the user's sessions. */
    async update(username: string, patch: { role?: AdminRole | undefined; disabled?: boolean | undefined }, actor: string, reason: string): Promise<AdminUserView> {
      return withTransaction(db, async (trx) => {
        const before = await trx.selectFrom('admin_users').selectAll().where('username', '=', username).executeTakeFirst();
        if (!before) throw new AdminActionError(`No console user "${username}".`, { code: 'user_not_found' });
        const set: Partial<AdminUsersTable> = {};
        if (patch.role !== undefined) set.role = patch.role;
        if (patch.disabled !== undefined) set.disabled_at = patch.disabled ? (before.disabled_at ?? Date.now()) : null;
        if (Object.keys(set).length > 0) await trx.updateTable('admin_users').set(set).where('username', '=', username).execute();
        const after = { ...before, ...set };
        if (patch.disabled || (patch.role !== undefined && patch.role !== before.role)) await trx.deleteFrom('admin_sessions').where('username', '=', username).execute();
        await auditLog.record(trx, {
          actor,
          action: 'admin_user.update',
          targetType: 'admin_user',
          targetId: username,
          reason,
          before: { role: before.role, disabled: before.disabled_at !== null },
          after: { role: after.role, disabled: after.disabled_at !== null },
        });
        return userView(after);
      });
    },

    /** The user when the password is right and the account enabled; undefined otherwise. */
    async verify(username: string, password: string): Promise<AdminUsersTable | undefined> {
      const row = await this.get(username);
      // Hash anyway for an unknown user, so timing does not tell which usernames exist.
      const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
      return row && ok && row.disabled_at === null ? row : undefined;
    },

    /** Dev mode and `sluice admin create-user`: the user exists with this password and role (not audited: no operator acted). */
    async ensure(input: { username: string; role: AdminRole; password: string }): Promise<void> {
      const existing = await this.get(input.username);
      if (existing && existing.role === input.role && existing.disabled_at === null && (await verifyPassword(input.password, existing.password_hash))) return;
      const password_hash = await hashPassword(input.password);
      if (existing) await k.updateTable('admin_users').set({ password_hash, role: input.role, disabled_at: null }).where('username', '=', input.username).execute();
      else await k.insertInto('admin_users').values({ username: input.username, password_hash, role: input.role, created_at: Date.now(), disabled_at: null, last_login_at: null }).execute();
    },
  };
}

const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

export type AdminUsers = ReturnType<typeof createAdminUsers>;
