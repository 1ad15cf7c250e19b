import { describe, expect, it } from 'vitest';
import { SluiceError } from '../errors/base.js';
import { ConfigError, loadConfig } from './load.js';
import { envNames } from './schema.js';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      host: '127.0.0.1',
      port: 8080,
      dataDir: './data',
      logLevel: 'info',
      logSync: false,
      bodyLimitBytes: 16 * 1024,
      anvilBlockTime: 1,
      devnetConfirmations: 2,
      devHotWallets: 1,
      devnetMaxPendingPerWallet: 64,
      maxFeePerGasGwei: '500',
      priorityFeeGwei: '1',
      rebroadcastAfterSeconds: 30,
      feeBumpAfterSeconds: 120,
      feeBumpPercent: 12.5,
      maxRecipientGas: 500_000,
      rpcTimeoutMs: 10_000,
      rpcMaxHeadLagBlocks: 5,
      reconcileAfterSeconds: 30,
      reconcileIntervalMs: 5_000,
      trackerIntervalMs: 1_000,
      trackerHeadPollMs: 200,
      senderMaxAttempts: 8,
      signerMaxAttempts: 10,
      signerConcurrency: 1024,
      senderConcurrency: 256,
      testDuplicateDeliveryRate: 0,
      nodeEnv: 'development',
      healthPort: 9090,
      dbPoolSize: 10,
      dbQueryTimeoutMs: 60_000,
      shutdownTimeoutMs: 25_000,
      heapGrowthPercent: 50,
      rateLimitPerSecond: 2_000,
      queuePrefix: 'sluice',
      queueVisibilitySeconds: 30,
      queuePollWaitSeconds: 20,
      secretsCacheTtlSeconds: 300,
      adminSessionIdleSeconds: 1800,
      adminSessionMaxSeconds: 43_200,
      adminLockoutAttempts: 5,
      adminLockoutWindowSeconds: 900,
      settingsCacheMs: 500,
    });
  });

  it('reads SLUICE_TRUST_PROXY as Fastify takes it: true, a hop count, or addresses', () => {
    expect(loadConfig({ SLUICE_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ SLUICE_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadConfig({ SLUICE_TRUST_PROXY: '10.0.0.0/8,127.0.0.1' }).trustProxy).toBe('10.0.0.0/8,127.0.0.1');
    expect(loadConfig({}).trustProxy).toBeUndefined();
  });

  it('takes a comma-separated list of dev node endpoints and refuses a malformed one', () => {
    expect(loadConfig({ SLUICE_DEVNET_RPC_URL: 'http://a:8545,http://b:8545#3' }).devnetRpcUrl).toBe('http://a:8545,http://b:8545#3');
    expect(() => loadConfig({ SLUICE_DEVNET_RPC_URL: 'http://a:8545,not a url' })).toThrow(/SLUICE_DEVNET_RPC_URL/);
  });

  it('refuses a fee bump below what geth needs to replace a transaction', () => {
    expect(() => loadConfig({ SLUICE_FEE_BUMP_PERCENT: '5' })).toThrow(/SLUICE_FEE_BUMP_PERCENT/);
  });

  it('has no defaults for secrets and optional settings', () => {
    const config = loadConfig({});
    expect(config.keystorePassword).toBeUndefined();
    expect(config.devApiKey).toBeUndefined();
    expect(config.devAdminPassword).toBeUndefined();
    expect(config.dbUrl).toBeUndefined();
    expect(config.devnetRpcUrl).toBeUndefined();
    expect(config.crashAt).toBeUndefined();
  });

  it('reads secrets when set', () => {
    const config = loadConfig({ SLUICE_KEYSTORE_PASSWORD: 'hunter2', SLUICE_DEV_API_KEY: 'k', SLUICE_DEV_ADMIN_PASSWORD: 'p' });
    expect(config.keystorePassword).toBe('hunter2');
    expect(config.devApiKey).toBe('k');
    expect(config.devAdminPassword).toBe('p');
  });

  it('parses numeric variables into numbers', () => {
    const config = loadConfig({ SLUICE_PORT: '9090', SLUICE_SIGNER_CONCURRENCY: '4', SLUICE_BODY_LIMIT_BYTES: '1024' });
    expect(config.port).toBe(9090);
    expect(typeof config.port).toBe('number');
    expect(config.signerConcurrency).toBe(4);
    expect(config.bodyLimitBytes).toBe(1024);
  });

  it('accepts port 0 (pick a free port)', () => {
    expect(loadConfig({ SLUICE_PORT: '0' }).port).toBe(0);
  });

  it('reads string and enum variables', () => {
    const config = loadConfig({
      SLUICE_HOST: '0.0.0.0',
      SLUICE_DATA_DIR: '/var/sluice',
      SLUICE_DB_URL: 'mysql://u:p@db:3306/sluice',
      SLUICE_LOG_LEVEL: 'debug',
      SLUICE_CRASH_AT: 'after-broadcast',
      SLUICE_DEVNET_RPC_URL: 'http://127.0.0.1:8545',
      SLUICE_MAX_FEE_PER_GAS_GWEI: '12.5',
    });
    expect(config.host).toBe('0.0.0.0');
    expect(config.dataDir).toBe('/var/sluice');
    expect(config.dbUrl).toBe('mysql://u:p@db:3306/sluice');
    expect(config.logLevel).toBe('debug');
    expect(config.crashAt).toBe('after-broadcast');
    expect(config.devnetRpcUrl).toBe('http://127.0.0.1:8545');
    expect(config.maxFeePerGasGwei).toBe('12.5');
    expect(loadConfig({ SLUICE_DB_URL: 'sqlite:./x.db' }).dbUrl).toBe('sqlite:./x.db');
  });

  it('SLUICE_LOG_FORMAT is json or pretty, unset by default (each command picks its own)', () => {
    expect(loadConfig({ SLUICE_LOG_FORMAT: 'json' }).logFormat).toBe('json');
    expect(loadConfig({ SLUICE_LOG_FORMAT: 'pretty' }).logFormat).toBe('pretty');
    expect(loadConfig({}).logFormat).toBeUndefined();
    expect(() => loadConfig({ SLUICE_LOG_FORMAT: 'xml' })).toThrow(/SLUICE_LOG_FORMAT/);
  });

  it('trims values, so whitespace alone counts as unset rather than port 0', () => {
    expect(loadConfig({ SLUICE_PORT: '  ' }).port).toBe(8080);
    expect(loadConfig({ SLUICE_PORT: ' 9090 ' }).port).toBe(9090);
  });

  it('treats empty strings as unset', () => {
    const config = loadConfig({
      SLUICE_PORT: '',
      SLUICE_HOST: '',
      SLUICE_DB_URL: '',
      SLUICE_KEYSTORE_PASSWORD: '',
      SLUICE_CRASH_AT: '',
      SLUICE_LOG_LEVEL: '',
    });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.dbUrl).toBeUndefined();
    expect(config.keystorePassword).toBeUndefined();
    expect(config.crashAt).toBeUndefined();
    expect(config.logLevel).toBe('info');
  });

  it('ignores environment variables it does not know', () => {
    const config = loadConfig({ PORT: '1234', SLUICE_UNKNOWN: 'x' });
    expect(config.port).toBe(8080);
    expect(config).not.toHaveProperty('SLUICE_UNKNOWN');
  });

  it.each([
    ['SLUICE_PORT', 'abc'],
    ['SLUICE_PORT', '70000'],
    ['SLUICE_PORT', '-1'],
    ['SLUICE_PORT', '80.5'],
    ['SLUICE_DB_URL', 'postgres://x'],
    ['SLUICE_CRASH_AT', 'bogus'],
    ['SLUICE_LOG_LEVEL', 'loud'],
    ['SLUICE_SIGNER_CONCURRENCY', '0'],
    ['SLUICE_HEAP_GROWTH_PERCENT', '-1'],
    ['SLUICE_HEAP_GROWTH_PERCENT', '12.5'],
    ['SLUICE_MAX_FEE_PER_GAS_GWEI', '1.1234567891'],
    ['SLUICE_MAX_FEE_PER_GAS_GWEI', '-5'],
    ['SLUICE_DEVNET_RPC_URL', 'not a url'],
  ])('rejects %s=%s with a ConfigError naming the variable', (name, value) => {
    const err = configError(() => loadConfig({ [name]: value }));
    expect(err).toBeInstanceOf(SluiceError);
    expect(err.name).toBe('ConfigError');
    expect(err.code).toBe('invalid_config');
    expect(err.shortMessage).toBe('Invalid configuration.');
    expect(err.message).toMatch(new RegExp(`^${name}: `, 'm'));
  });

  it('names every invalid variable, and only those', () => {
    const err = configError(() => loadConfig({ SLUICE_PORT: 'abc', SLUICE_CRASH_AT: 'bogus', SLUICE_HOST: 'fine' }));
    const problems = err.message.split('\n').slice(1);
    expect(problems).toHaveLength(2);
    expect(problems.some((l) => l.startsWith('SLUICE_PORT: '))).toBe(true);
    expect(problems.some((l) => l.startsWith('SLUICE_CRASH_AT: '))).toBe(true);
  });

  it('does not echo a rejected secret-looking value for a failing URL', () => {
    const err = configError(() => loadConfig({ SLUICE_DB_URL: 'postgres://user:s3cret@host/db' }));
    expect(err.message).toContain('SLUICE_DB_URL');
    expect(err.message).not.toContain('s3cret');
  });

  it('lets overrides win over the environment', () => {
    const config = loadConfig(
      { SLUICE_PORT: '9000', SLUICE_HOST: '0.0.0.0', SLUICE_LOG_LEVEL: 'debug' },
      { port: 0, logLevel: 'warn' },
    );
    expect(config.port).toBe(0);
    expect(config.logLevel).toBe('warn');
    expect(config.host).toBe('0.0.0.0'); // not overridden
  });

  it('validates overrides too, naming the variable of the bad key', () => {
    const err = configError(() => loadConfig({}, { port: 99_999 }));
    expect(err.message).toMatch(/^SLUICE_PORT: /m);
  });

  it('maps every config key to a distinct SLUICE_ variable, or a standard one (NODE_ENV, the AWS SDK\'s)', () => {
    const names = Object.values(envNames);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^(SLUICE_[A-Z_]+|NODE_ENV|AWS_REGION|AWS_ENDPOINT_URL(_[A-Z_]+)?)$/);
    const everySet = {
      SLUICE_DB_URL: 'sqlite:x', SLUICE_LOG_FORMAT: 'json', SLUICE_DEVNET_RPC_URL: 'http://h', SLUICE_DEV_API_KEY: 'k', SLUICE_DEV_ADMIN_PASSWORD: 'p', SLUICE_KEYSTORE_PASSWORD: 'w', SLUICE_CRASH_AT: 'after-sign',
      SLUICE_REDIS_URL: 'redis://h:6379', SLUICE_TX_REQUEST_QUEUE_URL: 'http://q/1', SLUICE_SIGNED_TX_QUEUE_URL: 'http://q/2', SLUICE_INVALID_DLQ_URL: 'http://q/3', SLUICE_TX_DLQ_URL: 'http://q/4',
      AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: 'http://m', AWS_ENDPOINT_URL_SQS: 'http://m', AWS_ENDPOINT_URL_KMS: 'http://m', AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://m',
      SLUICE_CONSOLE_DIR: '/srv/console',
      SLUICE_TRUST_PROXY: '1',
    };
    expect(Object.keys(envNames).sort()).toEqual(Object.keys(loadConfig(everySet)).sort());
  });
});
