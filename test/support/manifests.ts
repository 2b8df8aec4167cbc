import { Chart, Testing } from 'cdk8s';
import { validateApp } from '../../lib';

/** A synthesized object as plain JSON (tests read it loosely). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Obj = Record<string, any>;

/** Synthesized objects with lookups by kind and name (never by index). */
export class Manifests {
  public constructor(public readonly objects: Obj[]) {}

  /** The one object of `kind` named `name` (in `namespace`, when given); fails when there is none or more. */
  public find(kind: string, name: string, namespace?: string): Obj {
    const hits = this.objects.filter((o) => o.kind === kind && o.metadata?.name === name && (namespace === undefined || o.metadata?.namespace === namespace));
    if (hits.length !== 1) {
      const have = this.objects.filter((o) => o.kind === kind).map((o) => `${o.metadata?.namespace ?? '-'}/${o.metadata?.name}`);
      throw new Error(`expected one ${kind} ${namespace ?? '*'}/${name}, found ${hits.length}; ${kind}s: ${have.join(', ')}`);
    }
    return hits[0];
  }

  /** The one object of `kind` whose name is `prefix-<8 hex>` (Jobs named after a hash of their setup). */
  public findHashed(kind: string, prefix: string, namespace?: string): Obj {
    const hits = this.objects.filter((o) => o.kind === kind && new RegExp(`^${prefix}-[0-9a-f]{8}$`).test(o.metadata?.name) && (namespace === undefined || o.metadata?.namespace === namespace));
    if (hits.length !== 1) throw new Error(`expected one ${kind} ${prefix}-<hash>, found ${hits.length}`);
    return hits[0];
  }

  /** Whether such an object exists. */
  public has(kind: string, name: string, namespace?: string): boolean {
    return this.objects.some((o) => o.kind === kind && o.metadata?.name === name && (namespace === undefined || o.metadata?.namespace === namespace));
  }

  /** Every object of `kind`. */
  public all(kind: string): Obj[] {
    return this.objects.filter((o) => o.kind === kind);
  }

  /** The container `name` of a workload's pod template. */
  public container(kind: string, name: string, container: string, namespace?: string): Obj {
    const spec = podSpecOf(this.find(kind, name, namespace));
    const c = [...(spec.initContainers ?? []), ...spec.containers].find((x: Obj) => x.name === container);
    if (!c) throw new Error(`${kind} ${name} has no container ${container}`);
    return c;
  }

  /** The env var `env` of a container, as rendered. */
  public env(kind: string, name: string, container: string, env: string, namespace?: string): Obj {
    const e = (this.container(kind, name, container, namespace).env ?? []).find((x: Obj) => x.name === env);
    if (!e) throw new Error(`${kind} ${name}/${container} has no env ${env}`);
    return e;
  }

  /** Position of an object in the synthesized order. */
  public indexOf(kind: string, name: string, namespace?: string): number {
    return this.objects.indexOf(this.find(kind, name, namespace));
  }
}

/** Builds constructs in a fresh chart and synthesizes it, validating first as `app.synth()` does. */
export function synth(build: (chart: Chart) => void): Manifests {
  const chart = new Chart(Testing.app(), 'test', { disableResourceNameHashes: true });
  build(chart);
  validateApp(chart);
  return new Manifests(Testing.synth(chart));
}

/** A pod template found in an object, with where it came from. */
export interface PodTemplate {
  /** `Kind namespace/name`. */
  readonly owner: string;
  readonly kind: string;
  readonly namespace?: string;
  /** Labels of the pods. */
  readonly labels: Record<string, string>;
  readonly spec: Obj;
  /** Whether pods run to completion (Jobs). */
  readonly oneShot: boolean;
  readonly replicas: number;
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
            serviceAccountName: wf.serviceAccountName,
            automountServiceAccountToken: wf.automountServiceAccountToken,
            securityContext: wf.securityContext,
            volumes: [...(wf.volumes ?? []), ...(t.volumes ?? [])],
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
