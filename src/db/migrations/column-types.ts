import { type Kysely, sql } from 'kysely';
import type { SqlDialect } from '../connect.js';

/** Column types and table options for migrations written once for both dialects. */
export function columnTypes(dialect: SqlDialect) {
  const mysql = dialect === 'mysql';
  return {
    amount: mysql ? sql`decimal(65,0)` : sql`text`,
    str: (n: number) => (mysql ? sql.raw(`varchar(${n})`) : sql`text`),
    text: mysql ? sql`mediumtext` : sql`text`,
    big: 'bigint' as const,
    autoId: mysql ? sql`bigint unsigned` : sql`integer`,
    // Binary collation on MySQL: ids, idempotency keys and references are case-sensitive.
    table: (db: Kysely<unknown>, name: string) => {
      const t = db.schema.createTable(name);
      return mysql ? t.modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`) : t;
    },
  };
}
