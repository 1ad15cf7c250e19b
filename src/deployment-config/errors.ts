import { SluiceError } from '../errors/base.js';

/**
 * A deployment file that cannot be applied: unreadable, not YAML, invalid, or asking for a change
 * that is refused. `problems` are one line each, naming the place in the file
 * (`chains[0].rpc[1].url: must be a URL`); they are also the lines of the message.
 */
export class DeploymentConfigError extends SluiceError {
  override name = 'DeploymentConfigError';
  constructor(
    summary: string,
    readonly problems: string[],
    code = 'invalid_deployment_config',
    options: { cause?: unknown } = {},
  ) {
    super(summary, { code, metaMessages: problems.map((p) => `  ${p}`), ...options });
  }
}
