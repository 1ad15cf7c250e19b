import { ProblemError } from '../problem.js';

/** Schema pieces and paging shared by the console's Admin API routes. */
export const limitSchema = { type: 'string', pattern: '^(?:[1-9]\\d?|1\\d\\d|200)$', description: '1-200, default 50' } as const;
export const cursorSchema = { type: 'string', maxLength: 200, description: 'nextCursor from the previous page' } as const;
export const reasonSchema = { type: 'string', minLength: 1, maxLength: 500, pattern: '\\S', description: 'why (kept in the audit log)' } as const;
export const roleSchema = { type: 'string', enum: ['viewer', 'operator', 'admin'] } as const;
export const msSchema = { type: 'integer', description: 'epoch milliseconds' } as const;
export const nullableMs = { type: ['integer', 'null'], description: 'epoch milliseconds' } as const;
export const adminErrors = { 400: { $ref: 'Problem#' }, 401: { $ref: 'Problem#' }, 403: { $ref: 'Problem#' }, 404: { $ref: 'Problem#' }, 409: { $ref: 'Problem#' } } as const;

export function encodeCursor(prefix: string, value: string | number): string {
  return Buffer.from(`${prefix}:${value}`).toString('base64url');
}

export function decodeCursor(prefix: string, cursor: string | undefined, pattern: RegExp): string | undefined {
  if (!cursor) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const value = text.startsWith(`${prefix}:`) ? text.slice(prefix.length + 1) : '';
  if (!pattern.test(value)) throw new ProblemError(400, 'invalid_cursor', 'cursor is not one this API returned.');
  return value;
}

export const pageLimit = (limit: string | undefined) => Number(limit ?? '50');
