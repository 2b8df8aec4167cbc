// What a step may ask of its pod beyond compute: Secrets as files, egress to named endpoints outside the cluster,
// scratch space, shared memory, dataset volumes, placement, and a condition. Checked here (one problem per bad
// field, for TypeScript and JavaScript callers alike) and rendered into the step's Argo template.
import { k8s } from 'cdk8s-plus-27';
import { posix } from 'path';
import {
  checkCidr, checkDnsLabel, checkDnsSubdomain, checkLabels, checkPort, checkTolerations, describeType, isPlainObject, Problems, Quantity, QuantityKind,
} from '../../lib';
import { checkAffinity } from '../k8s/pod-settings';
import { ISecret } from '../k8s/secret';
import { IStepValue, Scalar } from './values';

/** Where a step's Secret files appear: `/var/run/secrets/cd4ml/<name>/<key>`. */
export const SECRET_FILES_ROOT = '/var/run/secrets/cd4ml';

/** Some keys of a Secret, as read-only files in a step (a service-account key file, a client certificate, a `.netrc`). */
export interface SecretFiles {
  /** The Secret (made available in the runner's namespace when the step is added). Required. */
  readonly secret: ISecret;
  /** The keys to write as files, each to `/var/run/secrets/cd4ml/<name>/<key>`. @default - every key the Secret declares */
  readonly keys?: string[];
}

/**
 * An endpoint outside the cluster a step may open TCP connections to (a warehouse, a model hub, an experiment
 * service). NetworkPolicies match addresses, not host names: give the endpoint's address blocks.
 */
export interface ExternalEndpoint {
  /** Its name, a DNS label such as `warehouse`; it names the NetworkPolicy `<pipeline>-to-<name>`. Required. */
  readonly name: string;
  /** Its addresses as CIDR blocks, e.g. `["203.0.113.10/32"]`; blocks wider than /8 are refused. Required. */
  readonly cidrs: string[];
  /** TCP ports. @default [443] */
  readonly ports?: number[];
  /** The host name the step connects to, recorded on the NetworkPolicy for readers. @default - none */
  readonly host?: string;
}

/** A PersistentVolumeClaim mounted into a step (a dataset, a shared feature cache). */
export interface StepVolume {
  /** An existing PersistentVolumeClaim in the pipelines' namespace. Required. */
  readonly claimName: string;
  /** Absolute mount path, outside `/tmp`, `/inputs` and `/var/run`. Required. */
  readonly mountPath: string;
  /** Mount read-only. @default true */
  readonly readOnly?: boolean;
  /** A directory of the volume to mount instead of its root. @default - the root */
  readonly subPath?: string;
}

/** Where a step's pod may run, beside what GPU scheduling adds. */
export interface StepPlacement {
  /** Node labels the pod needs (merged over the GPU pool's). @default {} */
  readonly nodeSelector?: Record<string, string>;
  /** Taints the pod tolerates (added to the GPU pool's). @default [] */
  readonly tolerations?: k8s.Toleration[];
  /** Node and pod (anti-)affinity. @default - none */
  readonly affinity?: k8s.Affinity;
}

/** Comparison operators of a {@link Condition}. */
type Operator = '==' | '!=' | '>' | '>=' | '<' | '<=';

/**
 * Whether a step runs, from a value known when it is due: an earlier step's output (which creates the edge) or a
 * parameter. A step whose condition is false is skipped; steps after it still run (Argo's `when`).
 * @see https://argo-workflows.readthedocs.io/en/latest/walk-through/conditionals/
 */
export class Condition {
  /** Runs when the value equals `to` (compared as text: `true` matches a boolean output `true`). */
  public static equals(value: IStepValue, to: Scalar): Condition {
    return new Condition(value, '==', to);
  }

  /** Runs when the value differs from `to` (compared as text). */
  public static notEquals(value: IStepValue, to: Scalar): Condition {
    return new Condition(value, '!=', to);
  }

  /** Runs when the numeric value is greater than `than`. */
  public static greaterThan(value: IStepValue, than: number): Condition {
    return new Condition(value, '>', than);
  }

  /** Runs when the numeric value is at least `min`. */
  public static atLeast(value: IStepValue, min: number): Condition {
    return new Condition(value, '>=', min);
  }

  /** Runs when the numeric value is less than `than`. */
  public static lessThan(value: IStepValue, than: number): Condition {
    return new Condition(value, '<', than);
  }

  /** Runs when the numeric value is at most `max`. */
  public static atMost(value: IStepValue, max: number): Condition {
    return new Condition(value, '<=', max);
  }

  private constructor(
    /** The value tested. */
    public readonly value: IStepValue,
    /** The comparison. */
    public readonly operator: Operator,
    /** What it is compared with. */
    public readonly operand: Scalar,
  ) {}

  /** Whether the comparison is numeric (the others compare text). */
  public get numeric(): boolean {
    return this.operator !== '==' && this.operator !== '!=';
  }

  /**
   * Argo's `when` expression (govaluate, after substitution): text comparisons quote both sides, numeric ones
   * compare numbers, so an output that is not a number fails the task rather than comparing as text.
   */
  public get expression(): string {
    return this.numeric
      ? `${this.value.expression} ${this.operator} ${String(this.operand)}`
      : `'${this.value.expression}' ${this.operator} '${String(this.operand)}'`;
  }
}

/** A step's props beyond its program and compute (part of `StepProps`). */
export interface StepOptionProps {
  /** Secrets as read-only files, by name: each key at `/var/run/secrets/cd4ml/<name>/<key>`. @default {} */
  readonly secretFiles?: Record<string, SecretFiles>;
  /**
   * Endpoints outside the cluster the step may connect to (a NetworkPolicy per endpoint opens them to this
   * pipeline's steps that list it, and to no other pod). @default [] - only the platform's own services
   */
  readonly egress?: ExternalEndpoint[];
  /** PersistentVolumeClaims to mount, by name (datasets, shared caches). @default {} */
  readonly volumes?: Record<string, StepVolume>;
  /**
   * Size of a memory-backed `/dev/shm` (PyTorch data loaders with workers need more than the runtime's 64Mi); it
   * counts against the memory limit. @default - the container runtime's 64Mi
   */
  readonly sharedMemory?: string;
  /** Node selector, tolerations and affinity, beside what a GPU request adds. @default - anywhere the quota allows */
  readonly placement?: StepPlacement;
  /** Run only when this holds (an earlier step's output creates the edge); otherwise the step is skipped. @default - always */
  readonly when?: Condition;
}

const RESERVED_MOUNTS = ['/tmp', '/inputs', '/var/run', '/dev'];

/** Checks the options of one step; `memoryLimit` is the step's memory limit, which shared memory counts against. */
export function checkStepOptions(problems: Problems, path: string, props: StepOptionProps, memoryLimit: string | undefined): void {
  checkSecretFiles(problems, path, props.secretFiles);
  checkEgress(problems, path, props.egress);
  checkVolumes(problems, path, props.volumes);
  if (props.sharedMemory !== undefined) {
    const bad = Quantity.check(props.sharedMemory, QuantityKind.BYTES, { path, field: 'sharedMemory' });
    problems.addIf(bad);
    const shm = bad ? undefined : Quantity.tryParse(props.sharedMemory);
    const limit = memoryLimit === undefined ? undefined : Quantity.tryParse(memoryLimit);
    if (shm && limit && shm.value > limit.value) {
      problems.add({ path, field: 'sharedMemory', value: props.sharedMemory, message: `exceeds the step's memory limit ${memoryLimit}, which the memory-backed /dev/shm counts against`, fix: `give at most "${memoryLimit}", or raise resources.memoryLimit` });
    }
  }
  checkPlacement(problems, path, props.placement);
  if (props.when !== undefined && !(props.when instanceof Condition)) {
    problems.add({ path, field: 'when', value: describeType(props.when), message: 'is not a Condition', fix: 'use Condition.equals(step.output("name"), "yes") or Condition.atLeast(step.output("accuracy"), 0.9)' });
  } else if (props.when) {
    const c = props.when;
    if (c.numeric && (typeof c.operand !== 'number' || !Number.isFinite(c.operand))) problems.add({ path, field: 'when', value: c.operand, message: `compares with ${c.operator}, which needs a number`, fix: 'compare with a finite number, e.g. 0.9' });
    if (!c.numeric && !['string', 'number', 'boolean'].includes(typeof c.operand)) problems.add({ path, field: 'when', value: describeType(c.operand), message: 'compares with something that is not text, a number or a boolean', fix: 'compare with a plain value, e.g. "yes"' });
    if (typeof c.operand === 'string' && /['{}\\]/.test(c.operand)) problems.add({ path, field: 'when', value: c.operand, message: 'holds a quote, a brace or a backslash, which would change the expression Argo evaluates', fix: 'compare with plain text, e.g. "approved"' });
    if (c.value === null || typeof c.value !== 'object' || typeof c.value.expression !== 'string') problems.add({ path, field: 'when', value: describeType(c.value), message: 'tests something that is not a parameter or a step output', fix: 'test a parameter or step.output("name")' });
  }
}

function checkSecretFiles(problems: Problems, path: string, files: unknown): void {
  if (files === undefined) return;
  if (!isPlainObject(files)) {
    problems.add({ path, field: 'secretFiles', value: describeType(files), message: 'is not a map of names to Secrets', fix: 'give an object, e.g. { gcp: { secret: SecretRef.fromSecretName("gcp-key", ["key.json"]) } }' });
    return;
  }
  for (const [name, ref] of Object.entries(files)) {
    const site = { path, field: `secretFiles.${name}` };
    checkVolumeName(problems, name, site);
    const secret: unknown = isPlainObject(ref) ? ref.secret : undefined;
    const declared: unknown = isPlainObject(secret) || (typeof secret === 'object' && secret !== null) ? (secret as ISecret).keys : undefined;
    if (!isPlainObject(ref) || typeof secret !== 'object' || secret === null || !Array.isArray(declared) || typeof (secret as ISecret).availableIn !== 'function') {
      problems.add({ ...site, value: describeType(ref), message: 'is not a Secret to mount', fix: 'give { secret }, an ISecret such as SecretRef.fromSecretName("gcp-key", ["key.json"]), and optionally keys' });
      continue;
    }
    for (const key of Object.keys(ref)) if (!['secret', 'keys'].includes(key)) problems.add({ ...site, field: `${site.field}.${key}`, value: describeType(ref[key]), message: 'is not a field of secret files', fix: 'use secret and keys (a list), e.g. { secret, keys: ["key.json"] }' });
    const keys: unknown = ref.keys;
    if (keys === undefined) {
      if (declared.length === 0) problems.add({ ...site, value: (secret as ISecret).secretName, message: 'names a Secret that declares no keys, so no file would be written', fix: 'declare its keys, e.g. SecretRef.fromSecretName("gcp-key", ["key.json"])' });
      continue;
    }
    if (!Array.isArray(keys) || keys.length === 0) {
      problems.add({ ...site, field: `${site.field}.keys`, value: keys, message: 'is not a non-empty list of keys', fix: `list keys of the Secret, e.g. ["${String(declared[0] ?? 'key')}"], or leave keys out for all` });
      continue;
    }
    for (const k of keys) {
      if (typeof k !== 'string' || !declared.includes(k)) problems.add({ ...site, field: `${site.field}.keys`, value: k, message: `is not a key of the Secret ${(secret as ISecret).secretName}`, fix: `use one of ${declared.map((d) => `"${String(d)}"`).join(', ') || '(none)'}` });
    }
  }
}

/** A name that becomes part of a pod volume's name (`secret-<name>`, `volume-<name>`), itself a DNS label. */
function checkVolumeName(problems: Problems, name: string, site: { readonly path: string; readonly field: string }): void {
  const bad = checkDnsLabel(name, site);
  if (bad) problems.add(bad);
  else if (name.length > 50) problems.add({ ...site, value: name, message: 'is longer than 50 characters (it names a pod volume with a prefix)', fix: `shorten it, e.g. "${name.slice(0, 50).replace(/-+$/, '')}"` });
}

function checkEgress(problems: Problems, path: string, egress: unknown): void {
  if (egress === undefined) return;
  if (!Array.isArray(egress)) {
    problems.add({ path, field: 'egress', value: describeType(egress), message: 'is not a list of endpoints', fix: 'give a list, e.g. [{ name: "warehouse", cidrs: ["203.0.113.10/32"], ports: [443] }]' });
    return;
  }
  const seen = new Set<string>();
  egress.forEach((e: unknown, i) => {
    const field = `egress[${i}]`;
    if (!isPlainObject(e)) {
      problems.add({ path, field, value: describeType(e), message: 'is not an endpoint', fix: 'give { name, cidrs, ports }, e.g. { name: "warehouse", cidrs: ["203.0.113.10/32"], ports: [443] }' });
      return;
    }
    const name = e.name;
    const nameProblem = checkDnsLabel(name as string, { path, field: `${field}.name` });
    problems.addIf(nameProblem);
    if (!nameProblem && seen.has(name as string)) problems.add({ path, field: `${field}.name`, value: name, message: 'names an endpoint twice', fix: 'list each endpoint once, with all its addresses and ports' });
    seen.add(name as string);
    const cidrs: unknown = e.cidrs;
    if (!Array.isArray(cidrs) || cidrs.length === 0) {
      problems.add({ path, field: `${field}.cidrs`, value: cidrs, message: 'is not a non-empty list of CIDR blocks', fix: 'give the endpoint\'s addresses, e.g. ["203.0.113.10/32"]' });
    } else {
      cidrs.forEach((c: unknown, j) => {
        const site = { path, field: `${field}.cidrs[${j}]` };
        const bad = checkCidr(c as string, site);
        if (bad) problems.add({ ...bad, fix: 'write the endpoint\'s addresses like "203.0.113.10/32"' });
        else if (Number((c as string).split('/')[1]) < 8) problems.add({ ...site, value: c, message: 'opens more than a /8 of addresses, which is no longer a named endpoint (step code could send data almost anywhere)', fix: 'give the endpoint\'s own addresses, e.g. "203.0.113.10/32"' });
      });
    }
    const ports: unknown = e.ports;
    if (ports !== undefined && (!Array.isArray(ports) || ports.length === 0)) problems.add({ path, field: `${field}.ports`, value: ports, message: 'is not a non-empty list of ports', fix: 'give TCP ports, e.g. [443], or leave ports out for 443' });
    else (ports as unknown[] | undefined ?? []).forEach((p, j) => problems.addIf(checkPort(p as number, { path, field: `${field}.ports[${j}]` })));
    if (e.host !== undefined) problems.addIf(checkDnsSubdomain(e.host as string, { path, field: `${field}.host` }));
    for (const key of Object.keys(e)) {
      if (!['name', 'cidrs', 'ports', 'host'].includes(key)) problems.add({ path, field: `${field}.${key}`, value: describeType(e[key]), message: 'is not a field of an endpoint', fix: 'use name, cidrs, ports and host' });
    }
  });
}

function checkVolumes(problems: Problems, path: string, volumes: unknown): void {
  if (volumes === undefined) return;
  if (!isPlainObject(volumes)) {
    problems.add({ path, field: 'volumes', value: describeType(volumes), message: 'is not a map of names to volumes', fix: 'give an object, e.g. { images: { claimName: "imagenet", mountPath: "/data/imagenet" } }' });
    return;
  }
  const paths = new Map<string, string>();
  for (const [name, v] of Object.entries(volumes)) {
    const field = `volumes.${name}`;
    checkVolumeName(problems, name, { path, field });
    if (!isPlainObject(v)) {
      problems.add({ path, field, value: describeType(v), message: 'is not a volume', fix: 'give { claimName, mountPath }, e.g. { claimName: "imagenet", mountPath: "/data/imagenet" }' });
      continue;
    }
    problems.addIf(checkDnsSubdomain(v.claimName as string, { path, field: `${field}.claimName` }));
    const mount = v.mountPath;
    if (typeof mount !== 'string' || !/^\/[^\0]*$/.test(mount) || mount.split('/').includes('..')) {
      problems.add({ path, field: `${field}.mountPath`, value: mount, message: 'is not an absolute path', fix: `give a path like "/data/${name}"` });
    } else {
      // as the kernel resolves it: "//tmp" and "/./tmp" are /tmp
      const clean = posix.normalize(mount).replace(/\/+$/, '') || '/';
      const reserved = RESERVED_MOUNTS.find((r) => clean === '/' || clean === r || clean.startsWith(`${r}/`) || r.startsWith(`${clean}/`));
      if (reserved) problems.add({ path, field: `${field}.mountPath`, value: mount, message: `overlaps ${reserved}, which the step's scratch, inputs, Secrets or devices use`, fix: `mount it elsewhere, e.g. "/data/${name}"` });
      const other = [...paths.entries()].find(([, p]) => p === clean);
      if (other) problems.add({ path, field: `${field}.mountPath`, value: mount, message: `is also the mount path of volumes.${other[0]}`, fix: 'give each volume its own path' });
      paths.set(name, clean);
    }
    if (v.readOnly !== undefined && typeof v.readOnly !== 'boolean') problems.add({ path, field: `${field}.readOnly`, value: v.readOnly, message: `is ${describeType(v.readOnly)}, not true or false`, fix: 'give true (the default) or false' });
    if (v.subPath !== undefined && (typeof v.subPath !== 'string' || v.subPath.startsWith('/') || v.subPath.split('/').includes('..') || v.subPath === '')) {
      problems.add({ path, field: `${field}.subPath`, value: v.subPath, message: 'is not a relative path inside the volume', fix: 'give a directory of the volume, e.g. "train"' });
    }
    for (const key of Object.keys(v)) {
      if (!['claimName', 'mountPath', 'readOnly', 'subPath'].includes(key)) problems.add({ path, field: `${field}.${key}`, value: describeType(v[key]), message: 'is not a field of a step volume', fix: 'use claimName, mountPath, readOnly and subPath' });
    }
  }
}

function checkPlacement(problems: Problems, path: string, placement: unknown): void {
  if (placement === undefined) return;
  if (!isPlainObject(placement)) {
    problems.add({ path, field: 'placement', value: describeType(placement), message: 'is not a placement', fix: 'give { nodeSelector, tolerations, affinity }, e.g. { nodeSelector: { "node.kubernetes.io/instance-type": "m6i.4xlarge" } }' });
    return;
  }
  if (placement.nodeSelector !== undefined) checkLabels(placement.nodeSelector, { path, field: 'placement.nodeSelector' }).forEach((p) => problems.add(p));
  if (placement.tolerations !== undefined) checkTolerations(placement.tolerations, { path, field: 'placement.tolerations' }).forEach((p) => problems.add(p));
  checkAffinity(problems, { path, field: 'placement.affinity' }, placement.affinity);
  for (const key of Object.keys(placement)) {
    if (!['nodeSelector', 'tolerations', 'affinity'].includes(key)) problems.add({ path, field: `placement.${key}`, value: describeType(placement[key]), message: 'is not a field of a placement', fix: 'use nodeSelector, tolerations and affinity' });
  }
}

/** The volumes and mounts a step's options add to its template. */
export function optionVolumes(props: StepOptionProps): { volumes: Array<Record<string, unknown>>; mounts: Array<Record<string, unknown>> } {
  const volumes: Array<Record<string, unknown>> = [];
  const mounts: Array<Record<string, unknown>> = [];
  for (const [name, ref] of Object.entries(props.secretFiles ?? {})) {
    const keys = ref.keys ?? [...ref.secret.keys];
    // 0440 with the pod's fsGroup: readable by the step's user, written by nobody (SecretVolumeSource.defaultMode)
    volumes.push({ name: `secret-${name}`, secret: { secretName: ref.secret.secretName, items: keys.map((key) => ({ key, path: key })), defaultMode: 0o440 } });
    mounts.push({ name: `secret-${name}`, mountPath: `${SECRET_FILES_ROOT}/${name}`, readOnly: true });
  }
  for (const [name, v] of Object.entries(props.volumes ?? {})) {
    const readOnly = v.readOnly ?? true;
    volumes.push({ name: `volume-${name}`, persistentVolumeClaim: { claimName: v.claimName, readOnly } });
    mounts.push({ name: `volume-${name}`, mountPath: posix.normalize(v.mountPath), readOnly, subPath: v.subPath });
  }
  if (props.sharedMemory !== undefined) {
    volumes.push({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: props.sharedMemory } });
    mounts.push({ name: 'shm', mountPath: '/dev/shm' });
  }
  return { volumes, mounts };
}

/** Problems of two steps that name one endpoint differently (one NetworkPolicy per endpoint and pipeline). */
export function endpointConflict(a: ExternalEndpoint, b: ExternalEndpoint): string | undefined {
  const norm = (e: ExternalEndpoint): string => JSON.stringify({ cidrs: [...e.cidrs].sort(), ports: [...(e.ports ?? [443])].sort((x, y) => x - y), host: e.host });
  return norm(a) === norm(b) ? undefined : `is defined by another step of the pipeline as ${norm(b)}`;
}

/** The NetworkPolicy spec that lets the pods of `steps` reach an endpoint. */
export function endpointPolicySpec(pipeline: string, endpoint: ExternalEndpoint, steps: readonly string[]): Record<string, unknown> {
  return {
    podSelector: {
      matchLabels: { 'cd4ml.io/pipeline': pipeline },
      matchExpressions: [{ key: 'cd4ml.io/step', operator: 'In', values: [...steps] }],
    },
    policyTypes: ['Egress'],
    egress: [{
      to: endpoint.cidrs.map((cidr) => ({ ipBlock: { cidr } })),
      ports: (endpoint.ports ?? [443]).map((port) => ({ protocol: 'TCP', port })),
    }],
  };
}
