import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { generateApiKey } from '../auth/api-keys.js';

/**
 * Dev-only secrets kept in the data dir (0600) so a restart prints the same credentials. Values
 * given by environment variables win and are never written here.
 */
export type DevSecrets = { apiKey: string; adminPassword: string; keystorePassword: string };

export function loadDevSecrets(
  dataDir: string,
  given: { apiKey?: string | undefined; adminPassword?: string | undefined; keystorePassword?: string | undefined },
): DevSecrets {
  const file = path.join(dataDir, 'dev-secrets.json');
  let stored: Partial<DevSecrets> = {};
  if (fs.existsSync(file)) stored = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<DevSecrets>;
  const generated: Partial<DevSecrets> = {
    apiKey: stored.apiKey ?? generateApiKey(),
    adminPassword: stored.adminPassword ?? randomBytes(12).toString('base64url'),
    keystorePassword: stored.keystorePassword ?? randomBytes(24).toString('base64url'),
  };
  if (JSON.stringify(generated) !== JSON.stringify(stored)) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(generated, null, 2), { mode: 0o600 });
  }
  return {
    apiKey: given.apiKey ?? generated.apiKey!,
    adminPassword: given.adminPassword ?? generated.adminPassword!,
    keystorePassword: given.keystorePassword ?? generated.keystorePassword!,
  };
}
