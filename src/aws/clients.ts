import type { Config } from '../config/schema.js';
import { ConfigError } from '../config/load.js';

export type AwsService = 'sqs' | 'kms' | 'secretsManager';

export type AwsClientConfig = {
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
};

type AwsConfigKeys = 'awsRegion' | 'awsEndpointUrl' | 'awsEndpointUrlSqs' | 'awsEndpointUrlKms' | 'awsEndpointUrlSecretsManager';

const serviceEndpoint = {
  sqs: 'awsEndpointUrlSqs',
  kms: 'awsEndpointUrlKms',
  secretsManager: 'awsEndpointUrlSecretsManager',
} as const satisfies Record<AwsService, AwsConfigKeys>;

/**
 * Constructor options for an AWS SDK v3 client of `service`, from the one config (the SDK would read
 * the same variables itself, but config is read in one place and errors should name what to set).
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
  };
}

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host.startsWith('127.');
}
