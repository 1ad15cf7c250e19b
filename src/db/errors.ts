/**
 * Driver errors mapped to meaning, by their structured codes (mysql2 `errno`, better-sqlite3 `code`).
 */
type DriverError = { code?: unknown; errno?: unknown };

export function isUniqueViolation(err: unknown): boolean {
  const e = err as DriverError | null;
  if (!e) return false;
  return (
    e.errno === 1062 || // ER_DUP_ENTRY
    e.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/** MySQL deadlock or lock wait timeout (the transaction was rolled back, retrying is safe); SQLite busy. */
export function isTransientLockError(err: unknown): boolean {
  const e = err as DriverError | null;
  if (!e) return false;
  return e.errno === 1213 || e.errno === 1205 || e.code === 'SQLITE_BUSY';
}
