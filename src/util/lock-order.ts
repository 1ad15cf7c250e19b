/**
 * The order batches lock users' balance rows in (user, asset, then withdrawal id): every batch that
 * holds or settles several withdrawals at once takes them in this order, so two batches running
 * side by side on MySQL never wait on each other in a cycle.
 */
export function byBalanceRow(a: { user_id: string; asset: string; id: string }, b: { user_id: string; asset: string; id: string }): number {
  return compare(a.user_id, b.user_id) || compare(a.asset, b.asset) || compare(a.id, b.id);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
