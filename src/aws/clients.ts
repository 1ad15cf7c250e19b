import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/load.js';

export type AwsService = 'sqs' | 'kms' | 'secretsManager';

export type AwsClientConfig = {
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true };
};

/**
 * The SDK waits forever by default, and its `requestTimeout` alone only prints a warning to the
 * console (@smithy/node-http-handler 4.x): without `throwOnRequestTimeout` a hung connection hangs
 * its caller, a signer's KMS call or a sender's SQS send, and with it a wallet lane. SQS allows 30 s
 * because a long poll takes up to 20 s; KMS and Secrets Manager answer in milliseconds.
 */
const REQUEST_TIMEOUTS = {
  sqs: { connectionTimeout: 5_000, requestTimeout: 30_000 },
  kms: { connectionTimeout: 3_000, requestTimeout: 10_000 },
  secretsManager: { connectionTimeout: 3_000, requestTimeout: 10_000 },
} as const satisfies Record<AwsService, { connectionTimeout: number; requestTimeout: number }>;

type AwsConfigKeys = 'awsRegion' | 'awsEndpointUrl' | 'awsEndpointUrlSqs' | 'awsEndpointUrlKms' | 'awsEndpointUrlSecretsManager';

const serviceEndpoint = {
  sqs: 'awsEndpointUrlSqs',
  kms: 'awsEndpointUrlKms',
  secretsManager: 'awsEndpointUrlSecretsManager',
} as const satisfies Record<AwsService, AwsConfigKeys>;

/**
 * Constructor options for an AWS SDK v3 client of `service`, with its timeouts, from the one config
 * (the SDK would read the same variables itself, but config is read in one place and errors should
 * name what to set).
 * Credentials are left to the SDK's default chain (env, profile, IRSA web identity, instance role),
 * except for an emulator on the loopback interface (moto), which accepts any and should not need them.
 */
export function awsClientConfig(config: Pick<Config, AwsConfigKeys>, service: AwsService): AwsClientConfig {
  if (!config.awsRegion) throw new ConfigError(`AWS_REGION is required to use ${service}.`, { code: 'invalid_config' });
  const endpoint = config[serviceEndpoint[service]] ?? config.awsEndpointUrl;
  return {
    region: config.awsRegion,
    ...(endpoint ? { endpoint } : {}),
    ...(endpoint && isLoopback(endpoint) ? { credentials: { accessKeyId: 'test', secretAccessKey: 'test' } } : {}),
    requestHandler: { ...REQUEST_TIMEOUTS[service], throwOnRequestTimeout: true },
  };
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}
