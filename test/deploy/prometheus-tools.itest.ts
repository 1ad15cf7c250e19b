import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Runs a Prometheus tool (installed by scripts/provision-test-services.sh) and returns its output. */
function tool(command: string, args: string[]) {
  const r = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8' });
  if (r.error) throw new Error(`${command} could not run (${r.error.message}): run scripts/provision-test-services.sh`);
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The shipped Prometheus and Alertmanager configuration, checked by their own tools. */
describe('Prometheus and Alertmanager configuration', () => {
  it('promtool accepts the alert rules', () => {
    const r = tool('promtool', ['check', 'rules', 'deploy/prometheus/alerts.yml']);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('promtool unit tests pass: every alert stays quiet before its condition, then fires with its labels and annotations', () => {
    const r = tool('promtool', ['test', 'rules', 'deploy/prometheus/alerts.test.yml']);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('promtool accepts the Prometheus configuration of the local stack', () => {
    const r = tool('promtool', ['check', 'config', '--syntax-only', 'deploy/prometheus/prometheus.yml']);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('amtool accepts the Alertmanager configuration', () => {
    const r = tool('amtool', ['check-config', 'deploy/alertmanager/alertmanager.yml']);
    expect(r.output).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it.each([
    ['P1', 'page-critical,war-room'],
    ['P2', 'page-major'],
    ['P3', 'ops-chat'],
    ['P4', 'ticket'],
  ])('Alertmanager routes %s alerts to %s', (severity, receivers) => {
    const r = tool('amtool', ['config', 'routes', 'test', '--config.file=deploy/alertmanager/alertmanager.yml', `severity=${severity}`, 'alertname=SluiceTest']);
    expect(r.output.split('\n')[0]!.trim()).toBe(receivers);
    expect(r.code).toBe(0);
  });
});
