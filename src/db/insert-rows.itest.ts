import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMigratedDatabase } from '../../test/support/database.js';
import type { Db } from './connect.js';
import { defineInsert } from './insert-rows.js';
import { withTransaction } from './transaction.js';

const insertEvents = defineInsert('withdrawal_events', ['withdrawal_id', 'from_status', 'to_status', 'code', 'detail', 'created_at']);

function event(n: number) {
  // Nulls, quotes and non-ASCII go through as bound values, never into the SQL text.
  return { withdrawal_id: `wd_${String(n).padStart(4, '0')}`, from_status: n % 2 ? null : 'RECEIVED', to_status: 'SIGNED', code: n % 3 ? null : "it's", detail: `détail ${n}`, created_at: 1_700_000_000_000 + n };
}

describe.each(['sqlite', 'mysql'] as const)('defineInsert on %s', (kind) => {
  let db: Db;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ db, close } = await openMigratedDatabase(kind));
  }, 60_000);
  afterAll(async () => {
    await close?.();
  });

  it('stores every row with every column as given, over several statement sizes (300 rows: 256 + 32 + 8 + 4)', async () => {
    const rows = Array.from({ length: 300 }, (_, n) => event(n));
    await withTransaction(db, (trx) => insertEvents(trx, rows));
    // Twice the same sizes: the second batch reuses the SQL texts of the first.
    await withTransaction(db, (trx) => insertEvents(trx, rows.map((r) => ({ ...r, withdrawal_id: `${r.withdrawal_id}_b` }))));
    const stored = await db.kysely.selectFrom('withdrawal_events').select(['withdrawal_id', 'from_status', 'to_status', 'code', 'detail', 'created_at']).orderBy('id').execute();
    expect(stored).toHaveLength(600);
    expect(stored.slice(0, 300).map((r) => ({ ...r, created_at: Number(r.created_at) }))).toEqual(rows);
    expect(stored[300]!.withdrawal_id).toBe('wd_0000_b');
  });

  it('refuses a row without one of the columns and stores nothing of that transaction', async () => {
    const before = await db.kysely.selectFrom('withdrawal_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    const { code: _omitted, ...partial } = event(1);
    await expect(withTransaction(db, (trx) => insertEvents(trx, [event(2), partial as ReturnType<typeof event>]))).rejects.toThrow('withdrawal_events.code is not set');
    const after = await db.kysely.selectFrom('withdrawal_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    expect(Number(after.n)).toBe(Number(before.n));
  });

  it('inserts nothing for no rows', async () => {
    const count = async () => Number((await db.kysely.selectFrom('withdrawal_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const before = await count();
    await withTransaction(db, (trx) => insertEvents(trx, []));
    expect(await count()).toBe(before);
  });
});

describe('defineInsert', () => {
  it('takes plain lower-case identifiers only, since it writes them unquoted', () => {
    expect(() => defineInsert('withdrawal_events', ['withdrawal_id', 'Code' as 'code'])).toThrow('not a plain identifier: Code');
  });
});
