import { describe, expect, it } from 'vitest';
import { alertRules, exportedSeries, markdownAnchors, metricNamesIn, read, recordingRules } from './deploy-files.js';

const RESPONSE = { P1: '15 minutes', P2: '30 minutes', P3: 'business hours', P4: 'ticket' } as const;

/** The alert rules and the runbook cannot drift apart: every alert has a section and every section an alert. */
describe('alert rules and runbook', () => {
  const rules = alertRules();
  const runbook = read('docs/runbook.md');
  const anchors = markdownAnchors(runbook);

  it('has the alerts the SLA and the seed ask for', () => {
    const names = rules.map((r) => r.alert);
    for (const required of ['SluiceDeadLetterOpen', 'SluiceBroadcastSlaBreached', 'SluiceCompletionSlaBreached', 'SluiceHotWalletLow', 'SluiceNonceDrift', 'SluiceNonceGap', 'SluiceRpcEndpointDown', 'SluiceRpcChainDown', 'SluiceApi5xxRate', 'SluiceApiLatencyP99', 'SluiceWorkerErrors', 'SluiceDatabaseUnreachable', 'SluiceQueueUnreachable', 'SluiceRedisUnreachable', 'SluiceChainPausedLong']) {
      expect(names).toContain(required);
    }
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(rules.map((r) => [r.alert, r] as const))('%s has a P1-P4 severity, a summary and a runbook section stating its response time', (name, rule) => {
    expect(['P1', 'P2', 'P3', 'P4']).toContain(rule.labels.severity);
    expect(rule.annotations.summary?.length).toBeGreaterThan(10);
    const url = rule.annotations.runbook_url!;
    expect(url).toBe(`docs/runbook.md#${name.toLowerCase()}`);
    const anchor = url.split('#')[1]!;
    expect(anchors.has(anchor), `docs/runbook.md has no section #${anchor}`).toBe(true);
    const section = runbook.split(/^### /m).find((s) => s.startsWith(`${name}\n`))!;
    expect(section).toContain(`**${rule.labels.severity} — `);
    expect(section).toContain(RESPONSE[rule.labels.severity as keyof typeof RESPONSE]);
    expect(section).toMatch(/Confirm:/);
    expect(section).toMatch(/Act/);
  });

  it('has no runbook section for an alert that does not exist, and no dangling link inside it', () => {
    const sections = [...runbook.matchAll(/^### (\S+)$/gm)].map((m) => m[1]!);
    expect(sections.sort()).toEqual(rules.map((r) => r.alert).sort());
    for (const [, target] of runbook.matchAll(/\]\(#([^)]+)\)/g)) expect(anchors.has(target!), `link to missing #${target}`).toBe(true);
  });

  it('only reads metrics Sluice exports', async () => {
    const exported = await exportedSeries();
    const recorded = new Set(recordingRules());
    for (const rule of rules) {
      for (const name of metricNamesIn(rule.expr)) expect(exported.has(name), `${rule.alert} reads ${name}, which Sluice does not export`).toBe(true);
      for (const name of rule.expr.match(/\bsluice:[a-z0-9_:]+/g) ?? []) expect(recorded.has(name), `${rule.alert} reads ${name}, no such recording rule`).toBe(true);
    }
  });
});
