import { Chart, Testing } from 'cdk8s';
import { validateApp } from '../../lib';
import { Obj, podSpecOf } from '../../lib/validate/manifests';

// The whole-output checks ship in the package (lib/validate, `cd4ml validate`); the tests use them from there.
export { matches, podSpecOf, podTemplates } from '../../lib/validate/manifests';
/** A synthesized object as plain JSON (tests read it loosely). */
export type { Obj, PodTemplate } from '../../lib/validate/manifests';

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
