/** `sluice config apply`: the deployment file (chains, assets, hot wallets) → the database. See docs/config-file.md. */
export { applyDeploymentConfig, type ApplyDeploymentInput } from './apply.js';
export type { Change, ChangeAction, ChangeEntity, FieldChange } from './diff.js';
export { DeploymentConfigError } from './errors.js';
export { formatChanges } from './format.js';
export { parseDeploymentYaml, readDeploymentFile } from './read.js';
export { type DeploymentFile, parseDeploymentConfig } from './schema.js';
