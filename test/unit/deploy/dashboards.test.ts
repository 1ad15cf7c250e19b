import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exportedSeries, metricNamesIn, ROOT, read } from './deploy-files.js';

type Panel = { id: number; title: string; type: string; targets?: Array<{ expr: string; refId: string }>; gridPos: { w: number; h: number; x: number; y: number } };
type Dashboard = { uid: string; title: string; panels: Panel[]; templating: { list: Array<{ name: string; query?: string }> } };

const DIR = 'deploy/grafana/dashboards';
const files = fs.readdirSync(path.join(ROOT, DIR)).filter((f) => f.endsWith('.json'));
const load = (file: string) => JSON.parse(read(`${DIR}/${file}`)) as Dashboard;

/** Dashboards cannot drift from the code: every query reads a metric Sluice exports. */
describe('Grafana dashboards', () => {
  it('ships the four dashboards with unique uids', () => {
    const titles = files.map((f) => load(f).title).sort();
    expect(titles).toEqual(['Sluice / API', 'Sluice / Chains & wallets', 'Sluice / Pipeline overview', 'Sluice / Queues & dead letters']);
    expect(new Set(files.map((f) => load(f).uid)).size).toBe(files.length);
  });

  it.each(files)('%s: every query names only metrics Sluice exports', async (file) => {
    const exported = await exportedSeries();
    const dashboard = load(file);
    expect(dashboard.panels.length).toBeGreaterThan(3);
    const queries = [...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))), ...dashboard.templating.list.filter((v) => v.query?.includes('(')).map((v) => ({ where: `$${v.name}`, expr: v.query! }))];
    for (const q of queries) {
      const names = metricNamesIn(q.expr);
      expect(names.length + (q.expr.includes('up{') ? 1 : 0), `${file} "${q.where}" reads no metric`).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${file} "${q.where}" reads ${name}, which Sluice does not export`).toBe(true);
    }
    for (const p of dashboard.panels) {
      expect(new Set((p.targets ?? []).map((t) => t.refId)).size).toBe(p.targets?.length ?? 0);
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    }
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
  });

  it('has the SLA panels of §9.2 on the pipeline overview and the API dashboard', () => {
    const overview = load('pipeline-overview.json').panels.map((p) => p.title);
    expect(overview).toEqual(expect.arrayContaining(['Time to BROADCAST P99 (SLA 30 s)', 'Time to COMPLETED P99 (SLA 5 min)']));
    expect(load('api.json').panels.map((p) => p.title)).toContain('API P99 (SLA 500 ms)');
  });

  it('is provisioned from the folder the JSON lives in, with a Prometheus datasource', () => {
    const provider = parse(read('deploy/grafana/provisioning/dashboards/sluice.yml')) as { providers: Array<{ type: string; options: { path: string } }> };
    expect(provider.providers[0]!.type).toBe('file');
    const datasource = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as { datasources: Array<{ type: string }> };
    expect(datasource.datasources[0]!.type).toBe('prometheus');
    // The compose file mounts the dashboards where the provider reads them.
    const compose = read('docker-compose.yml');
    expect(compose).toContain(`./deploy/grafana/dashboards:${provider.providers[0]!.options.path}`);
  });
});
