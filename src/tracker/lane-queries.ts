import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Db } from '../db/connect.js';
import type { Database, WithdrawalStatus } from '../db/schema.js';
import type { WithdrawalRow } from '../withdrawals/repository.js';

/** Lowest nonces of a lane looked at per tick: a lane only moves in nonce order, so these are the ones that matter. */
export const LANE_WINDOW = 256;

/** Statuses of a lane's rows that hold a nonce not yet settled (RECEIVED only once reserved: wallet and nonce are set together). */
export const LANE_STATUSES = ['RECEIVED', 'SIGNED', 'BROADCAST', 'CONFIRMING'] as const;
/** Statuses of a lane's rows whose nonce is used for good, unless a reorg beyond finality undoes it. */
export const SETTLED_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED'] as const;

/** What the tracker reads of a lane's rows (not the stored 202 body, the request hash…): a pass reads every in-flight row of every lane. */
export const LANE_COLUMNS = ['id', 'status', 'chain_id', 'wallet', 'nonce', 'user_id', 'asset', 'amount', 'fee', 'to_address', 'tx_hash', 'block_number', 'block_hash', 'confirmations', 'failure_code', 'cancel_reason'] as const;

export type LaneRow = Pick<WithdrawalRow, (typeof LANE_COLUMNS)[number]>;

/**
 * A lane's lowest unsettled nonces (up to `limit` per status; the caller sorts and cuts), or,
 * asked so, its newest rows of other statuses: one index range per status on (chain_id, wallet,
 * status, nonce), joined by UNION ALL so it is still one statement and one snapshot. Its cost follows what is in flight, never the wallet's settled
 * history. Asked as `status IN (…) ORDER BY nonce LIMIT n`, SQLite's planner took the unique
 * (chain_id, wallet, nonce) index for its order instead and walked the wallet's settled nonces
 * from 0 to reach the first in flight: 2.6 ms a lane at 5,000 settled rows, growing with them.
 */
export function laneWindow(
  kysely: Kysely<Database>,
  chainId: number,
  wallet: string,
  limit = LANE_WINDOW,
  { statuses = LANE_STATUSES, newest = false }: { statuses?: readonly WithdrawalStatus[]; newest?: boolean } = {},
) {
  const range = (status: WithdrawalStatus) =>
    kysely
      .selectFrom((eb) =>
        eb
          .selectFrom('withdrawals')
          .select(LANE_COLUMNS)
          .where('chain_id', '=', chainId)
          .where('wallet', '=', wallet)
          .where('status', '=', status)
          .where('nonce', 'is not', null)
          .orderBy('nonce', newest ? 'desc' : 'asc')
          .limit(limit)
          .as('lane'),
      )
      .selectAll();
  const [first, ...rest] = statuses.map(range);
  return rest.reduce((union, next) => union.unionAll(next), first!);
}

/**
 * The same windows for many lanes of a chain in one statement: `wallet IN (…)` and `status IN (…)`
 * on the (chain_id, wallet, status, nonce) index are one range per (wallet, status), so its cost
 * too follows what is in flight. The index is named, not left to the planner: with a few
 * hundred thousand settled rows MariaDB chose (status, updated_at), which also walks every
 * unreserved RECEIVED row of a backlog, and on an empty table (chain_id, wallet, nonce), which
 * walks each wallet's settled history. There is no per-lane limit, only `limit` for all lanes:
 * the caller takes a result that reaches it as a sign that some lane holds more than its window
 * and reads the lanes one by one instead (laneWindow). One statement instead of one per lane,
 * each a UNION of four ranges: those were ~4% of `sluice dev`'s main thread at 400 payouts/s over
 * 32 lanes (bench e2e).
 */
export function lanesWindow(dialect: Db['dialect'], chainId: number, wallets: readonly string[], limit: number): RawBuilder<LaneRow> {
  const index = dialect === 'mysql' ? sql`FORCE INDEX (withdrawals_lane)` : sql`INDEXED BY withdrawals_lane`;
  return sql<LaneRow>`select ${sql.join(LANE_COLUMNS.map((c) => sql.ref(c)))} from withdrawals ${index}
    where chain_id = ${chainId} and wallet in (${sql.join(wallets)}) and status in (${sql.join(LANE_STATUSES)}) and nonce is not null
    limit ${limit}`;
}

/** A lane's window from its rows as read: the lowest LANE_WINDOW nonces, in nonce order. */
export function lowestNonces(rows: LaneRow[]): LaneRow[] {
  return rows.sort(byNonce).slice(0, LANE_WINDOW);
}

function byNonce(a: LaneRow, b: LaneRow): number {
  return Number(a.nonce) - Number(b.nonce);
}

/**
 * Each wallet's window from one lanesWindow read, or undefined when the read reached its limit:
 * it has no order, so a lane may then lack some of its lowest nonces, and a lane whose lowest
 * nonce is missed would look like it has a gap below it (which the tracker fills with cancels).
 */
export function splitLanes(rows: readonly LaneRow[], wallets: readonly string[], limit: number): Map<string, LaneRow[]> | undefined {
  if (rows.length >= limit) return undefined;
  const byWallet = new Map<string, LaneRow[]>(wallets.map((w) => [w, []]));
  for (const row of rows) byWallet.get(row.wallet!)?.push(row);
  for (const [wallet, lane] of byWallet) byWallet.set(wallet, lowestNonces(lane));
  return byWallet;
}

/**
 * Every (chain, wallet) with a tx in flight. Asked by status alone, not by chain: a chain_id
 * condition lets the planner take the (chain_id, wallet, …) index and walk the chain's whole
 * history (100 ms a tick at 1M settled rows); by status it reads only what is in flight.
 */
export function inFlightWallets(kysely: Kysely<Database>) {
  return kysely
    .selectFrom('withdrawals')
    .select(['chain_id', 'wallet'])
    .distinct()
    .where('status', 'in', ['SIGNED', 'BROADCAST', 'CONFIRMING'])
    .where('wallet', 'is not', null);
}
