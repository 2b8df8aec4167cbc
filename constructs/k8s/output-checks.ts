import { ApiObject } from 'cdk8s';
import { IConstruct, Node } from 'constructs';
import { addSynthCheck, Problem } from '../../lib';

/**
 * Limits the API server enforces on what we render, which a synth would otherwise write and `kubectl apply` refuse
 * object by object, after the first ones are already in the cluster.
 * @see https://etcd.io/docs/v3.6/dev-guide/limit/ (1.5 MiB per request)
 * @see https://kubernetes.io/docs/concepts/overview/working-with-objects/annotations/ (256 KiB of annotations)
 */
export const API_LIMITS = {
  /** etcd's default request size limit; an object near it cannot be stored. */
  objectBytes: 1.5 * 1024 * 1024,
  /** Total size of an object's annotation keys and values. */
  annotationBytes: 256 * 1024,
} as const;

/**
 * Longest names by kind: a Job's or CronJob's name becomes a pod label (`job-name`, 63 characters, and a CronJob adds
 * 11 for its Jobs), a StatefulSet's pods carry `controller-revision-hash: <name>-<10 characters>`, Services and
 * Namespaces are DNS labels. Everything else may use a DNS subdomain's 253.
 */
const NAME_LIMITS: Record<string, number> = { Job: 63, CronJob: 52, StatefulSet: 52, Service: 63, Namespace: 63, Deployment: 253 };

/** The construct the user declared: the ApiObject's scope, unless the object is the user's own. */
function ownerPath(o: ApiObject): string {
  return o.node.scope?.node.path || o.node.path;
}

/** How to resolve two renderings of a cluster-wide object that cannot be renamed (a CRD), by object. */
const SHARED_FIXES = new WeakMap<ApiObject, string>();

/**
 * Marks a cluster-wide object that another construct may render too and that cannot take another name: a second
 * rendering is reported once per pair of owners, with `fix` (how to render it only once).
 */
export function sharedObject(o: ApiObject, fix: string): void {
  SHARED_FIXES.set(o, fix);
}

/**
 * Checks everything rendered under `root` as one output: no two objects of the same kind, namespace and name (two
 * pipelines, two schedules whose names derive to one, a runner in the stores' namespace), no object over the API
 * server's size limits, no name longer than its kind allows. Every problem names the constructs involved.
 */
export function checkRenderedObjects(root: IConstruct): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<string, ApiObject>();
  const reportedShared = new Set<string>();
  for (const o of root.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject)) {
    let json: Record<string, unknown>;
    try {
      json = o.toJson() as Record<string, unknown>;
    } catch {
      continue; // a value that cannot resolve is reported by its own construct's validation
    }
    const metadata = (json.metadata ?? {}) as { name?: string; namespace?: string; annotations?: Record<string, string> };
    const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
    const ns = metadata.namespace ?? '';
    // the rendered name (a hash-named Job's includes its hash)
    const name = metadata.name ?? o.name;
    const key = `${group}/${o.kind}/${ns}/${name}`;
    const where = ns ? `${o.kind} ${ns}/${name}` : `${o.kind} ${name}`;
    const first = seen.get(key);
    const shared = first ? SHARED_FIXES.get(o) : undefined;
    if (first && shared) {
      const pair = `${ownerPath(first)}|${ownerPath(o)}|${shared}`;
      if (!reportedShared.has(pair)) {
        reportedShared.add(pair);
        problems.push({ path: ownerPath(o), field: 'metadata.name', value: name, message: `renders the cluster-wide ${where}, which ${ownerPath(first)} renders too`, fix: shared });
      }
    } else if (first) {
      problems.push({
        path: ownerPath(o), field: 'metadata.name', value: name,
        message: `renders ${where}, which ${ownerPath(first)} renders too: the second would overwrite the first`,
        fix: `give one of them another name or namespace, e.g. "${name.slice(0, 60)}-2"`,
      });
    } else {
      seen.set(key, o);
    }
    const limit = NAME_LIMITS[o.kind] ?? 253;
    if (name.length > limit) {
      problems.push({ path: ownerPath(o), field: 'metadata.name', value: name, message: `is ${name.length} characters: a ${o.kind} name may have at most ${limit}`, fix: `shorten the names it is built from, to at most "${name.slice(0, limit).replace(/[-.]+$/, '')}"` });
    }
    const bytes = Buffer.byteLength(JSON.stringify(json));
    if (bytes > API_LIMITS.objectBytes) {
      problems.push({ path: ownerPath(o), field: where, value: `${bytes} bytes`, message: `is larger than the ${API_LIMITS.objectBytes} bytes etcd stores in one object`, fix: 'make it smaller: fan out over a step\'s output (FanOut.overOutput) instead of listing items, or split the pipeline' });
    }
    const annotations = metadata.annotations ?? {};
    const annotationBytes = Object.entries(annotations).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)), 0);
    if (annotationBytes > API_LIMITS.annotationBytes) {
      problems.push({ path: ownerPath(o), field: `${where} metadata.annotations`, value: `${annotationBytes} bytes`, message: `exceed the ${API_LIMITS.annotationBytes} bytes the API server allows`, fix: 'shorten the description or move long text into a ConfigMap' });
    }
  }
  return problems;
}

const ATTACHED = Symbol.for('cd4ml.renderedObjectChecks');

/**
 * Adds {@link checkRenderedObjects} to the app's one report once, however many constructs ask for it. It renders
 * the output, so it runs only when no other problem was found.
 */
export function validateRenderedObjects(scope: IConstruct): void {
  const root = Node.of(scope).root as IConstruct & { [ATTACHED]?: boolean };
  if (root[ATTACHED]) return;
  root[ATTACHED] = true;
  addSynthCheck(root, () => checkRenderedObjects(root), { renders: true });
}
