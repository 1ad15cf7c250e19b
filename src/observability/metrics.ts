import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** One registry per process; each role registers what it does. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sluice_process_' });

  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'sluice_http_request_duration_seconds',
      help: 'HTTP request duration by route and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5],
      registers: [registry],
    }),
    withdrawalsCreated: new Counter({
      name: 'sluice_withdrawals_created_total',
      help: 'Withdrawals accepted by the API (idempotent replays excluded)',
      labelNames: ['asset', 'chain_id'],
      registers: [registry],
    }),
    transitions: new Counter({
      name: 'sluice_withdrawal_transitions_total',
      help: 'Withdrawal status changes',
      labelNames: ['from', 'to'],
      registers: [registry],
    }),
    signed: new Counter({
      name: 'sluice_signer_signed_total',
      help: 'Transactions signed',
      labelNames: ['chain_id'],
      registers: [registry],
    }),
    broadcasts: new Counter({
      name: 'sluice_sender_broadcasts_total',
      help: 'Broadcast attempts by outcome',
      labelNames: ['chain_id', 'outcome'],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'sluice_dead_letters_total',
      help: 'Messages dead-lettered, by queue and reason code',
      labelNames: ['queue', 'code'],
      registers: [registry],
    }),
    requeued: new Counter({
      name: 'sluice_reconciler_requeued_total',
      help: 'Withdrawals re-enqueued by the reconciler',
      labelNames: ['status'],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'sluice_queue_depth',
      help: 'Messages in each queue',
      labelNames: ['queue'],
      registers: [registry],
    }),
    hotWalletShort: new Counter({
      name: 'sluice_hot_wallet_short_total',
      help: 'Times a withdrawal had to wait because its hot wallet could not cover payout + gas',
      labelNames: ['chain_id'],
      registers: [registry],
    }),
    hotWalletsBusy: new Counter({
      name: 'sluice_hot_wallets_busy_total',
      help: 'Times a withdrawal waited 10 s for a hot wallet under its in-flight limit and was handed back to the queue',
      labelNames: ['chain_id'],
      registers: [registry],
    }),
    walletPending: new Gauge({
      name: 'sluice_wallet_pending_txs',
      help: 'Transactions a hot wallet has signed or reserved and not yet mined, as the signer last saw them',
      labelNames: ['chain_id', 'wallet'],
      registers: [registry],
    }),
    feeCapReached: new Counter({
      name: 'sluice_fee_cap_reached_total',
      help: 'Fee bumps refused because the replacement would exceed the fee cap',
      labelNames: ['chain_id'],
      registers: [registry],
    }),
    replacements: new Counter({
      name: 'sluice_signer_replacements_total',
      help: 'Transactions signed again for a withdrawal: fee bumps, cancels, re-signs after a foreign nonce',
      labelNames: ['chain_id', 'kind'],
      registers: [registry],
    }),
    trackerActions: new Counter({
      name: 'sluice_tracker_actions_total',
      help: 'What the tracker did about in-flight txs: rebroadcast, bump_requested, cancel_requested, reorg, foreign_nonce, transfer_missing',
      labelNames: ['chain_id', 'action'],
      registers: [registry],
    }),
    rpcEndpointUp: new Gauge({
      name: 'sluice_rpc_endpoint_up',
      help: '1 if the endpoint takes reads (circuit closed, head current), 0 if open, half-open or lagging',
      labelNames: ['chain_id', 'endpoint', 'state'],
      registers: [registry],
    }),
    rpcEndpointLatency: new Gauge({
      name: 'sluice_rpc_endpoint_latency_seconds',
      help: 'Smoothed (EWMA) latency of successful calls per endpoint',
      labelNames: ['chain_id', 'endpoint'],
      registers: [registry],
    }),
    rpcEndpointErrorRate: new Gauge({
      name: 'sluice_rpc_endpoint_error_ratio',
      help: 'Share of failed calls per endpoint over the last minute',
      labelNames: ['chain_id', 'endpoint'],
      registers: [registry],
    }),
    rpcEndpointHeadLag: new Gauge({
      name: 'sluice_rpc_endpoint_head_lag_blocks',
      help: 'Blocks the endpoint head is behind the best head of its chain',
      labelNames: ['chain_id', 'endpoint'],
      registers: [registry],
    }),
    chainHead: new Gauge({
      name: 'sluice_chain_head_block',
      help: 'Latest block seen per chain',
      labelNames: ['chain_id'],
      registers: [registry],
    }),
    cacheErrors: new Counter({
      name: 'sluice_cache_errors_total',
      help: 'Cache (Redis) operations that failed or timed out and were answered as a miss / no-op / retryable error',
      labelNames: ['op'],
      registers: [registry],
    }),
    cacheUp: new Gauge({
      name: 'sluice_cache_up',
      help: '1 while the shared cache (Redis) answers, 0 while it is down (Sluice keeps working, slower)',
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'sluice_api_rate_limited_total',
      help: 'API requests refused with 429 by the per-key rate limit',
      labelNames: ['api_key'],
      registers: [registry],
    }),
    rateLimitFailOpen: new Counter({
      name: 'sluice_api_rate_limit_fail_open_total',
      help: 'API requests let through unchecked because the rate-limit counter (cache) was unavailable',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
