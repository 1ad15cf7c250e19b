/**
 * Driver errors mapped to meaning, by their structured codes (mysql2 `errno`/`code`, better-sqlite3
 * `code`, Node's socket `code`), never by message text. This module must not import errors/base.ts:
 * base.ts imports it.
 */
import { WORKER_EXITED } from './sqlite-write-worker.js';

type DriverError = { code?: unknown; errno?: unknown; cause?: unknown; errors?: unknown; fatal?: unknown };

export function isUniqueViolation(err: unknown): boolean {
  const e = err as DriverError | null;
  if (!e) return false;
  return (
    e.errno === 1062 || // ER_DUP_ENTRY
    e.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/** Server error numbers (MySQL/MariaDB) after which the same statement or transaction can succeed. */
const TRANSIENT_ERRNOS = new Set([
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK
  1040, // ER_CON_COUNT_ERROR: too many connections
  1053, // ER_SERVER_SHUTDOWN
  2002, // CR_CONNECTION_ERROR (socket)
  2003, // CR_CONN_HOST_ERROR
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
  1927, // ER_CONNECTION_KILLED (MariaDB)
  4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
]);

/** String codes (mysql2 names, Node socket codes) with the same meaning. */
const TRANSIENT_CODES = new Set([
  WORKER_EXITED,
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ER_CON_COUNT_ERROR',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_CLIENT_INTERACTION_TIMEOUT',
]);

/** SQLite result codes (and their extended forms, e.g. SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_FSYNC). */
const TRANSIENT_SQLITE_PREFIXES = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR'];

/** How far down `.cause` (and AggregateError `.errors`) to look. */
const MAX_DEPTH = 5;

/** True if `test` holds for `err` or an error it wraps, a few levels down. */
function anyInChain(err: unknown, test: (e: DriverError) => boolean): boolean {
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number): boolean => {
    if (!e || typeof e !== 'object' || depth > MAX_DEPTH || seen.has(e)) return false;
    seen.add(e);
    const d = e as DriverError;
    if (test(d)) return true;
    if (visit(d.cause, depth + 1)) return true;
    return Array.isArray(d.errors) && d.errors.some((x) => visit(x, depth + 1));
  };
  return visit(err, 0);
}

function isTransientCode(e: DriverError): boolean {
  if (typeof e.errno === 'number' && TRANSIENT_ERRNOS.has(e.errno)) return true;
  // mysql2 marks an error that ended the connection `fatal`; some carry no code at all, e.g. "Can't
  // add new command when connection is in closed state" from a ROLLBACK on a killed connection.
  if (e.fatal === true && typeof e.errno !== 'number') return true;
  if (typeof e.code !== 'string') return false;
  return TRANSIENT_CODES.has(e.code) || TRANSIENT_SQLITE_PREFIXES.some((p) => e.code === p || (e.code as string).startsWith(`${p}_`));
}

/**
 * A database failure that is not about the request: lock contention, a lost or refused
 * connection, a server restarting, too many connections, a busy or I/O-failing SQLite file. Such a
 * failure must delay a withdrawal, never reject or park it (DESIGN §3 invariant 11).
 */
export function isTransientDbError(err: unknown): boolean {
  return anyInChain(err, isTransientCode);
}

/**
 * MySQL deadlock or lock wait timeout (the transaction was rolled back, retrying it is safe);
 * SQLite busy. Narrower than isTransientDbError: this is what makes `withTransaction` re-run the
 * whole transaction on the spot, which is pointless for a lost connection.
 */
export function isTransientLockError(err: unknown): boolean {
  return anyInChain(
    err,
    (e) =>
      e.errno === 1213 ||
      e.errno === 1205 ||
      e.code === 'ER_LOCK_DEADLOCK' ||
      e.code === 'ER_LOCK_WAIT_TIMEOUT' ||
      e.code === 'SQLITE_BUSY' ||
      (typeof e.code === 'string' && e.code.startsWith('SQLITE_BUSY_')),
  );
}
