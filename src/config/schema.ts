import { z } from 'zod';

/**
 * The one configuration schema. Every knob Sluice has is here, with its environment variable,
 * default and meaning; README.md documents the same list. Secrets have no defaults.
 */
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const optionalSecret = z.string().min(1).optional();

export const configSchema = z.object({
  /** SLUICE_HOST: interface the HTTP server binds to. */
  host: z.string().default('127.0.0.1'),
  /** SLUICE_PORT: HTTP port for API, docs, console and metrics. */
  port: port.default(8080),
  /** SLUICE_DATA_DIR: where dev mode keeps SQLite, keystore and anvil state. */
  dataDir: z.string().default('./data'),
  /** SLUICE_DB_URL: `sqlite:<path>` or `mysql://user:pass@host:port/db`; dev default is SQLite in the data dir. */
  dbUrl: z.string().regex(/^(sqlite:|mysql:\/\/)/, 'must start with sqlite: or mysql://').optional(),
  /** SLUICE_LOG_LEVEL */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * SLUICE_LOG_FORMAT: `json` (one JSON object per line, for Logstash) or `pretty` (one human line
   * each). Unset: `sluice dev` on a terminal is pretty, everything else (production roles) is JSON.
   */
  logFormat: z.enum(['json', 'pretty']).optional(),
  /**
   * SLUICE_LOG_SYNC: `true` writes each JSON line to stdout before the logging call returns. By
   * default lines go out by asynchronous writes, off the event loop, and are flushed at exit; a
   * process killed with SIGKILL loses the last few milliseconds of lines.
   */
  logSync: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  /** SLUICE_BODY_LIMIT_BYTES: larger request bodies get 413. */
  bodyLimitBytes: positiveInt.default(16 * 1024),

  /**
   * SLUICE_DEVNET_RPC_URL: use this running dev node (anvil or hardhat) instead of starting anvil.
   * A comma-separated list names several endpoints of the same chain (failover, `url` or `url#weight`).
   */
  devnetRpcUrl: z
    .string()
    .refine((v) => v.split(',').every((part) => URL.canParse(part.trim().replace(/#\d+$/, ''))), 'must be a URL or a comma-separated list of URLs')
    .optional(),
  /** SLUICE_ANVIL_BLOCK_TIME: seconds between blocks of the anvil that dev mode starts. */
  anvilBlockTime: positiveInt.default(1),
  /** SLUICE_DEV_HOT_WALLETS: hot wallets (nonce lanes) dev mode keeps on its chain. */
  devHotWallets: positiveInt.max(64).default(1),
  /** SLUICE_DEVNET_MAX_PENDING_PER_WALLET: txs one dev hot wallet may have in flight (anvil has no per-sender pool limit). */
  devnetMaxPendingPerWallet: positiveInt.max(100_000).default(64),
  /** SLUICE_DEVNET_CONFIRMATIONS: confirmations required on the dev chain before COMPLETED. */
  devnetConfirmations: positiveInt.default(2),
  /** SLUICE_DEV_API_KEY: dev API key with every scope; generated and printed when unset. */
  devApiKey: optionalSecret,
  /** SLUICE_DEV_ADMIN_PASSWORD: password of the `admin` console user in dev; generated when unset. */
  devAdminPassword: optionalSecret,
  /** SLUICE_KEYSTORE_PASSWORD: decrypts the keystore files. Required outside dev mode. */
  keystorePassword: optionalSecret,

  /** SLUICE_MAX_FEE_PER_GAS_GWEI: hard cap on maxFeePerGas for every tx Sluice signs. */
  maxFeePerGasGwei: z.string().regex(/^\d+(\.\d{1,9})?$/).default('500'),
  /** SLUICE_PRIORITY_FEE_GWEI: tip used when the node cannot suggest one. */
  priorityFeeGwei: z.string().regex(/^\d+(\.\d{1,9})?$/).default('1'),

  /** SLUICE_REBROADCAST_AFTER_SECONDS: a pending tx not mined this long after its last broadcast is sent again (same bytes). */
  rebroadcastAfterSeconds: z.coerce.number().positive().default(30),
  /** SLUICE_FEE_BUMP_AFTER_SECONDS: a pending tx not mined this long after signing is replaced at its nonce with higher fees. */
  feeBumpAfterSeconds: z.coerce.number().positive().default(120),
  /** SLUICE_FEE_BUMP_PERCENT: minimum raise of both fee fields per replacement (geth needs 10). */
  feeBumpPercent: z.coerce.number().min(10).max(1000).default(12.5),
  /** SLUICE_MAX_RECIPIENT_GAS: gas ceiling for a native payout to a contract recipient; above it the withdrawal is refused. */
  maxRecipientGas: z.coerce.number().int().min(21_000).default(500_000),
  /** SLUICE_RPC_TIMEOUT_MS: an RPC call with no answer after this long counts as a failure of that endpoint. */
  rpcTimeoutMs: positiveInt.default(10_000),
  /** SLUICE_RPC_MAX_HEAD_LAG_BLOCKS: an endpoint this many blocks behind the best head gets no reads. */
  rpcMaxHeadLagBlocks: positiveInt.default(5),

  /** SLUICE_RECONCILE_AFTER_SECONDS: RECEIVED/SIGNED withdrawals untouched this long are re-enqueued. */
  reconcileAfterSeconds: positiveInt.default(30),
  /** SLUICE_RECONCILE_INTERVAL_MS */
  reconcileIntervalMs: positiveInt.default(5_000),
  /** SLUICE_TRACKER_INTERVAL_MS: the longest the tracker waits between passes over what is in flight (rebroadcasts, bumps and stuck lanes are timed by it). */
  trackerIntervalMs: positiveInt.default(1_000),
  /**
   * SLUICE_TRACKER_HEAD_POLL_MS: between passes, how often the tracker asks each chain for its
   * head (one eth_blockNumber per endpoint); a new block starts the next pass at once, so a
   * receipt is seen this soon after its block, not up to a whole interval later. At or above the
   * interval: off.
   */
  trackerHeadPollMs: positiveInt.default(200),
  /** SLUICE_SENDER_MAX_ATTEMPTS: deliveries of one broadcast that fail transiently before the sender lets go (the tracker rebroadcasts). */
  senderMaxAttempts: positiveInt.default(8),
  /** SLUICE_SIGNER_MAX_ATTEMPTS: deliveries of one signing request that fail before it is given up (transient: the reconciler retries; otherwise Invalid DLQ). */
  signerMaxAttempts: positiveInt.default(10),
  /** SLUICE_SIGNER_CONCURRENCY / SLUICE_SENDER_CONCURRENCY: messages handled at once per worker. */
  signerConcurrency: positiveInt.default(1024),
  senderConcurrency: positiveInt.default(256),

  /** NODE_ENV: `production` refuses raw private keys (keystore files, keys in env): KMS or Secrets Manager only. */
  nodeEnv: z.string().default('development'),
  /** SLUICE_HEALTH_PORT: port of /healthz, /readyz and /metrics on worker roles (signer, sender, tracker); 0 = any free port. */
  healthPort: port.default(9090),
  /** SLUICE_DB_POOL_SIZE: MySQL connections per process. */
  dbPoolSize: positiveInt.max(500).default(10),
  /**
   * SLUICE_DB_QUERY_TIMEOUT_MS: MySQL statements unanswered after this long fail as transient and
   * drop their connection (a server gone silent would otherwise hang them ~15 min); 0 = no limit.
   * Above InnoDB's 50 s lock wait, so a statement waiting on a lock gets the server's own error first.
   */
  dbQueryTimeoutMs: z.coerce.number().int().min(0).default(60_000),
  /** SLUICE_HEAP_GROWTH_PERCENT: how far the JS heap may grow past its live set before a full collection (runtime/heap.ts); 0 = V8's own heuristic. */
  heapGrowthPercent: z.coerce.number().int().min(0).max(1_000).default(50),
  /** SLUICE_SHUTDOWN_TIMEOUT_MS: after SIGTERM, how long in-flight work may take before it is released and the process exits. */
  shutdownTimeoutMs: positiveInt.default(25_000),

  /** SLUICE_REDIS_URL: `redis://host:6379/0`; shared cache, RPC health and rate limits. Required by production roles. */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  /** SLUICE_RATE_LIMIT_PER_SECOND: requests per second per API key before 429 (0 = off). */
  rateLimitPerSecond: z.coerce.number().int().min(0).default(2_000),

  /** SLUICE_QUEUE_PREFIX: SQS queue names are `<prefix>-tx-requests`, `<prefix>-signed-tx.fifo`, … */
  queuePrefix: z.string().regex(/^[\w-]{1,40}$/, 'letters, digits, - and _ only (max 40)').default('sluice'),
  /** SLUICE_TX_REQUEST_QUEUE_URL / SLUICE_SIGNED_TX_QUEUE_URL / SLUICE_INVALID_DLQ_URL / SLUICE_TX_DLQ_URL: explicit SQS queue URLs (else looked up by name from the prefix). */
  txRequestQueueUrl: z.string().url().optional(),
  signedTxQueueUrl: z.string().url().optional(),
  invalidDlqUrl: z.string().url().optional(),
  txDlqUrl: z.string().url().optional(),
  /** SLUICE_QUEUE_VISIBILITY_SECONDS: SQS visibility timeout; extended while a message is being worked on. */
  queueVisibilitySeconds: positiveInt.max(43_200).default(30),

  /**
   * SLUICE_QUEUE_POLL_WAIT_SECONDS: longest wait of one SQS long poll. 20 is right for SQS, which
   * answers as soon as a message arrives; moto_server does not for FIFO queues (a message that
   * becomes receivable mid-poll waits for the poll to end), so local setups on moto use 1.
   */
  queuePollWaitSeconds: z.coerce.number().int().min(0).max(20).default(20),
  /** AWS_REGION: region of SQS, KMS and Secrets Manager. Required by roles that use them. */
  awsRegion: z.string().min(1).optional(),
  /** AWS_ENDPOINT_URL (and the per-service AWS_ENDPOINT_URL_SQS / _KMS / _SECRETS_MANAGER): e.g. moto_server locally. */
  awsEndpointUrl: z.string().url().optional(),
  awsEndpointUrlSqs: z.string().url().optional(),
  awsEndpointUrlKms: z.string().url().optional(),
  awsEndpointUrlSecretsManager: z.string().url().optional(),
  /** SLUICE_SECRETS_CACHE_TTL_SECONDS: how long the signer keeps a key read from Secrets Manager in memory. */
  secretsCacheTtlSeconds: positiveInt.default(300),

  /** SLUICE_ADMIN_SESSION_IDLE_SECONDS: a console session unused this long ends. */
  adminSessionIdleSeconds: positiveInt.default(30 * 60),
  /** SLUICE_ADMIN_SESSION_MAX_SECONDS: a console session ends this long after login, however busy. */
  adminSessionMaxSeconds: positiveInt.default(12 * 3600),
  /** SLUICE_ADMIN_LOCKOUT_ATTEMPTS: failed logins per username or IP within the window before 429. */
  adminLockoutAttempts: positiveInt.default(5),
  /** SLUICE_ADMIN_LOCKOUT_WINDOW_SECONDS: the window failed logins are counted over. */
  adminLockoutWindowSeconds: positiveInt.default(15 * 60),
  /** SLUICE_SETTINGS_CACHE_MS: how long a process may use pause switches it read (the signer honours a pause within this). */
  settingsCacheMs: z.coerce.number().int().min(0).max(1_000).default(500),
  /**
   * SLUICE_TRUST_PROXY: behind a load balancer, trust its X-Forwarded-For so login lockout counts
   * the client's IP, not the balancer's: `true`, a hop count, or a comma-separated list of proxy
   * addresses/CIDRs (Fastify's trustProxy). Unset: the socket's peer address.
   */
  trustProxy: z
    .string()
    .min(1)
    .transform((v): boolean | number | string => (v === 'true' ? true : v === 'false' ? false : /^\d+$/.test(v) ? Number(v) : v))
    .optional(),
  /** SLUICE_CONSOLE_DIR: the built operator console served at /admin (default: admin/dist of this install). */
  consoleDir: z.string().min(1).optional(),

  /** SLUICE_TEST_DUPLICATE_DELIVERY_RATE: test-only; the in-process queues deliver this share of messages twice. */
  testDuplicateDeliveryRate: z.coerce.number().min(0).max(1).default(0),
  /** SLUICE_CRASH_AT: test-only fault injection; the process SIGKILLs itself at that point. */
  crashAt: z.enum(['after-reserve', 'signed-ahead', 'after-sign', 'after-broadcast']).optional(),
});

export type Config = z.infer<typeof configSchema>;

/** Environment variable for each key, so errors and docs name what the operator actually sets. */
export const envNames: Record<keyof Config, string> = {
  host: 'SLUICE_HOST',
  port: 'SLUICE_PORT',
  dataDir: 'SLUICE_DATA_DIR',
  dbUrl: 'SLUICE_DB_URL',
  logLevel: 'SLUICE_LOG_LEVEL',
  logFormat: 'SLUICE_LOG_FORMAT',
  logSync: 'SLUICE_LOG_SYNC',
  bodyLimitBytes: 'SLUICE_BODY_LIMIT_BYTES',
  devnetRpcUrl: 'SLUICE_DEVNET_RPC_URL',
  anvilBlockTime: 'SLUICE_ANVIL_BLOCK_TIME',
  devnetConfirmations: 'SLUICE_DEVNET_CONFIRMATIONS',
  devHotWallets: 'SLUICE_DEV_HOT_WALLETS',
  devnetMaxPendingPerWallet: 'SLUICE_DEVNET_MAX_PENDING_PER_WALLET',
  rebroadcastAfterSeconds: 'SLUICE_REBROADCAST_AFTER_SECONDS',
  feeBumpAfterSeconds: 'SLUICE_FEE_BUMP_AFTER_SECONDS',
  feeBumpPercent: 'SLUICE_FEE_BUMP_PERCENT',
  maxRecipientGas: 'SLUICE_MAX_RECIPIENT_GAS',
  rpcTimeoutMs: 'SLUICE_RPC_TIMEOUT_MS',
  rpcMaxHeadLagBlocks: 'SLUICE_RPC_MAX_HEAD_LAG_BLOCKS',
  devApiKey: 'SLUICE_DEV_API_KEY',
  devAdminPassword: 'SLUICE_DEV_ADMIN_PASSWORD',
  keystorePassword: 'SLUICE_KEYSTORE_PASSWORD',
  maxFeePerGasGwei: 'SLUICE_MAX_FEE_PER_GAS_GWEI',
  priorityFeeGwei: 'SLUICE_PRIORITY_FEE_GWEI',
  reconcileAfterSeconds: 'SLUICE_RECONCILE_AFTER_SECONDS',
  reconcileIntervalMs: 'SLUICE_RECONCILE_INTERVAL_MS',
  trackerIntervalMs: 'SLUICE_TRACKER_INTERVAL_MS',
  trackerHeadPollMs: 'SLUICE_TRACKER_HEAD_POLL_MS',
  senderMaxAttempts: 'SLUICE_SENDER_MAX_ATTEMPTS',
  signerMaxAttempts: 'SLUICE_SIGNER_MAX_ATTEMPTS',
  signerConcurrency: 'SLUICE_SIGNER_CONCURRENCY',
  senderConcurrency: 'SLUICE_SENDER_CONCURRENCY',
  nodeEnv: 'NODE_ENV',
  healthPort: 'SLUICE_HEALTH_PORT',
  dbPoolSize: 'SLUICE_DB_POOL_SIZE',
  dbQueryTimeoutMs: 'SLUICE_DB_QUERY_TIMEOUT_MS',
  shutdownTimeoutMs: 'SLUICE_SHUTDOWN_TIMEOUT_MS',
  heapGrowthPercent: 'SLUICE_HEAP_GROWTH_PERCENT',
  redisUrl: 'SLUICE_REDIS_URL',
  rateLimitPerSecond: 'SLUICE_RATE_LIMIT_PER_SECOND',
  queuePrefix: 'SLUICE_QUEUE_PREFIX',
  txRequestQueueUrl: 'SLUICE_TX_REQUEST_QUEUE_URL',
  signedTxQueueUrl: 'SLUICE_SIGNED_TX_QUEUE_URL',
  invalidDlqUrl: 'SLUICE_INVALID_DLQ_URL',
  txDlqUrl: 'SLUICE_TX_DLQ_URL',
  queueVisibilitySeconds: 'SLUICE_QUEUE_VISIBILITY_SECONDS',
  queuePollWaitSeconds: 'SLUICE_QUEUE_POLL_WAIT_SECONDS',
  awsRegion: 'AWS_REGION',
  awsEndpointUrl: 'AWS_ENDPOINT_URL',
  awsEndpointUrlSqs: 'AWS_ENDPOINT_URL_SQS',
  awsEndpointUrlKms: 'AWS_ENDPOINT_URL_KMS',
  awsEndpointUrlSecretsManager: 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  secretsCacheTtlSeconds: 'SLUICE_SECRETS_CACHE_TTL_SECONDS',
  adminSessionIdleSeconds: 'SLUICE_ADMIN_SESSION_IDLE_SECONDS',
  adminSessionMaxSeconds: 'SLUICE_ADMIN_SESSION_MAX_SECONDS',
  adminLockoutAttempts: 'SLUICE_ADMIN_LOCKOUT_ATTEMPTS',
  adminLockoutWindowSeconds: 'SLUICE_ADMIN_LOCKOUT_WINDOW_SECONDS',
  settingsCacheMs: 'SLUICE_SETTINGS_CACHE_MS',
  consoleDir: 'SLUICE_CONSOLE_DIR',
  trustProxy: 'SLUICE_TRUST_PROXY',
  testDuplicateDeliveryRate: 'SLUICE_TEST_DUPLICATE_DELIVERY_RATE',
  crashAt: 'SLUICE_CRASH_AT',
};
