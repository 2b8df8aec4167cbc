import { ApiAccess, ControlPlane } from './control-plane';
import { sleep } from './processes';

/** A Kubernetes object as we render it. */
export type KubeObject = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } };

interface ResourceInfo { readonly name: string; readonly namespaced: boolean }

/** Maps apiVersion/kind to REST paths through the server's discovery (re-read when a CRD appears). */
export class Resources {
  private readonly byVersion = new Map<string, Map<string, ResourceInfo>>();

  public constructor(private readonly cp: ControlPlane) {}

  public async info(apiVersion: string, kind: string): Promise<ResourceInfo | undefined> {
    let kinds = this.byVersion.get(apiVersion);
    if (!kinds || !kinds.has(kind)) {
      const r = await this.cp.api<{ resources?: Array<{ name: string; kind: string; namespaced: boolean }> }>('GET', apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
      kinds = new Map((r.body.resources ?? []).filter((x) => !x.name.includes('/')).map((x) => [x.kind, { name: x.name, namespaced: x.namespaced }]));
      this.byVersion.set(apiVersion, kinds);
    }
    return kinds.get(kind);
  }

  /** The REST path of one object (or of its collection when `name` is omitted). */
  public async path(apiVersion: string, kind: string, namespace: string | undefined, name?: string): Promise<string> {
    const info = await this.info(apiVersion, kind);
    if (!info) throw new Error(`the API server serves no ${apiVersion} ${kind}`);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = info.namespaced && namespace !== undefined ? `/namespaces/${namespace}` : '';
    return `${base}${ns}/${info.name}${name ? `/${encodeURIComponent(name)}` : ''}`;
  }
}

/** `<Kind> <namespace>/<name>`, for messages. */
export function describe(o: KubeObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/**
 * Server-side apply with strict field validation, object by object in the given order, as `kubectl apply
 * --server-side --validate=strict` does. Waits for a kind whose CRD was just applied to be served. Throws one error
 * naming every object the server refused and what it said.
 */
export async function apply(cp: ControlPlane, objects: readonly KubeObject[], o: { as?: ApiAccess; fieldManager?: string } = {}): Promise<void> {
  const resources = new Resources(cp);
  const refused: string[] = [];
  for (const obj of objects) {
    let info = await resources.info(obj.apiVersion, obj.kind);
    for (let i = 0; !info && i < 60; i++) { await sleep(500); info = await resources.info(obj.apiVersion, obj.kind); }
    if (!info) { refused.push(`${describe(obj)}: the server serves no ${obj.apiVersion} ${obj.kind}`); continue; }
    const path = await resources.path(obj.apiVersion, obj.kind, obj.metadata.namespace, obj.metadata.name);
    const r = await cp.api<{ message?: string }>('PATCH', `${path}?fieldManager=${o.fieldManager ?? 'cd4ml'}&fieldValidation=Strict&force=true`, obj, o.as ?? cp.admin, 'application/apply-patch+yaml');
    if (r.status >= 300) refused.push(`${describe(obj)}: ${r.status} ${r.body.message ?? JSON.stringify(r.body)}`);
  }
  if (refused.length) throw new Error(`the API server refused ${refused.length} of ${objects.length} objects:\n- ${refused.join('\n- ')}`);
}

/** GET one object; undefined when it does not exist. */
export async function get<T = KubeObject>(cp: ControlPlane, apiVersion: string, kind: string, namespace: string | undefined, name: string, as?: ApiAccess): Promise<T | undefined> {
  const r = await cp.api<T>('GET', await new Resources(cp).path(apiVersion, kind, namespace, name), undefined, as);
  if (r.status === 404) return undefined;
  if (r.status >= 300) throw new Error(`GET ${kind} ${namespace}/${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** LIST objects of a kind in a namespace (or cluster-wide), optionally by label selector. */
export async function list<T = KubeObject>(cp: ControlPlane, apiVersion: string, kind: string, namespace?: string, labelSelector?: string): Promise<T[]> {
  const path = await new Resources(cp).path(apiVersion, kind, namespace);
  const r = await cp.api<{ items: T[] }>('GET', `${path}${labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : ''}`);
  if (r.status >= 300) throw new Error(`LIST ${kind} in ${namespace ?? 'all namespaces'}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.items;
}
