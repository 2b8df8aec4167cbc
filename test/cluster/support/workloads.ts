import { apply, describe as name, get, KubeObject, list } from './apply';
import { ControlPlane } from './control-plane';
import { waitFor } from './processes';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The pod template of a workload object. */
export function podTemplate(o: KubeObject): Obj {
  const spec = o.spec as Obj;
  return o.kind === 'CronJob' ? spec.jobTemplate.spec.template : spec.template;
}

/** What the server said about pods it could not create for `owner` (FailedCreate events), if anything. */
async function refusals(cp: ControlPlane, namespace: string, ownerName: string): Promise<string[]> {
  const events = await list<Obj>(cp, 'v1', 'Event', namespace);
  return events.filter((e) => e.reason === 'FailedCreate' && String(e.involvedObject?.name ?? '').startsWith(ownerName)).map((e) => e.message as string);
}

/**
 * Waits until the controllers have created at least one pod for every Deployment, StatefulSet and Job in `objects`
 * (and for a Job made from every CronJob, as `kubectl create job --from=cronjob/...` does), and returns them by
 * workload. A pod the API server refuses (PodSecurity, LimitRanger, ResourceQuota) fails with the server's words.
 */
export async function podsOf(cp: ControlPlane, objects: readonly KubeObject[], timeoutMs = 120000): Promise<Map<string, { workload: KubeObject; pods: Obj[] }>> {
  const out = new Map<string, { workload: KubeObject; pods: Obj[] }>();
  const workloads = objects.filter((o) => ['Deployment', 'StatefulSet', 'Job', 'CronJob'].includes(o.kind));
  for (const w of workloads.filter((x) => x.kind === 'CronJob')) {
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: `${w.metadata.name}-manual`.slice(0, 63), namespace: w.metadata.namespace, annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' } }, spec: (w.spec as Obj).jobTemplate.spec };
    await apply(cp, [job as KubeObject]);
  }
  for (const w of workloads) {
    const ns = w.metadata.namespace!;
    const selector = w.kind === 'CronJob' ? `job-name=${w.metadata.name}-manual`.slice(0, 72) : w.kind === 'Job' ? `job-name=${w.metadata.name}` : Object.entries(((w.spec as Obj).selector.matchLabels) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
    const pods = await waitFor(`a pod for ${name(w)}`, async () => {
      const found = await list<Obj>(cp, 'v1', 'Pod', ns, selector);
      if (found.length > 0) return found;
      const said = await refusals(cp, ns, w.kind === 'CronJob' ? `${w.metadata.name}-manual` : w.metadata.name);
      if (said.length) throw Object.assign(new Error(`the API server refused the pods of ${name(w)}: ${said[said.length - 1]}`), { final: true });
      return undefined;
    }, timeoutMs, { intervalMs: 1000 });
    out.set(name(w), { workload: w, pods });
  }
  return out;
}

/** The differences between the resources a workload declares and those of the pod the server admitted. */
export function resourceDrift(workload: KubeObject, pod: Obj): string[] {
  const declared = podTemplate(workload).spec;
  const drift: string[] = [];
  for (const kind of ['initContainers', 'containers'] as const) {
    for (const c of (declared[kind] ?? []) as Obj[]) {
      const admitted = ((pod.spec[kind] ?? []) as Obj[]).find((x) => x.name === c.name);
      if (!admitted) { drift.push(`${kind} ${c.name}: missing from the pod`); continue; }
      const want = JSON.stringify(normalize(c.resources ?? {}));
      const got = JSON.stringify(normalize(admitted.resources ?? {}));
      if (want !== got) drift.push(`${kind} ${c.name}: declared ${want}, admitted ${got}`);
    }
  }
  return drift;
}

function normalize(r: Obj): Obj {
  const q = (m: Obj | undefined) => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, String(v)]).sort(([a], [b]) => a.localeCompare(b)));
  return { requests: q(r.requests), limits: q(r.limits) };
}

/** Waits until the token controller has filled a service-account-token Secret; returns the token. */
export async function serviceAccountToken(cp: ControlPlane, namespace: string, secret: string, timeoutMs = 60000): Promise<string> {
  return waitFor(`the token in Secret ${namespace}/${secret}`, async () => {
    const s = await get<Obj>(cp, 'v1', 'Secret', namespace, secret);
    return s?.data?.token ? Buffer.from(s.data.token as string, 'base64').toString('utf8') : undefined;
  }, timeoutMs, { intervalMs: 500 });
}

/** Asks the real authorizer whether `user` may do `verb` on `resource` (SubjectAccessReview). */
export async function can(cp: ControlPlane, user: string, a: { verb: string; resource: string; group?: string; namespace?: string; name?: string; subresource?: string }): Promise<boolean> {
  const sa = /^system:serviceaccount:([^:]+):/.exec(user);
  const r = await cp.api<Obj>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
    spec: {
      user, groups: sa ? ['system:serviceaccounts', `system:serviceaccounts:${sa[1]}`, 'system:authenticated'] : ['system:authenticated'],
      resourceAttributes: { verb: a.verb, resource: a.resource, group: a.group ?? '', namespace: a.namespace, name: a.name, subresource: a.subresource },
    },
  });
  if (r.status >= 300) throw new Error(`SubjectAccessReview: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.status?.allowed === true;
}
