import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: any; data?: Record<string, string> };

type JsonPatchOp = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };
type Kustomization = {
  namespace?: string;
  resources?: string[];
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
  replicas?: Array<{ name: string; count: number }>;
  configMapGenerator?: Array<{ name: string; behavior?: 'merge' | 'replace' | 'create'; literals?: string[] }>;
  patches?: Array<{ path?: string; patch?: string; target: { kind: string; name: string } }>;
  labels?: Array<{ pairs: Record<string, string> }>;
};

const USED = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'images', 'replicas', 'configMapGenerator', 'patches', 'labels']);

/**
 * The part of kustomize these manifests use (no kustomize binary here): resources (files and
 * bases), namespace, labels, images, replicas, configMapGenerator merge and JSON 6902 patches.
 * A kustomization using anything else is refused, so the test cannot silently skip a feature.
 */
export function kustomizeBuild(dir: string): K8sObject[] {
  const k = parseAllDocuments(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as Kustomization;
  for (const key of Object.keys(k)) if (!USED.has(key)) throw new Error(`${dir}/kustomization.yaml uses "${key}", which this renderer does not implement`);
  let objects: K8sObject[] = [];
  for (const r of k.resources ?? []) {
    const target = path.join(dir, r);
    if (fs.statSync(target).isDirectory()) objects.push(...kustomizeBuild(target));
    else objects.push(...parseAllDocuments(fs.readFileSync(target, 'utf8')).map((d) => d.toJS() as K8sObject).filter(Boolean));
  }
  objects = structuredClone(objects);
  for (const o of objects) {
    if (k.namespace && o.kind !== 'Namespace') o.metadata.namespace = k.namespace;
    for (const l of k.labels ?? []) o.metadata.labels = { ...o.metadata.labels, ...l.pairs };
  }
  for (const c of containersOf(objects)) {
    const image = k.images?.find((i) => c.image === i.name || c.image.startsWith(`${i.name}:`));
    if (image) c.image = `${image.newName ?? image.name}:${image.newTag ?? 'latest'}`;
  }
  for (const r of k.replicas ?? []) find(objects, 'Deployment', r.name, dir).spec.replicas = r.count;
  for (const g of k.configMapGenerator ?? []) {
    if (g.behavior !== 'merge') throw new Error(`${dir}: only configMapGenerator behavior "merge" is implemented`);
    const cm = find(objects, 'ConfigMap', g.name, dir);
    for (const literal of g.literals ?? []) {
      const at = literal.indexOf('=');
      cm.data = { ...cm.data, [literal.slice(0, at)]: literal.slice(at + 1) };
    }
  }
  for (const p of k.patches ?? []) {
    const text = p.patch ?? fs.readFileSync(path.join(dir, p.path!), 'utf8');
    const ops = parseAllDocuments(text)[0]!.toJS() as JsonPatchOp[];
    if (!Array.isArray(ops)) throw new Error(`${dir}: only JSON 6902 patches are implemented`);
    const target = find(objects, p.target.kind, p.target.name, dir);
    for (const op of ops) applyOp(target, op, dir);
  }
  return objects;
}

function find(objects: K8sObject[], kind: string, name: string, dir: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${dir}: no ${kind} ${name} to change`);
  return o;
}

function applyOp(target: unknown, op: JsonPatchOp, dir: string): void {
  const keys = op.path.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node = target as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === undefined) throw new Error(`${dir}: patch path ${op.path} does not exist`);
    node = node[key] as Record<string, unknown>;
  }
  const last = keys.at(-1)!;
  if (op.op !== 'add' && !(last in node)) throw new Error(`${dir}: patch path ${op.path} does not exist`);
  if (op.op === 'remove') delete node[last];
  else node[last] = op.value;
}

export function podSpecOf(o: K8sObject): any {
  if (o.kind === 'Deployment' || o.kind === 'Job') return o.spec.template.spec;
  if (o.kind === 'CronJob') return o.spec.jobTemplate.spec.template.spec;
  return undefined;
}

export function containersOf(objects: K8sObject[]): Array<{ name: string; image: string; [k: string]: any }> {
  return objects.flatMap((o) => podSpecOf(o)?.containers ?? []);
}
