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
  /** SLUICE_LOG_PRETTY: human-readable one-line logs instead of JSON (dev). */
  logPretty: z.coerce.boolean().default(false),
  /** SLUICE_BODY_LIMIT_BYTES: larger request bodies get 413. */
  bodyLimitBytes: positiveInt.default(16 * 1024),

  /** SLUICE_DEVNET_RPC_URL: use this running dev node (anvil or hardhat) instead of starting anvil. */
  devnetRpcUrl: z.string().url().optional(),
  /** SLUICE_ANVIL_BLOCK_TIME: seconds between blocks of the anvil that dev mode starts. */
  anvilBlockTime: positiveInt.default(1),
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

  /** SLUICE_RECONCILE_AFTER_SECONDS: RECEIVED/SIGNED withdrawals untouched this long are re-enqueued. */
  reconcileAfterSeconds: positiveInt.default(30),
  /** SLUICE_RECONCILE_INTERVAL_MS */
  reconcileIntervalMs: positiveInt.default(5_000),
  /** SLUICE_TRACKER_INTERVAL_MS: how often the tracker polls receipts. */
  trackerIntervalMs: positiveInt.default(1_000),
  /** SLUICE_SENDER_MAX_ATTEMPTS: transient broadcast failures before the TX DLQ. */
  senderMaxAttempts: positiveInt.default(8),
  /** SLUICE_SIGNER_CONCURRENCY / SLUICE_SENDER_CONCURRENCY: messages handled at once per worker. */
  signerConcurrency: positiveInt.default(16),
  senderConcurrency: positiveInt.default(16),

  /** SLUICE_CRASH_AT: test-only fault injection; the process SIGKILLs itself at that point. */
  crashAt: z.enum(['after-sign', 'after-broadcast']).optional(),
});

export type Config = z.infer<typeof configSchema>;

/** Environment variable for each key, so errors and docs name what the operator actually sets. */
export const envNames: Record<keyof Config, string> = {
  host: 'SLUICE_HOST',
  port: 'SLUICE_PORT',
  dataDir: 'SLUICE_DATA_DIR',
  dbUrl: 'SLUICE_DB_URL',
  logLevel: 'SLUICE_LOG_LEVEL',
  logPretty: 'SLUICE_LOG_PRETTY',
  bodyLimitBytes: 'SLUICE_BODY_LIMIT_BYTES',
  devnetRpcUrl: 'SLUICE_DEVNET_RPC_URL',
  anvilBlockTime: 'SLUICE_ANVIL_BLOCK_TIME',
  devnetConfirmations: 'SLUICE_DEVNET_CONFIRMATIONS',
  devApiKey: 'SLUICE_DEV_API_KEY',
  devAdminPassword: 'SLUICE_DEV_ADMIN_PASSWORD',
  keystorePassword: 'SLUICE_KEYSTORE_PASSWORD',
  maxFeePerGasGwei: 'SLUICE_MAX_FEE_PER_GAS_GWEI',
  priorityFeeGwei: 'SLUICE_PRIORITY_FEE_GWEI',
  reconcileAfterSeconds: 'SLUICE_RECONCILE_AFTER_SECONDS',
  reconcileIntervalMs: 'SLUICE_RECONCILE_INTERVAL_MS',
  trackerIntervalMs: 'SLUICE_TRACKER_INTERVAL_MS',
  senderMaxAttempts: 'SLUICE_SENDER_MAX_ATTEMPTS',
  signerConcurrency: 'SLUICE_SIGNER_CONCURRENCY',
  senderConcurrency: 'SLUICE_SENDER_CONCURRENCY',
  crashAt: 'SLUICE_CRASH_AT',
};
