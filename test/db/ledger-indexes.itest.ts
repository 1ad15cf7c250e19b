import { CompiledQuery, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/connect.js';
import { openMigratedDatabase } from '../support/database.js';

/**
 * Migration 007: ledger_entries keeps only the indexes a query reads, and the queries that read
 * ledger entries (the console's per-user ledger, a withdrawal's entries) still use an index.
 */
describe.each(['sqlite', 'mysql'] as const)('ledger_entries indexes on %s', (kind) => {
  let db: Db;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ db, close } = await openMigratedDatabase(kind));
    // Plans are only meaningful on a table with rows: 20,000 entries of 2,000 users, as holds write them.
    for (let chunk = 0; chunk < 40; chunk++) {
      const rows = Array.from({ length: 500 }, (_, i) => {
        const n = chunk * 500 + i;
        return { journal_id: `j${n >> 1}`, account: `user:u-${n % 2000}:held`, user_id: `u-${n % 2000}`, asset: 'ETH', amount: '1', kind: 'hold', reference: `wd_${n >> 1}`, withdrawal_id: `wd_${n >> 1}`, created_at: n };
      });
      await db.kysely.insertInto('ledger_entries').values(rows).execute();
    }
    await sql.raw(kind === 'sqlite' ? 'analyze' : 'analyze table ledger_entries').execute(db.kysely);
  });
  afterAll(async () => {
    await close?.();
  });

  async function indexes(): Promise<string[]> {
    const rows =
      kind === 'sqlite'
        ? (await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'ledger_entries' and sql is not null`.execute(db.kysely)).rows
        : (await sql<{ name: string }>`select distinct index_name as name from information_schema.statistics where table_schema = database() and table_name = 'ledger_entries' and index_name <> 'PRIMARY'`.execute(db.kysely)).rows;
    return rows.map((r) => r.name).sort();
  }

  /** The index the database picks for a query, from its plan. */
  async function indexUsedBy(query: { compile(): { sql: string; parameters: readonly unknown[] } }): Promise<string> {
    const { sql: text, parameters } = query.compile();
    if (kind === 'sqlite') {
      const plan = db.sqlite!.prepare(`explain query plan ${text}`).all(...(parameters as unknown[])) as Array<{ detail: string }>;
      return plan.map((p) => p.detail).join('; ');
    }
    const plan = (await db.kysely.executeQuery<{ key: string | null }>(CompiledQuery.raw(`explain ${text}`, [...parameters]))).rows;
    return plan.map((p) => String(p.key)).join('; ');
  }

  it('has the per-withdrawal and per-user indexes and no others', async () => {
    expect(await indexes()).toEqual(['ledger_entries_user_id', 'ledger_entries_wd']);
  });

  it("reads a user's ledger page and a withdrawal's entries through those indexes", async () => {
    const k = db.kysely;
    expect(await indexUsedBy(k.selectFrom('ledger_entries').selectAll().where('user_id', '=', 'u-1').where('id', '<', 15_000).orderBy('id', 'desc').limit(51))).toContain('ledger_entries_user_id');
    expect(await indexUsedBy(k.selectFrom('ledger_entries').selectAll().where('withdrawal_id', '=', 'wd_4321').orderBy('id'))).toContain('ledger_entries_wd');
  });
});
