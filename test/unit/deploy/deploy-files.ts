import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { createMetrics } from '../../../src/observability/metrics.js';

export const ROOT = path.resolve(import.meta.dirname, '../../..');
export const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

export type AlertRule = { alert: string; expr: string; for?: string; labels: Record<string, string>; annotations: Record<string, string> };
type Rule = AlertRule | { record: string; expr: string };

export function alertRules(): AlertRule[] {
  const doc = parse(read('deploy/prometheus/alerts.yml')) as { groups: Array<{ rules: Rule[] }> };
  return doc.groups.flatMap((g) => g.rules).filter((r): r is AlertRule => 'alert' in r);
}

export function recordingRules(): string[] {
  const doc = parse(read('deploy/prometheus/alerts.yml')) as { groups: Array<{ rules: Rule[] }> };
  return doc.groups.flatMap((g) => g.rules).flatMap((r) => ('record' in r ? [r.record] : []));
}

/** Every series name Sluice exposes, histograms expanded to their _bucket/_sum/_count series. */
export async function exportedSeries(): Promise<Set<string>> {
  const { registry } = createMetrics();
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(m.name + suffix);
    if (String(m.type) === 'summary') for (const suffix of ['_sum', '_count']) names.add(m.name + suffix);
  }
  return names;
}

/** Metric names a PromQL expression reads (Sluice's own; `up` and recording rules are Prometheus'). */
export function metricNamesIn(expr: string): string[] {
  return [...new Set(expr.match(/\bsluice_[a-z0-9_]+/g) ?? [])];
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
export function markdownAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const line of markdown.split('\n')) {
    const m = /^#{1,6}\s+(.*)$/.exec(line);
    if (m) anchors.add(m[1]!.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-'));
  }
  return anchors;
}
