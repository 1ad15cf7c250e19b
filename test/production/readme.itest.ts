import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getFreePort } from '../../src/chain/anvil.js';

const repo = path.resolve(import.meta.dirname, '../..');

/** The `bash` blocks of README's "Running in production" section, in order, as one script. */
function productionScript(): string {
  const readme = fs.readFileSync(path.join(repo, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Running in production\n');
  const end = readme.indexOf('\n## ', start + 1);
  expect(start, 'README has a "Running in production" section').toBeGreaterThan(0);
  const section = readme.slice(start, end);
  const blocks = [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]!);
  expect(blocks.length).toBeGreaterThanOrEqual(5);
  return blocks.join('\n');
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` consecutive free ports starting at a random base. */
async function freePortRun(count: number): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const free = await Promise.all(Array.from({ length: count }, (_, i) => isPortFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no run of free ports found');
}

/**
 * README's production walk-through, run word for word (only ports, database and queue prefix are
 * chosen by the test, through the PROD_* variables the README reads), so the section cannot rot:
 * MariaDB, Redis, moto (SQS + KMS) and an anvil, one API, two signers, a sender and a tracker as
 * separate processes, and a withdrawal that completes.
 */
describe('README: Running in production', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-readme-prod-'));
  const suffix = Math.random().toString(36).slice(2, 8);
  const db = `sluice_t_readme_${suffix}`;
  let pgid: number | undefined;

  afterAll(async () => {
    if (pgid) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await new Promise<void>((resolve) => spawn('mysql', ['-uroot', '-e', `DROP DATABASE IF EXISTS ${db}`]).on('exit', () => resolve()));
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('runs every command of the section and the withdrawal completes', { timeout: 240_000 }, async () => {
    for (const link of ['bin', 'dist', 'node_modules']) fs.symlinkSync(path.join(repo, link), path.join(work, link));
    expect(fs.existsSync(path.join(repo, 'dist', 'cli.js')), 'dist/ is built (npm run build)').toBe(true);
    const [rpcPort, apiPort, healthBase] = [await getFreePort(), await getFreePort(), await freePortRun(5)];
    const script = `set -euo pipefail\n${productionScript()}`;
    fs.writeFileSync(path.join(work, 'walkthrough.sh'), script);

    const child = spawn('bash', ['walkthrough.sh'], {
      cwd: work,
      detached: true, // its own process group: afterAll can take down everything it started
      env: {
        ...process.env,
        PROD_DB: db,
        PROD_QUEUE_PREFIX: `readme-${suffix}`,
        PROD_RPC_PORT: String(rpcPort),
        PROD_API_PORT: String(apiPort),
        PROD_HEALTH_PORT: String(healthBase),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    pgid = child.pid;
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    const logs = ['api.log', 'signer-1.log', 'sender.log', 'tracker.log']
      .filter((f) => fs.existsSync(path.join(work, f)))
      .map((f) => `--- ${f}\n${fs.readFileSync(path.join(work, f), 'utf8').split('\n').slice(-15).join('\n')}`)
      .join('\n');
    expect(code, `walkthrough failed:\n${out}\n${logs}`).toBe(0);

    expect(out).toMatch(/Applied 001-initial, 002-chain-robustness, 003-production/);
    expect(out).toMatch(/4 created, 0 updated, 0 unchanged/);
    expect(out).toMatch(/0 created, 0 updated, 4 unchanged/);
    expect(out).toMatch(/"status":"ready"/);
    expect(out).toMatch(/withdrawal wd_\w+: COMPLETED/);
    expect(out).toMatch(/\{"job":"reconcile","requeued":0\}/);
    const wallet = JSON.parse(fs.readFileSync(path.join(work, 'wallet.json'), 'utf8')) as { keyRef: string; address: string };
    expect(wallet.keyRef).toMatch(/^kms:/);
    expect(fs.readFileSync(path.join(work, 'wallet.json'), 'utf8')).not.toMatch(/privateKey|[0-9a-f]{64}/i);
    // SIGTERM drained every role: each says it stopped.
    for (const f of ['api.log', 'signer-1.log', 'signer-2.log', 'sender.log', 'tracker.log']) {
      expect(fs.readFileSync(path.join(work, f), 'utf8'), f).toMatch(/"msg":"stopped"/);
    }
  });
});
