import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

// Prints, as the process exits, every CommonJS module it loaded: the drivers and SDK clients are
// CommonJS, so an ESM import of one lands in this cache too.
const PROBE = [
  "import { createRequire } from 'node:module';",
  `const cache = createRequire(${JSON.stringify(ROOT + '/')}).cache;`,
  "process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify(Object.keys(cache)) + '\\n'));",
].join('\n');

function modulesLoadedBy(args: string[]): string[] {
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(PROBE)}`, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const out = run.stderr;
  const line = out.split('\n').find((l) => l.startsWith('LOADED '));
  if (!line) throw new Error(`the probe printed nothing:\n${out}`);
  return JSON.parse(line.slice('LOADED '.length)) as string[];
}

const loads = (modules: string[], pkg: string) => modules.some((m) => m.includes(`${path.sep}node_modules${path.sep}${pkg}${path.sep}`));

describe('what the CLI loads before a command needs it', () => {
  // Each of these is 5–10 MB of a process's memory (bench memory section): a role on SQLite, a
  // keystore signer or `sluice dev` must not carry the clients of services it does not use.
  it('loads no database driver, Redis or AWS SDK client, nor the API server, for its own sake', () => {
    const modules = modulesLoadedBy(['src/cli.ts', '--help']);
    expect(loads(modules, 'fastify')).toBe(true); // the probe sees what the CLI does import
    const unused = ['mysql2', 'better-sqlite3', 'ioredis', '@aws-sdk/client-sqs', '@aws-sdk/client-kms', '@aws-sdk/client-secrets-manager'];
    // The API's documentation and console: a worker role (signer, sender, tracker) serves health only.
    unused.push('@fastify/swagger', '@fastify/swagger-ui', '@fastify/static');
    for (const pkg of unused) {
      expect(loads(modules, pkg), pkg).toBe(false);
    }
  });
});
