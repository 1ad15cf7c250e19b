import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { isRetryable, SluiceError } from '../errors/base.js';
import { isTransientDbError, isTransientLockError, isUniqueViolation } from './errors.js';

/** Shaped like mysql2's server errors (packets/packet.js asError): code name, errno, sqlState, sqlMessage. */
const mysqlServerError = (errno: number, code: string, sqlState = 'HY000') =>
  Object.assign(new Error(`server error ${code}`), { code, errno, sqlState, sqlMessage: `server error ${code}` });

/** Shaped like mysql2's connection errors (base/connection.js): no errno, a string code, fatal. */
const mysqlConnectionError = (code: string) => Object.assign(new Error(`connection error ${code}`), { code, fatal: true });

/** Shaped like Node's socket errors as mysql2 passes them on: negative errno, string code, fatal added by mysql2. */
const socketError = (code: string, errno: number) => Object.assign(new Error(`connect ${code} 127.0.0.1:3306`), { code, errno, syscall: 'connect', fatal: true });

const sqliteError = (code: string) => new Database.SqliteError(`sqlite says ${code}`, code);

describe('isTransientDbError', () => {
  it.each([
    ['lock wait timeout', mysqlServerError(1205, 'ER_LOCK_WAIT_TIMEOUT')],
    ['deadlock', mysqlServerError(1213, 'ER_LOCK_DEADLOCK', '40001')],
    ['too many connections', mysqlServerError(1040, 'ER_CON_COUNT_ERROR', '08004')],
    ['server shutdown', mysqlServerError(1053, 'ER_SERVER_SHUTDOWN', '08S01')],
    ['connection killed (MariaDB)', mysqlServerError(1927, 'ER_CONNECTION_KILLED', '70100')],
    ['interaction timeout (MySQL 8)', mysqlServerError(4031, 'ER_CLIENT_INTERACTION_TIMEOUT')],
    ['errno 2002 alone', { errno: 2002 }],
    ['errno 2003 alone', { errno: 2003 }],
    ['server gone away (2006)', { errno: 2006, code: 'CR_SERVER_GONE_ERROR' }],
    ['server lost (2013)', { errno: 2013, code: 'CR_SERVER_LOST' }],
    ['connection lost', mysqlConnectionError('PROTOCOL_CONNECTION_LOST')],
    ['sequence timeout', mysqlConnectionError('PROTOCOL_SEQUENCE_TIMEOUT')],
    // What a ROLLBACK on a killed connection throws (base/connection.js _addCommandClosedState): no code, only fatal.
    ['command on a closed connection', Object.assign(new Error("Can't add new command when connection is in closed state"), { fatal: true })],
    ['refused', socketError('ECONNREFUSED', -111)],
    ['reset', socketError('ECONNRESET', -104)],
    ['timed out', socketError('ETIMEDOUT', -110)],
    ['broken pipe', socketError('EPIPE', -32)],
    ['code ER_CON_COUNT_ERROR without errno', { code: 'ER_CON_COUNT_ERROR' }],
    ['code ER_LOCK_DEADLOCK without errno', { code: 'ER_LOCK_DEADLOCK' }],
    ['code ER_LOCK_WAIT_TIMEOUT without errno', { code: 'ER_LOCK_WAIT_TIMEOUT' }],
    ['SQLITE_BUSY', sqliteError('SQLITE_BUSY')],
    ['SQLITE_BUSY_SNAPSHOT', sqliteError('SQLITE_BUSY_SNAPSHOT')],
    ['SQLITE_LOCKED', sqliteError('SQLITE_LOCKED')],
    ['SQLITE_LOCKED_SHAREDCACHE', sqliteError('SQLITE_LOCKED_SHAREDCACHE')],
    ['SQLITE_IOERR', sqliteError('SQLITE_IOERR')],
    ['SQLITE_IOERR_FSYNC', sqliteError('SQLITE_IOERR_FSYNC')],
  ])('%s is transient', (_name, err) => {
    expect(isTransientDbError(err)).toBe(true);
    expect(isRetryable(err)).toBe(true);
  });

  it.each([
    ['duplicate key', mysqlServerError(1062, 'ER_DUP_ENTRY', '23000')],
    ['syntax error', mysqlServerError(1064, 'ER_PARSE_ERROR', '42000')],
    ['out of range value', mysqlServerError(1264, 'ER_WARN_DATA_OUT_OF_RANGE', '22003')],
    ['access denied', mysqlServerError(1045, 'ER_ACCESS_DENIED_ERROR', '28000')],
    ['unique constraint', sqliteError('SQLITE_CONSTRAINT_UNIQUE')],
    ['no such table', sqliteError('SQLITE_ERROR')],
    ['a look-alike prefix', sqliteError('SQLITE_BUSYNESS')],
    ['wording only', new Error('Connection lost: The server closed the connection. deadlock too many connections')],
    ['a string errno', { errno: '1213' }],
    ['nothing', undefined],
    ['null', null],
    ['a string', 'ECONNRESET'],
  ])('%s is not transient', (_name, err) => {
    expect(isTransientDbError(err)).toBe(false);
    expect(isRetryable(err)).toBe(false);
  });

  it('follows cause chains a few levels, and AggregateError members', () => {
    const lost = mysqlConnectionError('PROTOCOL_CONNECTION_LOST');
    const wrapped = new SluiceError('Signing failed.', { cause: new Error('query failed', { cause: lost }), code: 'signing_failed' });
    expect(wrapped.retryable).toBe(false);
    expect(isTransientDbError(wrapped)).toBe(true);
    expect(isRetryable(wrapped)).toBe(true);
    expect(isTransientDbError(new AggregateError([new Error('a'), socketError('ECONNREFUSED', -111)]))).toBe(true);

    let deep: unknown = lost;
    for (let i = 0; i < 10; i++) deep = new Error(`level ${i}`, { cause: deep });
    expect(isTransientDbError(deep)).toBe(false); // too deep to be about this call

    const loop = new Error('self') as Error & { cause?: unknown };
    loop.cause = loop;
    expect(isTransientDbError(loop)).toBe(false);
  });

  it('recognises a real better-sqlite3 busy error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-dberr-'));
    const file = join(dir, 'busy.db');
    const a = new Database(file);
    const b = new Database(file, { timeout: 0 });
    try {
      a.exec('CREATE TABLE t (x INTEGER)');
      a.exec('BEGIN EXCLUSIVE');
      let caught: unknown;
      try {
        b.exec('INSERT INTO t VALUES (1)');
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(Database.SqliteError);
      expect((caught as { code: string }).code).toMatch(/^SQLITE_BUSY/);
      expect(isTransientDbError(caught)).toBe(true);
      expect(isTransientLockError(caught)).toBe(true);
      a.exec('ROLLBACK');
    } finally {
      a.close();
      b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('recognises a real mysql2 refused connection', async () => {
    // Port 1 on loopback: nothing listens, so the kernel refuses at once.
    const refusedError = await mysql.createConnection({ host: '127.0.0.1', port: 1, user: 'x', connectTimeout: 2_000 }).then(
      (c) => c.end().then(() => undefined),
      (err: unknown) => err,
    );
    expect(refusedError).toMatchObject({ code: 'ECONNREFUSED' });
    expect(isTransientDbError(refusedError)).toBe(true);
    expect(isTransientLockError(refusedError)).toBe(false);
  });
});

describe('isTransientLockError', () => {
  it('means only deadlock, lock wait and busy', () => {
    expect(isTransientLockError(mysqlServerError(1213, 'ER_LOCK_DEADLOCK'))).toBe(true);
    expect(isTransientLockError(mysqlServerError(1205, 'ER_LOCK_WAIT_TIMEOUT'))).toBe(true);
    expect(isTransientLockError(sqliteError('SQLITE_BUSY'))).toBe(true);
    expect(isTransientLockError(sqliteError('SQLITE_BUSY_SNAPSHOT'))).toBe(true);
    expect(isTransientLockError(new Error('tx failed', { cause: mysqlServerError(1213, 'ER_LOCK_DEADLOCK') }))).toBe(true);
    // Transient, but re-running the transaction on the spot does not help: not lock errors.
    expect(isTransientLockError(mysqlConnectionError('PROTOCOL_CONNECTION_LOST'))).toBe(false);
    expect(isTransientLockError(mysqlServerError(1040, 'ER_CON_COUNT_ERROR'))).toBe(false);
    expect(isTransientLockError(sqliteError('SQLITE_IOERR'))).toBe(false);
    expect(isTransientLockError(mysqlServerError(1062, 'ER_DUP_ENTRY'))).toBe(false);
  });
});

describe('isUniqueViolation', () => {
  it('recognises duplicate keys on both drivers and nothing else', () => {
    expect(isUniqueViolation(mysqlServerError(1062, 'ER_DUP_ENTRY', '23000'))).toBe(true);
    expect(isUniqueViolation(sqliteError('SQLITE_CONSTRAINT_UNIQUE'))).toBe(true);
    expect(isUniqueViolation(sqliteError('SQLITE_CONSTRAINT_PRIMARYKEY'))).toBe(true);
    expect(isUniqueViolation(sqliteError('SQLITE_BUSY'))).toBe(false);
  });
});

describe('isRetryable', () => {
  it('still honours the error class', () => {
    expect(isRetryable(new SluiceError('permanent'))).toBe(false);
    expect(isRetryable(new Error('plain'))).toBe(false);
  });
});
