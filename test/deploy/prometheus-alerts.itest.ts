import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Address } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnvilHandle, getFreePort, startAnvil } from '../../src/chain/anvil.js';
import { chainControl } from '../support/chain-control.js';
import { type SluiceChild, spawnSluice } from '../support/child.js';
import { waitFor } from '../support/stack.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const API_KEY = 'sk_dev_prometheus_e2e_0123456789abcdef';
/** Runtime code of a contract whose every call reverts: PUSH1 0, PUSH1 0, REVERT. */
const REVERTING_CODE = '0x60006000fd';
const REVERTING_RECIPIENT = '0x00000000000000000000000000000000000bad01' as Address;

type PromAlert = { labels: Record<string, string>; annotations: Record<string, string>; state: string };

/**
 * The alert rules as operators run them: a real Prometheus (Debian's, installed by
 * scripts/provision-test-services.sh) scrapes a running `sluice dev` and evaluates
 * deploy/prometheus/alerts.yml. A withdrawal to a contract that reverts when paid is refused by
 * the signer into the Invalid DLQ, and SluiceDeadLetterOpen must then fire in Prometheus' API.
 */
describe('alert rules in a real Prometheus scraping sluice dev', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-prom-'));
  let anvil: AnvilHandle;
  let sluice: SluiceChild;
  let prometheus: ChildProcess;
  let prometheusLog = '';
  let sluiceUrl: string;
  let promUrl: string;
  let chainId: number;

  beforeAll(async () => {
    const installed = execFileSync('sh', ['-c', 'command -v prometheus || true']).toString().trim();
    if (!installed) throw new Error('prometheus is not installed: run scripts/provision-test-services.sh');
    anvil = await startAnvil({ blockTime: 1, silent: true });
    await chainControl(anvil.rpcUrl).setCode(REVERTING_RECIPIENT, REVERTING_CODE);

    sluice = spawnSluice(['dev'], {
      SLUICE_DATA_DIR: path.join(dir, 'data'),
      SLUICE_PORT: '0',
      SLUICE_DEVNET_RPC_URL: anvil.rpcUrl,
      SLUICE_DEV_API_KEY: API_KEY,
      SLUICE_LOG_LEVEL: 'warn',
    });
    sluiceUrl = await waitFor('sluice dev banner', async () => /API\s+(http:\/\/[\d.:]+)\/v1/.exec(sluice.output())?.[1], 60_000, 200);
    chainId = Number(/\(chain (\d+)/.exec(sluice.output())![1]);

    const port = await getFreePort();
    promUrl = `http://127.0.0.1:${port}`;
    const target = new URL(sluiceUrl).host;
    fs.writeFileSync(
      path.join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: ['${path.join(ROOT, 'deploy/prometheus/alerts.yml')}']`,
        'scrape_configs:',
        '  - job_name: sluice-dev',
        `    static_configs: [{ targets: ['${target}'] }]`,
        '',
      ].join('\n'),
    );
    prometheus = spawn('prometheus', [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    prometheus.stdout!.on('data', (d) => (prometheusLog += d));
    prometheus.stderr!.on('data', (d) => (prometheusLog += d));
  });

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    if (sluice) {
      sluice.process.kill('SIGTERM');
      await sluice.exited;
    }
    await anvil?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const api = async (method: string, route: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${sluiceUrl}${route}`, {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...headers },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const prom = async <T>(route: string): Promise<T> => {
    const res = await fetch(`${promUrl}${route}`);
    const json = (await res.json()) as { status: string; data: T };
    if (json.status !== 'success') throw new Error(`Prometheus ${route}: ${JSON.stringify(json)}`);
    return json.data;
  };
  const deadLetterAlerts = async () => (await prom<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts.filter((a) => a.labels.alertname === 'SluiceDeadLetterOpen');

  it('fires SluiceDeadLetterOpen once a withdrawal is dead-lettered, with its severity and runbook', async () => {
    // Prometheus scrapes Sluice and evaluates the rules: the dead-letter gauge reads 0, nothing fires.
    await waitFor(
      'Prometheus to scrape sluice dev and load the rules',
      async () => {
        const [targets, rules] = await Promise.all([
          prom<{ activeTargets: Array<{ health: string }> }>('/api/v1/targets').catch(() => undefined),
          prom<{ groups: Array<{ rules: Array<{ name: string }> }> }>('/api/v1/rules').catch(() => undefined),
        ]);
        const series = await prom<{ result: unknown[] }>('/api/v1/query?query=sluice_dead_letters_open').catch(() => undefined);
        return targets?.activeTargets[0]?.health === 'up' && (rules?.groups.length ?? 0) > 0 && (series?.result.length ?? 0) > 0 ? true : undefined;
      },
      30_000,
      250,
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n--- prometheus log ---\n${prometheusLog.slice(-3000)}`);
    });
    expect(await deadLetterAlerts()).toEqual([]);

    const credit = await api('POST', '/v1/ledger/credits', { userId: 'carol', asset: 'ETH', amount: '2', reference: 'deposit-prom-1' });
    expect(credit.status).toBe(201);
    const created = await api(
      'POST',
      '/v1/withdrawals',
      { userId: 'carol', asset: 'ETH', chainId, toAddress: REVERTING_RECIPIENT, amount: '0.5' },
      { 'idempotency-key': 'prom-e2e-1' },
    );
    expect(created.status).toBe(202);

    const firing = await waitFor(
      'SluiceDeadLetterOpen to fire in Prometheus',
      async () => (await deadLetterAlerts()).find((a) => a.state === 'firing'),
      45_000,
      250,
    );
    expect(firing.labels).toMatchObject({ severity: 'P2', queue: 'invalid', code: 'recipient_rejects_payment' });
    expect(firing.annotations.summary).toBe('1 open dead letter(s) in the invalid DLQ (recipient_rejects_payment)');
    expect(firing.annotations.runbook_url).toBe('docs/runbook.md#sluicedeadletteropen');
    const withdrawal = await api('GET', `/v1/withdrawals/${created.body.id as string}`);
    expect(withdrawal.body.status).toBe('REJECTED');
  });
});
