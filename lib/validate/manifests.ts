/**
 * What the whole-output checks share: pod templates found in any workload, selector matching, object labels.
 * Internal to `lib/validate`: the checks read manifests loosely (a missing field is a finding, not a type error), so
 * they take {@link Obj}; the public API (`./index`) takes typed objects.
 */
import { parse } from 'yaml';

/**
 * A parsed object read loosely.
 * @internal the checks' own type; not part of the public API
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

/**
 * A Kubernetes object as parsed from a manifest or synthesized by cdk8s: the type fields are typed, the rest is
 * opaque to the caller.
 */
export interface KubeObject {
  /** `apps/v1`, `v1`, ... Required by the API server; the checks report an object without one. */
  readonly apiVersion?: string;
  /** `Deployment`, ... Required by the API server; the checks report an object without one. */
  readonly kind?: string;
  /** The object's name and namespace (absent for cluster-scoped objects), labels, ... */
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly [field: string]: unknown };
  /** Every other field (`spec`, `data`, ...), as the manifest holds it. */
  readonly [field: string]: unknown;
}

/** A pod template found in an object, with where it came from. */
export interface PodTemplate {
  /** `Kind namespace/name`. */
  readonly owner: string;
  /** The owner's kind. */
  readonly kind: string;
  /** The owner's namespace. @default - none: a cluster-scoped owner (the checks report it) */
  readonly namespace?: string;
  /** Labels of the pods. */
  readonly labels: Record<string, string>;
  /** The pod spec; for an Argo template, the pod the controller builds from the workflow and the template. */
  readonly spec: Obj;
  /** Whether pods run to completion (Jobs). */
  readonly oneShot: boolean;
  /** How many pods run (1 for Jobs and workflow steps). */
  readonly replicas: number;
}

/** `Kind namespace/name`, or `Kind name` for a cluster-scoped object: how findings name an object. */
export function objectLabel(o: KubeObject): string {
  const ns = o.metadata?.namespace;
  return ns === undefined ? `${o.kind} ${o.metadata?.name}` : `${o.kind} ${ns}/${o.metadata?.name}`;
}

/** `apiVersion Kind`: how the checks key a kind (two groups may both define a `Kustomization`). */
export function kindKey(o: KubeObject): string {
  return `${o.apiVersion} ${o.kind}`;
}

/** The pod spec of a Deployment, StatefulSet, Job or CronJob. */
export function podSpecOf(o: Obj): Obj {
  if (o.kind === 'CronJob') return o.spec.jobTemplate.spec.template.spec;
  return o.spec.template.spec;
}

/** Every pod template in the output. */
export function podTemplates(objects: Obj[]): PodTemplate[] {
  const out: PodTemplate[] = [];
  for (const o of objects) {
    const owner = `${o.kind} ${o.metadata.namespace ?? '-'}/${o.metadata.name}`;
    const ns = o.metadata.namespace;
    if (o.kind === 'Deployment' || o.kind === 'StatefulSet') {
      out.push({ owner, kind: o.kind, namespace: ns, labels: o.spec.template.metadata?.labels ?? {}, spec: o.spec.template.spec, oneShot: false, replicas: o.spec.replicas ?? 1 });
    } else if (o.kind === 'Job') {
      out.push({ owner, kind: o.kind, namespace: ns, labels: o.spec.template.metadata?.labels ?? {}, spec: o.spec.template.spec, oneShot: true, replicas: 1 });
    } else if (o.kind === 'CronJob') {
      const t = o.spec.jobTemplate.spec.template;
      out.push({ owner, kind: o.kind, namespace: ns, labels: t.metadata?.labels ?? {}, spec: t.spec, oneShot: true, replicas: 1 });
    } else if (o.kind === 'WorkflowTemplate' || o.kind === 'Workflow') {
      // Each container template becomes a pod, as Argo's controller builds it (workflow/controller/workflowpod.go):
      // the workflow's pod-level settings, the template's volumes after the workflow's, the template's placement
      // over the workflow's, and that container.
      const wf = o.spec;
      for (const t of wf.templates ?? []) {
        if (!t.container) continue;
        out.push({
          owner: `${owner} template ${t.name}`,
          kind: o.kind,
          namespace: ns,
          labels: { ...(wf.podMetadata?.labels ?? {}), ...(t.metadata?.labels ?? {}) },
          spec: {
            serviceAccountName: t.serviceAccountName ?? wf.serviceAccountName,
            automountServiceAccountToken: t.automountServiceAccountToken ?? wf.automountServiceAccountToken,
            securityContext: wf.securityContext,
            // a volume claim template becomes a claim of the run, mounted by its name
            volumes: [
              ...(wf.volumes ?? []), ...(t.volumes ?? []),
              ...(wf.volumeClaimTemplates ?? []).map((c: Obj) => ({ name: c.metadata?.name, persistentVolumeClaim: { claimName: `<run>-${c.metadata?.name}` } })),
            ],
            nodeSelector: t.nodeSelector ?? wf.nodeSelector,
            tolerations: t.tolerations ?? wf.tolerations,
            affinity: t.affinity ?? wf.affinity,
            containers: [t.container],
          },
          oneShot: true,
          replicas: 1,
        });
      }
    }
  }
  return out;
}

/** Whether `labels` match a `matchLabels` selector. */
export function matches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}

/**
 * A document embedded in a ConfigMap value (Argo's controller settings, the credentials spec). Read as YAML, which
 * JSON is a subset of: cd4ml writes JSON, a hand-written Argo ConfigMap usually holds YAML.
 */
export function parseEmbedded(text: string): Obj {
  return parse(text) as Obj;
}
