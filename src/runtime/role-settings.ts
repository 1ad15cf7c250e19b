import { ConfigError } from '../config/load.js';
import { type Config, envNames } from '../config/schema.js';

/** What a production process needs from outside, by what it runs. */
export type Needs = { redis: boolean; sqs: boolean };

/**
 * Refuses to start, naming every missing variable at once, when a production process lacks a
 * setting it needs. SQLite is refused too: it is one process's file (dev), and the row locks
 * that keep replicas apart exist only on MySQL.
 */
export function checkProductionSettings(config: Config, what: string, needs: Needs): void {
  const problems: string[] = [];
  if (!config.dbUrl) problems.push(`${envNames.dbUrl} is required (mysql://user:pass@host:3306/db).`);
  else if (!config.dbUrl.startsWith('mysql://')) problems.push(`${envNames.dbUrl} must be a mysql:// URL for ${what}: SQLite is for \`sluice dev\` (one process).`);
  if (needs.redis && !config.redisUrl) problems.push(`${envNames.redisUrl} is required (redis://host:6379).`);
  if (needs.sqs && !config.awsRegion) problems.push(`${envNames.awsRegion} is required (the region of the SQS queues).`);
  if (problems.length > 0) {
    throw new ConfigError(`Cannot start ${what}: missing or unusable settings.`, { code: 'missing_config', metaMessages: problems });
  }
}
