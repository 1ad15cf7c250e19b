import type { AdminRole } from '../db/schema.js';

export const ADMIN_ROLES: readonly AdminRole[] = ['viewer', 'operator', 'admin'];

/** viewer reads; operator also retries/discards dead letters and pauses; admin does everything. */
export function roleAllows(has: AdminRole, needs: AdminRole): boolean {
  return ADMIN_ROLES.indexOf(has) >= ADMIN_ROLES.indexOf(needs);
}

export function isAdminRole(value: string): value is AdminRole {
  return (ADMIN_ROLES as readonly string[]).includes(value);
}
