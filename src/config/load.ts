import { SluiceError } from '../errors/base.js';
import { type Config, configSchema, envNames } from './schema.js';

export class ConfigError extends SluiceError {
  override name = 'ConfigError';
}

/**
 * The only place that reads process.env. Values are trimmed and empty strings count as unset so `FOO= sluice dev`
 * behaves like leaving FOO out.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Config> = {},
): Config {
  const raw: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(envNames)) {
    const value = env[name]?.trim();
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = configSchema.safeParse({ ...raw, ...overrides });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = issue.path[0] as keyof Config | undefined;
      return `${key ? envNames[key] ?? key : 'config'}: ${issue.message}`;
    });
    throw new ConfigError('Invalid configuration.', { code: 'invalid_config', metaMessages: problems });
  }
  return parsed.data;
}
