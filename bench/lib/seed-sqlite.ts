import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import type { TxAttemptsTable, WithdrawalsTable } from '../../src/db/schema.js';

/**
 * Fast bulk load of history into a migrated SQLite file: prepared statements in 50,000-row
 * transactions with synchronous=OFF (this is setup, not a measurement). Columns come from the
 * schema types, so a schema change breaks the build rather than the seed.
 *
 * The file is fsynced before this returns: unsynced, ~1 GB of it was still dirty when the API was
 * measured on it, and the kernel wrote it back whenever its flusher woke. An fsync (the WAL's, at
 * each commit) can wait behind such writeback: 8 KB fdatasyncs on this disk took up to 535 ms
 * while 1.9 GB of unrelated dirty pages went out, and never over 200 ms without. A system with that
 * much history wrote it long ago.
 */
export function seedSqliteHistory(
  file: string,
  input: { rows: number; chainId: number; wallets: string[]; recipients: string[]; users: number; onProgress?: (done: number) => void },
): void {
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = OFF');
  const base = Date.now() - input.rows * 10;
  const hash = randomBytes(32).toString('hex');
  const sample = historyRow(0, base, input, hash);
  const wCols = Object.keys(sample.withdrawal) as (keyof WithdrawalsTable)[];
  const aCols = Object.keys(sample.attempt) as (keyof Omit<TxAttemptsTable, 'id'>)[];
  const insertW = sqlite.prepare(`INSERT INTO withdrawals (${wCols.join(',')}) VALUES (${wCols.map(() => '?').join(',')})`);
  const insertA = sqlite.prepare(`INSERT INTO tx_attempts (${aCols.join(',')}) VALUES (${aCols.map(() => '?').join(',')})`);
  const chunk = sqlite.transaction((from: number, to: number) => {
    for (let n = from; n < to; n++) {
      const { withdrawal, attempt } = historyRow(n, base, input, hash);
      insertW.run(wCols.map((c) => withdrawal[c]));
      insertA.run(aCols.map((c) => attempt[c]));
    }
  });
  for (let from = 0; from < input.rows; from += 50_000) {
    chunk(from, Math.min(input.rows, from + 50_000));
    input.onProgress?.(Math.min(input.rows, from + 50_000));
  }
  sqlite.pragma('wal_checkpoint(TRUNCATE)');
  sqlite.close();
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A settled withdrawal of the past with the tx that paid it; ids sort by time like real ones. */
function historyRow(n: number, base: number, input: { chainId: number; wallets: string[]; recipients: string[]; users: number }, hash: string) {
  const at = base + n * 10;
  let t = at;
  let time = '';
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  const id = `wd_${time}${n.toString(32).toUpperCase().padStart(16, '0')}`;
  const wallet = input.wallets[n % input.wallets.length]!;
  const nonce = Math.floor(n / input.wallets.length);
  const txHash = `0x${n.toString(16).padStart(64, '0')}`;
  const withdrawal: WithdrawalsTable = {
    id,
    idempotency_key: `history-${n}`,
    request_hash: hash,
    api_key_id: 'bench',
    user_id: `history-user-${n % input.users}`,
    asset: n % 5 === 0 ? 'USDT' : 'ETH',
    chain_id: input.chainId,
    to_address: input.recipients[n % input.recipients.length]!,
    amount: '10000000000000000',
    fee: '100000000000000',
    status: 'COMPLETED',
    wallet,
    nonce,
    tx_hash: txHash,
    block_number: 1 + Math.floor(n / 200),
    block_hash: `0x${(n >> 8).toString(16).padStart(64, '0')}`,
    confirmations: 2,
    failure_code: null,
    failure_reason: null,
    create_response: `{"id":"${id}","status":"RECEIVED"}`,
    cancel_reason: null,
    requeued_at: null,
    created_at: at,
    updated_at: at + 4_000,
  };
  const attempt: Omit<TxAttemptsTable, 'id'> = {
    withdrawal_id: id,
    chain_id: input.chainId,
    wallet,
    nonce,
    tx_hash: txHash,
    raw_tx: '0x02f870',
    kind: 'transfer',
    max_fee_per_gas: '2000000000',
    max_priority_fee_per_gas: '1000000000',
    gas_limit: 21_000,
    created_at: at + 200,
    broadcast_at: at + 300,
    last_broadcast_at: at + 300,
    broadcast_count: 1,
    last_error: null,
  };
  return { withdrawal, attempt };
}
