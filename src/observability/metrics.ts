import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * One registry per process; each role registers what it does. Labels are bounded: chain ids,
 * assets, statuses, error codes, hot wallets and RPC endpoint names (host only, never a URL with
 * its key); never a withdrawal id, user id or recipient. README "Metrics" documents each one, and
 * deploy/ (alerts, dashboards) may only use names defined here (test/unit/deploy checks it).
 */
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
    hotWalletKeyUnusable: new Counter({
      name: 'sluice_hot_wallet_key_unusable_total',
      help: 'Times a hot wallet was left out of the pool because its key could not be read or signs for another address (checked again every 5 s while so)',
      labelNames: ['chain_id', 'wallet'],
      registers: [registry],
    }),
    hotWalletsBusy: new Counter({
      name: 'sluice_hot_wallets_busy_total',
      help: 'Times a withdrawal waited 10 s for a hot wallet under its in-flight limit and was handed back to the queue',
      labelNames: ['chain_id'],
      registers: [registry],
    }),
    feeCapReached: new Counter({
      name: 'sluice_fee_cap_reached_total',
      help: 'Fee bumps refused because the replacement would exceed the fee cap',
      labelNames: ['chain_id'],
      registers: [registry],
    }),
    signedAhead: new Counter({
      name: 'sluice_signer_signed_ahead_total',
      help: 'Payouts signed before the commit that takes their nonce: stored with it, or dropped unsent (the lane gave another nonce, or the withdrawal was not taken)',
      labelNames: ['chain_id', 'outcome'],
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
    trackerPass: new Histogram({
      name: 'sluice_tracker_pass_seconds',
      help: "Time the tracker took to look at every lane of a chain once; a receipt's way to COMPLETED waits up to two of these",
      labelNames: ['chain_id'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 2, 5, 10],
      registers: [registry],
    }),
    dbBatchSeconds: new Histogram({
      name: 'sluice_db_batch_seconds',
      help: "Time one batched write transaction took, from its start to its commit (lock waits, the SQLite write worker's queue and the commit's fsync included), by batch: intake, reserve, store, accept, move, confirm",
      labelNames: ['batch'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    dbBatchRows: new Counter({
      name: 'sluice_db_batch_rows_total',
      help: 'Items the batched write transactions carried, by batch (divided by sluice_db_batch_seconds_count: the mean batch size)',
      labelNames: ['batch'],
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

    // Pipeline state read from the database on each scrape (state-metrics.ts; tracker role and dev).
    withdrawalsTerminal: new Counter({
      name: 'sluice_withdrawals_terminal_total',
      help: 'Withdrawals that reached a terminal status (COMPLETED, REJECTED, FAILED, CANCELLED), seen since this process started',
      labelNames: ['status', 'asset', 'chain_id'],
      registers: [registry],
    }),
    timeToStatus: new Histogram({
      name: 'sluice_withdrawal_time_to_status_seconds',
      help: 'Time from acceptance (RECEIVED) to reaching a status: SIGNED, BROADCAST, CONFIRMING, COMPLETED (the SLA: BROADCAST within 30 s, COMPLETED within 5 min)',
      labelNames: ['status', 'chain_id'],
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 45, 60, 120, 180, 300, 600, 1800],
      registers: [registry],
    }),
    stageDuration: new Histogram({
      name: 'sluice_withdrawal_stage_duration_seconds',
      help: 'Time spent between two consecutive pipeline statuses: received_to_signed, signed_to_broadcast, broadcast_to_confirming, confirming_to_completed',
      labelNames: ['stage', 'chain_id'],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
      registers: [registry],
    }),
    withdrawalsInFlight: new Gauge({
      name: 'sluice_withdrawals_in_flight',
      help: 'Withdrawals currently in a non-terminal status',
      labelNames: ['status', 'chain_id'],
      registers: [registry],
    }),
    withdrawalOldestAge: new Gauge({
      name: 'sluice_withdrawal_oldest_age_seconds',
      help: 'Age (since acceptance) of the oldest withdrawal in each non-terminal status; RECEIVED/SIGNED ages are how long the oldest request waits in the TX Request / Signed TX queues',
      labelNames: ['status', 'chain_id'],
      registers: [registry],
    }),
    deadLettersOpen: new Gauge({
      name: 'sluice_dead_letters_open',
      help: 'Dead letters waiting for an operator (status open), by DLQ and reason code',
      labelNames: ['queue', 'code'],
      registers: [registry],
    }),
    workerErrors: new Counter({
      name: 'sluice_worker_errors_total',
      help: 'Signer and sender message deliveries that failed, by role and typed error code (retried or dead-lettered)',
      labelNames: ['role', 'code'],
      registers: [registry],
    }),
    hotWalletBalance: new Gauge({
      name: 'sluice_hot_wallet_balance',
      help: 'Hot wallet balance on chain, in whole units of the asset (ETH, USDT, …)',
      labelNames: ['chain_id', 'wallet', 'asset'],
      registers: [registry],
    }),
    hotWalletPending: new Gauge({
      name: 'sluice_hot_wallet_pending_txs',
      help: 'Withdrawals holding a nonce of this wallet that are not mined yet (SIGNED, BROADCAST)',
      labelNames: ['chain_id', 'wallet'],
      registers: [registry],
    }),
    hotWalletNonceDrift: new Gauge({
      name: 'sluice_hot_wallet_nonce_drift',
      help: "The wallet's next nonce in the database minus its pending nonce on chain: positive = signed txs the node does not hold yet, negative = the chain is ahead of Sluice (foreign txs)",
      labelNames: ['chain_id', 'wallet'],
      registers: [registry],
    }),
    hotWalletNonceGap: new Gauge({
      name: 'sluice_hot_wallet_nonce_gap',
      help: '1 when the nonce the chain waits for is below every unmined nonce Sluice holds for the wallet (nothing can be mined until it is filled)',
      labelNames: ['chain_id', 'wallet'],
      registers: [registry],
    }),
    dependencyUp: new Gauge({
      name: 'sluice_dependency_up',
      help: "1 if this process reaches the dependency (database, cache, queues, chain), as its readiness check saw it at the scrape",
      labelNames: ['dependency'],
      registers: [registry],
    }),
    dbServerSettingRisk: new Gauge({
      name: 'sluice_db_server_setting_risk',
      help: '1 for each MySQL server setting that puts committed withdrawals at risk (durability) or slows writes (throughput), as read at start-up and every minute; 0 once such a setting is fixed',
      labelNames: ['setting', 'risk'],
      registers: [registry],
    }),
    paused: new Gauge({
      name: 'sluice_paused',
      help: '1 while withdrawals are paused for this scope (global, or a chain id), with the time it has been paused in sluice_paused_since_seconds',
      labelNames: ['scope'],
      registers: [registry],
    }),
    pausedSince: new Gauge({
      name: 'sluice_paused_since_seconds',
      help: 'Unix time at which the scope was paused (absent while running)',
      labelNames: ['scope'],
      registers: [registry],
    }),
    stateCollectErrors: new Counter({
      name: 'sluice_state_collect_errors_total',
      help: 'Scrapes at which one part of the pipeline state could not be read (its gauges keep their last value)',
      labelNames: ['part'],
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
