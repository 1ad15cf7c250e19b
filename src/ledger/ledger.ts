import { type Insertable, sql } from 'kysely';
import type { Db } from '../db/connect.js';
import type { Database, LedgerEntriesTable } from '../db/schema.js';
import { isUniqueViolation } from '../db/errors.js';
import { insertChunks } from '../db/insert-chunks.js';
import { defineInsert } from '../db/insert-rows.js';
import { lockForUpdate, type Tx, withTransaction } from '../db/transaction.js';
import { MAX_STORED_UNITS } from '../money/decimal.js';
import { newId } from '../util/ids.js';
import { BalanceLimitError, BalancesMovedError, InsufficientBalanceError, ReferenceConflictError } from './errors.js';

/**
 * Double-entry ledger. Every movement is a journal whose entries sum to zero per asset, written in
 * the same transaction as the `balances` row it changes; that row is locked before it is written
 * and every movement is checked on it as locked (a batch may lock it only at flush, see
 * openLedgerBatch), so two movements on one user never interleave and a balance cannot go negative.
 *
 * Accounts: `user:<id>:available`, `user:<id>:held`, and the platform's side: `external` (credits in,
 * debits out), `payouts` (paid on chain), `fees` (withdrawal fees earned).
 */
export type Balance = { asset: string; available: bigint; held: bigint };

export type LedgerMovement = { userId: string; asset: string; amount: bigint; reference: string };

export type MovementResult = { journalId: string; replayed: boolean; balance: Balance };

function balanceKey(userId: string, asset: string): string {
  return `${userId}\u0000${asset}`;
}

const account = {
  available: (userId: string) => `user:${userId}:available`,
  held: (userId: string) => `user:${userId}:held`,
};

/** One balance row: a user's asset. */
export type BalanceKey = { userId: string; asset: string };
export type HoldInput = { userId: string; asset: string; amount: bigint; withdrawalId: string };
export type SettleInput = { userId: string; asset: string; amount: bigint; fee: bigint; withdrawalId: string };

/**
 * Holds, releases and settlements in one transaction over balance rows read (on MySQL: locked)
 * together by `ledger.openBatch`. Each movement applies in memory at once, so a later one sees an
 * earlier one's effect, and one that throws changes nothing. Nothing reaches the database before
 * `flush()`, which the caller awaits before its transaction commits.
 */
export type LedgerBatch = {
  /** Moves `amount` from available to held; InsufficientBalanceError if available is short. */
  hold(input: HoldInput): void;
  /** Gives a hold back to available (rejected, failed or cancelled withdrawal). */
  release(input: HoldInput): void;
  /** Turns a hold of `amount + fee` into a payout and a fee (completed withdrawal). */
  settle(input: SettleInput): void;
  /**
   * Undoes a settlement: the payout and fee become a hold again. For a completed withdrawal whose
   * payout a reorg beyond the required confirmations took off the chain: it is owed again, not
   * paid, and settles anew when a payout of it is final.
   */
  reopen(input: SettleInput): void;
  /** Writes each changed balance row once and every journal entry in one multi-row insert. */
  flush(): Promise<void>;
};

/** Balance rows per locking read: far below both databases' placeholder limits. */
const ROWS_PER_STATEMENT = 500;

type EntryRow = Insertable<LedgerEntriesTable>;

/**
 * The balance rows of `keys`; with `lock`, locked (on MySQL) in user/asset order, the order every
 * batch takes them in.
 */
async function readBalances(db: Db, trx: Tx, keys: BalanceKey[], lock: boolean): Promise<Map<string, Balance>> {
  const unique = new Map<string, BalanceKey>();
  for (const k of keys) unique.set(balanceKey(k.userId, k.asset), k);
  const distinct = [...unique.values()];
  const balances = new Map<string, Balance>();
  for (let i = 0; i < distinct.length; i += ROWS_PER_STATEMENT) {
    const chunk = distinct.slice(i, i + ROWS_PER_STATEMENT);
    const select = trx
      .selectFrom('balances')
      .select(['user_id', 'asset', 'available', 'held'])
      .where(({ eb, refTuple, tuple }) => {
        const pairs = [];
        for (const k of chunk) pairs.push(tuple(k.userId, k.asset));
        return eb(refTuple('user_id', 'asset'), 'in', pairs);
      })
      .orderBy('user_id')
      .orderBy('asset');
    const rows = await (lock ? lockForUpdate(db, select) : select).execute();
    for (const r of rows) balances.set(balanceKey(r.user_id, r.asset), { asset: r.asset, available: BigInt(r.available), held: BigInt(r.held) });
  }
  return balances;
}

type MoveKind = 'hold' | 'release' | 'settle' | 'reopen';

/** Why a movement cannot apply to `balance`, or null: a hold short of available, or any movement that would leave a column negative. */
function moveProblem(kind: MoveKind, balance: Balance, available: bigint, held: bigint): 'short' | 'negative' | null {
  if (kind === 'hold' && balance.available + available < 0n) return 'short';
  if (balance.available + available < 0n || balance.held + held < 0n) return 'negative';
  return null;
}

/** A movement as a batch read without locks tried it, to be tried again on the rows as locked (flush). */
type TriedMove = { key: string; userId: string; asset: string; kind: MoveKind; available: bigint; held: bigint; problem: 'short' | 'negative' | null };

function assertNotNegative(userId: string, balance: Balance): void {
  // Unreachable by construction; refuse rather than persist a negative balance.
  if (balance.available < 0n || balance.held < 0n) throw new Error(`Refusing negative balance for ${userId}/${balance.asset}`);
}

async function writeBalance(trx: Tx, userId: string, balance: Balance): Promise<void> {
  assertNotNegative(userId, balance);
  await trx
    .updateTable('balances')
    .set({ available: balance.available.toString(), held: balance.held.toString(), updated_at: Date.now() })
    .where('user_id', '=', userId)
    .where('asset', '=', balance.asset)
    .execute();
}

type ChangedBalance = { userId: string; balance: Balance };

/**
 * Many locked balance rows written back at once: one multi-row upsert per power-of-two chunk,
 * each row found by its primary key. Not an UPDATE over `user_id IN (…)`: on a small table
 * MariaDB's plan for that is a scan of every row, and under REPEATABLE READ the scan locked every
 * balance row, other users' too, until commit (test/db/mysql-concurrency.itest.ts); a signer and
 * a tracker batch then deadlocked on rows neither meant to write. The rows were locked and read
 * in this transaction (readBalances), so each upsert updates its row.
 */
async function writeBalances(db: Db, trx: Tx, changed: ChangedBalance[]): Promise<void> {
  if (changed.length === 1) return writeBalance(trx, changed[0]!.userId, changed[0]!.balance);
  const now = Date.now();
  const rows: Array<Insertable<Database['balances']>> = [];
  for (const c of changed) {
    assertNotNegative(c.userId, c.balance);
    rows.push({ user_id: c.userId, asset: c.balance.asset, available: c.balance.available.toString(), held: c.balance.held.toString(), updated_at: now });
  }
  for (const chunk of insertChunks(rows)) {
    const insert = trx.insertInto('balances').values(chunk);
    await (db.dialect === 'mysql'
      ? insert.onDuplicateKeyUpdate({ available: sql`values(available)`, held: sql`values(held)`, updated_at: sql`values(updated_at)` })
      : insert.onConflict((oc) => oc.columns(['user_id', 'asset']).doUpdateSet({ available: sql`excluded.available`, held: sql`excluded.held`, updated_at: sql`excluded.updated_at` }))
    ).execute();
  }
}

type JournalMeta = { kind: string; reference: string; asset: string; userId: string; withdrawalId?: string };

/** Appends to `into` the journal's entries (legs of amount 0 left out); returns its id. */
function journalRows(meta: JournalMeta, legs: Array<[account: string, amount: bigint]>, into: EntryRow[]): string {
  const journalId = newId('jn');
  const now = Date.now();
  for (const [acct, amount] of legs) {
    if (amount === 0n) continue;
    into.push({
      journal_id: journalId,
      account: acct,
      user_id: acct.startsWith('user:') ? meta.userId : null,
      asset: meta.asset,
      amount: amount.toString(),
      kind: meta.kind,
      reference: meta.reference,
      withdrawal_id: meta.withdrawalId ?? null,
      created_at: now,
    });
  }
  return journalId;
}

const insertEntries = defineInsert('ledger_entries', ['journal_id', 'account', 'user_id', 'asset', 'amount', 'kind', 'reference', 'withdrawal_id', 'created_at']);

/**
 * A LedgerBatch over balance rows read by openBatch. A class, not a closure per batch: V8 holds a
 * closure's optimized code only while a closure of it lives, so code made for one batch's
 * closures was dropped at the next full collection and compiled again for a later batch (~500
 * recompilations in a 50,000-withdrawal bench signer run, `node --trace-opt`).
 */
class OpenBatch implements LedgerBatch {
  private readonly changed = new Map<string, ChangedBalance>();
  private readonly entries: EntryRow[] = [];
  /** With the rows read unlocked: the rows to lock in flush, and every movement tried so far, to try again on them. */
  private unlocked: { keys: BalanceKey[]; tried: TriedMove[] } | null;

  constructor(
    private readonly db: Db,
    private readonly trx: Tx,
    private balances: Map<string, Balance>,
    private readonly opened: Set<string>,
    lockAtFlush: BalanceKey[] | null,
  ) {
    this.unlocked = lockAtFlush ? { keys: lockAtFlush, tried: [] } : null;
  }

  /**
   * Adds `available` and `held` to the balance (InsufficientBalanceError for a hold that
   * available cannot cover); a negative result is refused before anything changes.
   */
  private move(kind: MoveKind, input: HoldInput, available: bigint, held: bigint, legs: Array<[account: string, amount: bigint]>): void {
    const key = balanceKey(input.userId, input.asset);
    if (!this.opened.has(key)) throw new Error(`Ledger batch not opened for ${input.userId}/${input.asset}`);
    // A row that does not exist holds nothing: a hold fails as short, a release or settle as negative.
    const balance = this.balances.get(key) ?? { asset: input.asset, available: 0n, held: 0n };
    const problem = moveProblem(kind, balance, available, held);
    this.unlocked?.tried.push({ key, userId: input.userId, asset: input.asset, kind, available, held, problem });
    if (problem === 'short') throw new InsufficientBalanceError(input.userId, input.asset);
    if (problem === 'negative') throw new Error(`Refusing negative balance for ${input.userId}/${input.asset}`);
    balance.available += available;
    balance.held += held;
    this.balances.set(key, balance);
    this.changed.set(key, { userId: input.userId, balance });
    journalRows({ kind, userId: input.userId, asset: input.asset, withdrawalId: input.withdrawalId, reference: input.withdrawalId }, legs, this.entries);
  }

  hold(input: HoldInput): void {
    this.move('hold', input, -input.amount, input.amount, [
      [account.available(input.userId), -input.amount],
      [account.held(input.userId), input.amount],
    ]);
  }

  release(input: HoldInput): void {
    this.move('release', input, input.amount, -input.amount, [
      [account.held(input.userId), -input.amount],
      [account.available(input.userId), input.amount],
    ]);
  }

  settle(input: SettleInput): void {
    const total = input.amount + input.fee;
    this.move('settle', input, 0n, -total, [
      [account.held(input.userId), -total],
      ['payouts', input.amount],
      ['fees', input.fee],
    ]);
  }

  reopen(input: SettleInput): void {
    const total = input.amount + input.fee;
    this.move('reopen', input, 0n, total, [
      ['payouts', -input.amount],
      ['fees', -input.fee],
      [account.held(input.userId), total],
    ]);
  }

  async flush(): Promise<void> {
    if (this.unlocked) await this.lockAndTryAgain(this.unlocked);
    await writeBalances(this.db, this.trx, [...this.changed.values()]);
    this.changed.clear();
    await insertEntries(this.trx, this.entries.splice(0));
  }

  /** Locks the rows read unlocked and applies every movement tried to them; each must end as it did (see openLedgerBatch). */
  private async lockAndTryAgain({ keys, tried }: { keys: BalanceKey[]; tried: TriedMove[] }): Promise<void> {
    const locked = await readBalances(this.db, this.trx, keys, true);
    for (const m of tried) {
      const balance = locked.get(m.key) ?? { asset: m.asset, available: 0n, held: 0n };
      if (moveProblem(m.kind, balance, m.available, m.held) !== m.problem) throw new BalancesMovedError(m.userId, m.asset);
      if (m.problem !== null) continue;
      balance.available += m.available;
      balance.held += m.held;
      locked.set(m.key, balance);
      this.changed.set(m.key, { userId: m.userId, balance });
    }
    // Locked from here: later movements apply to these rows as they are.
    this.balances = locked;
    this.unlocked = null;
  }
}

/**
 * Holds, releases and settlements for many withdrawals in the caller's transaction: their balance
 * rows read (on MySQL: locked) in one query now, written back in `flush()`. The same as
 * `createLedger(db).openBatch`, for write tasks that run once per batch.
 *
 * With `lock: 'at-flush'` (MySQL; SQLite's one writer needs no locks), the rows are read now
 * without a lock and locked only in `flush()`, just before they are written, so a batch that
 * writes much else after its movements holds its users' rows for the last statements only, not
 * for all of them (batches side by side share users). There every movement is tried again, in
 * order, on the rows as locked, and if any would not end as it did on what was read (a hold that
 * was covered is short now, or the other way round), flush throws BalancesMovedError and
 * nothing of the batch may commit: the caller runs it again with the rows locked first.
 */
export async function openLedgerBatch(db: Db, trx: Tx, keys: BalanceKey[], options: { lock?: 'now' | 'at-flush' } = {}): Promise<LedgerBatch> {
  const atFlush = options.lock === 'at-flush' && db.dialect === 'mysql';
  const balances = await readBalances(db, trx, keys, !atFlush);
  const opened = new Set<string>();
  for (const k of keys) opened.add(balanceKey(k.userId, k.asset));
  return new OpenBatch(db, trx, balances, opened, atFlush ? keys : null);
}

export function createLedger(db: Db) {
  async function lockBalance(trx: Tx, userId: string, asset: string, create: boolean): Promise<Balance> {
    const select = () =>
      lockForUpdate(
        db,
        trx.selectFrom('balances').select(['available', 'held']).where('user_id', '=', userId).where('asset', '=', asset),
      ).executeTakeFirst();
    let row = await select();
    if (!row && create) {
      await trx
        .insertInto('balances')
        .values({ user_id: userId, asset, available: '0', held: '0', updated_at: Date.now() })
        .orIgnore()
        .execute();
      row = await select();
    }
    return { asset, available: BigInt(row?.available ?? '0'), held: BigInt(row?.held ?? '0') };
  }

  async function journal(trx: Tx, meta: JournalMeta, legs: Array<[account: string, amount: bigint]>): Promise<string> {
    const rows: EntryRow[] = [];
    const journalId = journalRows(meta, legs, rows);
    await insertEntries(trx, rows);
    return journalId;
  }

  const openBatch = (trx: Tx, keys: BalanceKey[]): Promise<LedgerBatch> => openLedgerBatch(db, trx, keys);

  /** One movement as a batch of one, inside the caller's transaction. */
  async function single(trx: Tx, key: BalanceKey, apply: (batch: LedgerBatch) => void): Promise<void> {
    const batch = await openBatch(trx, [key]);
    apply(batch);
    await batch.flush();
  }

  /** Credits and debits are idempotent by (kind, reference). */
  async function move(kind: 'credit' | 'debit', input: LedgerMovement): Promise<MovementResult> {
    const run = () =>
      withTransaction(db, async (trx) => {
        const existing = await trx
          .selectFrom('ledger_references')
          .selectAll()
          .where('kind', '=', kind)
          .where('reference', '=', input.reference)
          .executeTakeFirst();
        if (existing) return replay(trx, existing);

        const balance = await lockBalance(trx, input.userId, input.asset, true);
        const delta = kind === 'credit' ? input.amount : -input.amount;
        if (balance.available + delta < 0n) throw new InsufficientBalanceError(input.userId, input.asset);
        // available + held bounds both columns for good: holds and releases only move between them.
        if (balance.available + balance.held + delta > MAX_STORED_UNITS) throw new BalanceLimitError(input.userId, input.asset);
        balance.available += delta;
        const journalId = await journal(trx, { kind, ...input }, [
          [account.available(input.userId), delta],
          ['external', -delta],
        ]);
        await trx
          .insertInto('ledger_references')
          .values({
            kind,
            reference: input.reference,
            user_id: input.userId,
            asset: input.asset,
            amount: input.amount.toString(),
            journal_id: journalId,
            created_at: Date.now(),
          })
          .execute();
        await writeBalance(trx, input.userId, balance);
        return { journalId, replayed: false, balance };
      });

    const replay = async (
      trx: Tx,
      existing: { user_id: string; asset: string; amount: string; journal_id: string },
    ): Promise<MovementResult> => {
      if (existing.user_id !== input.userId || existing.asset !== input.asset || BigInt(existing.amount) !== input.amount) {
        throw new ReferenceConflictError(kind, input.reference);
      }
      const balance = await lockBalance(trx, input.userId, input.asset, false);
      return { journalId: existing.journal_id, replayed: true, balance };
    };

    try {
      return await run();
    } catch (err) {
      // Two requests with one new reference raced; the loser sees the winner's row on retry.
      if (isUniqueViolation(err)) return run();
      throw err;
    }
  }

  return {
    credit: (input: LedgerMovement) => move('credit', input),
    debit: (input: LedgerMovement) => move('debit', input),

    /**
     * Holds, releases and settlements for many withdrawals in the caller's transaction: their
     * balance rows read (on MySQL: locked) in one query now, written back in `flush()`.
     */
    openBatch,

    /** Moves `amount` from available to held, inside the caller's transaction. */
    hold: (trx: Tx, input: HoldInput): Promise<void> => single(trx, input, (b) => b.hold(input)),

    /** Gives a hold back to available (rejected, failed or cancelled withdrawal). */
    release: (trx: Tx, input: HoldInput): Promise<void> => single(trx, input, (b) => b.release(input)),

    /** Turns a hold of `amount + fee` into a payout and a fee (completed withdrawal). */
    settle: (trx: Tx, input: SettleInput): Promise<void> => single(trx, input, (b) => b.settle(input)),

    async balances(userId: string): Promise<Balance[]> {
      const rows = await db.kysely
        .selectFrom('balances')
        .select(['asset', 'available', 'held'])
        .where('user_id', '=', userId)
        .orderBy('asset')
        .execute();
      return rows.map((r) => ({ asset: r.asset, available: BigInt(r.available), held: BigInt(r.held) }));
    },
  };
}

export type Ledger = ReturnType<typeof createLedger>;
