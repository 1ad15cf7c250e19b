/**
 * The API serves a settled withdrawal's view from the shared cache (clients poll it). Settled is
 * final but for one case: a reorg beyond the required confirmations reopens a COMPLETED payout,
 * and the tracker then drops the cached view, so the key lives here for both.
 */
export const settledViewKey = (withdrawalId: string) => `withdrawal-view:${withdrawalId}`;

export const SETTLED_VIEW_TTL_MS = 10 * 60_000;
