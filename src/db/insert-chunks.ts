/** Rows per multi-row INSERT at most: 256 rows of up to ~25 columns stays far below both databases' placeholder limits. */
const MAX_ROWS = 256;

/**
 * Splits rows for multi-row INSERTs into chunks whose sizes are powers of two (300 rows: 256,
 * 32, 8, 4), largest first. A statement's SQL depends on its row count, and a SQLite connection
 * keeps its prepared statements (sqlite-connection.ts): with any size allowed, each batch brought
 * a new large program to keep; with these, one table has at most nine.
 */
export function insertChunks<T>(rows: T[]): T[][] {
  const chunks: T[][] = [];
  let at = 0;
  for (let size = MAX_ROWS; size >= 1; size /= 2) {
    while (rows.length - at >= size) {
      chunks.push(rows.slice(at, at + size));
      at += size;
    }
  }
  return chunks;
}
