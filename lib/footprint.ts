import { formatBytes, formatCpu, Quantity } from './quantity';

/** Summed requests and limits of a set of pods. */
export interface ResourceTotals {
  /** CPU requests, in cores. */
  readonly cpu: number;
  /** Memory requests, in bytes. */
  readonly memory: number;
  /** Memory limits, in bytes. */
  readonly memoryLimit: number;
}

/** What a synthesized platform asks of the cluster. */
export interface Footprint {
  /** Long-running pods (Deployments and StatefulSets, times replicas; init containers not counted). */
  readonly steady: ResourceTotals;
  /** One-shot setup Jobs, which run once per deploy and then finish. */
  readonly jobs: ResourceTotals;
  /** `steady` formatted, e.g. `{ cpu: '550m', memory: '1312Mi', memoryLimit: '3328Mi' }`. */
  readonly steadyText: { readonly cpu: string; readonly memory: string; readonly memoryLimit: string };
}

interface Json { [key: string]: unknown }

/** Sums the requests of the pods in synthesized manifests (plain JSON objects). */
export function footprint(objects: readonly Json[]): Footprint {
  const steady = { cpu: 0, memory: 0, memoryLimit: 0 };
  const jobs = { cpu: 0, memory: 0, memoryLimit: 0 };
  for (const o of objects) {
    const kind = o.kind as string;
    const spec = o.spec as Json | undefined;
    if (!spec) continue;
    let podSpec: Json | undefined;
    let replicas = 1;
    let into = steady;
    if (kind === 'Deployment' || kind === 'StatefulSet') {
      podSpec = (spec.template as Json).spec as Json;
      replicas = (spec.replicas as number | undefined) ?? 1;
    } else if (kind === 'Job') {
      podSpec = (spec.template as Json).spec as Json;
      into = jobs;
    } else {
      continue;
    }
    for (const c of (podSpec.containers as Json[]) ?? []) {
      const r = (c.resources ?? {}) as { requests?: Record<string, string>; limits?: Record<string, string> };
      into.cpu += replicas * value(r.requests?.cpu);
      into.memory += replicas * value(r.requests?.memory);
      into.memoryLimit += replicas * value(r.limits?.memory);
    }
  }
  return {
    steady,
    jobs,
    steadyText: { cpu: formatCpu(steady.cpu), memory: formatBytes(steady.memory), memoryLimit: formatBytes(steady.memoryLimit) },
  };
}

function value(q: string | number | undefined): number {
  if (q === undefined) return 0;
  return typeof q === 'number' ? q : Quantity.parse(q).value;
}
