import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { clientConfig, EnvironmentDefinition, isPlainObject, MinioObjectStore, notesOf, Problems, SecretRef, SeaweedObjectStore, synthesizeEnvironment, SynthesizedEnvironment } from '../index';
import { rolledVersion } from './rolled';

/** A Kubernetes object as cdk8s synthesizes it. */
export type KubeObject = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

/** The `@pulumi/kubernetes` module of each API group cd4ml renders (typed classes, so secrets and awaits work). */
const GROUP_MODULES: Record<string, string> = {
  '': 'core',
  'apps': 'apps',
  'batch': 'batch',
  'networking.k8s.io': 'networking',
  'rbac.authorization.k8s.io': 'rbac',
  'policy': 'policy',
  'apiextensions.k8s.io': 'apiextensions',
  'admissionregistration.k8s.io': 'admissionregistration',
  'storage.k8s.io': 'storage',
};

/**
 * Values of a Secret the platform reads, for Pulumi to create (before the platform, marked secret in its state).
 */
export interface SecretValues {
  /**
   * Which Secret: a `SecretRef` the definition gave the platform (an external store's credentials; created in every
   * namespace the platform reads it in), or the name of a Secret the platform would generate in the cluster (e.g.
   * `seaweedfs-pipelines`; created in every namespace it is copied to, so the generator keeps it). Required.
   */
  readonly secret: SecretRef | string;
  /** Every key of the Secret, with its value (a secret Output, e.g. `config.requireSecret(...)`). Required. */
  readonly values: Readonly<Record<string, pulumi.Input<string>>>;
}

/** Arguments of {@link Cd4mlPlatform}. */
export interface Cd4mlPlatformArgs {
  /**
   * The environment: the same definition `synthesizeEnvironment` renders for cdk8s (platform settings and a
   * callback declaring the team's pipelines). Required.
   */
  readonly definition: EnvironmentDefinition;
  /** Values of the Secrets the platform reads that Pulumi creates. @default [] - the output's Secrets exist already */
  readonly secrets?: readonly SecretValues[];
}

/** A Secret to create: where, and its values. */
interface PlacedSecret {
  readonly name: string;
  readonly namespace: string;
  readonly values: Readonly<Record<string, pulumi.Input<string>>>;
}

/**
 * The cd4ml platform and its pipelines, deployed by Pulumi: exactly the objects the cdk8s constructs synthesize
 * for the definition, one Pulumi resource per object, named from kind, namespace and name. Namespaces and CRDs
 * come first, the Secrets given next, then the platform, then the pipelines. The stateful stores, their namespace
 * and the Secrets given are protected from deletion and replacement. The definition is built and checked (with the
 * Secrets' keys) before anything is registered: bad input throws a `Cd4mlValidationError` and registers nothing.
 */
export class Cd4mlPlatform extends pulumi.ComponentResource {
  /** MLflow's in-cluster URL (`MLFLOW_TRACKING_URI`). */
  public readonly trackingUri: pulumi.Output<string>;
  /** The S3 endpoint. */
  public readonly s3Endpoint: pulumi.Output<string>;
  /** argo-server's in-cluster URL. */
  public readonly argoServerUrl: pulumi.Output<string>;
  /** The platform, workflow and pipeline namespaces, then each pipeline domain's ({@link Platform.namespaces}). */
  public readonly namespaces: pulumi.Output<string[]>;
  /** `kubectl port-forward` commands for each UI. */
  public readonly portForward: pulumi.Output<Record<string, string>>;
  /**
   * Where a client finds MLflow's admin credentials (a reference, never the values): the Secret's namespace and
   * name, and its keys `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`, which the MLflow client reads.
   */
  public readonly trackingCredentials: pulumi.Output<{ namespace: string; secret: string; keys: string[] }>;
  /**
   * The client configuration data scientists load (`MLFLOW_TRACKING_URI`, `ARGO_SERVER`, `ARGO_NAMESPACE`,
   * `ARGO_SECURE`, ...; no secret), as `cd4ml env` writes it.
   */
  public readonly clientEnv: pulumi.Output<Record<string, string>>;
  /** Where the UIs are and the commands that reach them and fetch the credentials, as the synth prints them. */
  public readonly notes: pulumi.Output<string>;
  /** Every Kubernetes resource, by `<namespace or cluster>/<Kind>/<name>`. */
  public readonly resources: ReadonlyMap<string, pulumi.CustomResource>;
  /** The objects deployed (as cdk8s synthesized them), in order. */
  public readonly objects: readonly KubeObject[];
  /** The environment as synthesized (the platform construct, its objects). */
  public readonly synthesized: SynthesizedEnvironment;

  public constructor(name: string, args: Cd4mlPlatformArgs, opts: pulumi.ComponentResourceOptions = {}) {
    // built and checked before the component registers: bad input leaves nothing half-deployed
    const synthesized = synthesizeEnvironment(isPlainObject(args) ? args.definition : (args as unknown as EnvironmentDefinition));
    const placed = placeSecrets(name, synthesized, isPlainObject(args) ? args.secrets ?? [] : []);
    super('cd4ml:index:Platform', name, {}, opts);
    this.synthesized = synthesized;
    const platform = synthesized.platform;
    const [platformNamespace, workflowNamespace] = platform.namespaces;
    const platformObjects = synthesized.platformObjects as KubeObject[];
    const pipelineObjects = synthesized.pipelineObjects as KubeObject[];
    this.objects = [...platformObjects, ...pipelineObjects];

    // 1. Namespaces and CRDs, 2. Secrets from config, 3. the platform, 4. the pipelines.
    const resources = new Map<string, pulumi.CustomResource>();
    const namespaceResources = new Map<string, pulumi.CustomResource>();
    const crds: pulumi.CustomResource[] = [];
    const storeNames = new Set([platform.postgres?.name, platform.objectStore instanceof MinioObjectStore || platform.objectStore instanceof SeaweedObjectStore ? platform.objectStore.name : undefined].filter((n): n is string => !!n));
    const isStateful = (o: KubeObject) => (o.kind === 'StatefulSet' && o.metadata.namespace === platformNamespace && storeNames.has(o.metadata.name))
      || (o.kind === 'Namespace' && o.metadata.name === platformNamespace);
    const add = (o: KubeObject, dependsOn: pulumi.Resource[]) => {
      const id = objectId(o);
      const protect = isStateful(o);
      // CRDs are cluster-wide: stacks sharing a cluster share them, and deleting one would delete every Argo object.
      const retainOnDelete = protect || o.kind === 'CustomResourceDefinition' ? true : undefined;
      // Setup Jobs retry until their store answers, up to their own deadline (900 s): wait longer than that.
      const customTimeouts = o.kind === 'Job' ? { create: '20m', update: '20m' } : undefined;
      const r = kubernetesResource(id, o, { parent: this, dependsOn, protect, retainOnDelete, customTimeouts, ignoreChanges: rolledVersion(o) });
      resources.set(id, r);
      return r;
    };
    // every Namespace and CRD first, the pipelines chart's too (a delivery's CI namespace, where the platform's
    // credentials generator also copies Secrets)
    for (const o of [...platformObjects, ...pipelineObjects]) {
      if (o.kind === 'Namespace') namespaceResources.set(o.metadata.name, add(o, []));
      else if (o.kind === 'CustomResourceDefinition') crds.push(add(o, []));
    }
    const secretsByNamespace = new Map<string, pulumi.CustomResource[]>();
    for (const s of placed) {
      const ns = namespaceResources.get(s.namespace);
      // protected like the stores: `destroy --exclude-protected` keeps a store's credentials with it
      const r = new k8s.core.v1.Secret(`${s.namespace}/Secret/${s.name}`, {
        metadata: { name: s.name, namespace: s.namespace, labels: { 'app.kubernetes.io/part-of': 'cd4ml', 'app.kubernetes.io/managed-by': 'pulumi' } },
        type: 'Opaque',
        stringData: s.values,
      }, { parent: this, dependsOn: ns ? [ns] : [], additionalSecretOutputs: ['data', 'stringData'], protect: true, retainOnDelete: true });
      secretsByNamespace.set(s.namespace, [...(secretsByNamespace.get(s.namespace) ?? []), r]);
      resources.set(`${s.namespace}/Secret/${s.name}`, r);
    }
    const isArgo = (o: KubeObject) => o.apiVersion.startsWith('argoproj.io/');
    const before = (o: KubeObject): pulumi.Resource[] => {
      const ns = o.metadata.namespace;
      return [...(ns && namespaceResources.has(ns) ? [namespaceResources.get(ns)!] : []), ...(ns ? secretsByNamespace.get(ns) ?? [] : []), ...(isArgo(o) ? crds : [])];
    };
    for (const o of platformObjects) if (o.kind !== 'Namespace' && o.kind !== 'CustomResourceDefinition') add(o, before(o));
    // Pipelines wait for the workflow controller that manages their namespace: a pipeline domain's own, else the
    // platform's (and, through before(), for their namespace and the CRDs). A destroy then removes a domain's
    // workflows before its controller.
    const controllerOf = (name: string) => resources.get(`${workflowNamespace}/Deployment/${name}`);
    const platformController = controllerOf('workflow-controller');
    const domainControllers = new Map([...platform.domains.values()].map((d) => [d.runner.namespace, controllerOf(d.controller.name)]));
    for (const o of pipelineObjects) {
      if (o.kind === 'Namespace' || o.kind === 'CustomResourceDefinition') continue;
      const controller = (o.metadata.namespace !== undefined ? domainControllers.get(o.metadata.namespace) : undefined) ?? platformController;
      add(o, [...before(o), ...(controller ? [controller] : [])]);
    }
    this.resources = resources;

    const [ns, wfNs] = platform.namespaces;
    this.trackingUri = pulumi.output(platform.trackingServer.endpoint.url());
    this.s3Endpoint = pulumi.output(platform.objectStore.endpoint.url());
    this.argoServerUrl = pulumi.output(platform.workflowEngine.serverEndpoint.url());
    this.namespaces = pulumi.output([...platform.namespaces]);
    const portForward: Record<string, string> = {
      mlflow: `kubectl -n ${ns} port-forward svc/${platform.trackingServer.name} 5050:${platform.trackingServer.endpoint.port}`,
      argo: `kubectl -n ${wfNs} port-forward svc/argo-server 2746:${platform.workflowEngine.serverEndpoint.port}`,
    };
    if (platform.objectStore instanceof MinioObjectStore) portForward.minio = `kubectl -n ${ns} port-forward svc/${platform.objectStore.name} 9001:${platform.objectStore.consoleEndpoint.port}`;
    this.portForward = pulumi.output(portForward);
    this.trackingCredentials = pulumi.output({ namespace: ns, secret: platform.trackingServer.adminCredentials.secretName, keys: [...platform.trackingServer.adminCredentials.keys] });
    const client = clientConfig(platformObjects);
    this.clientEnv = pulumi.output({ ...(client?.env ?? {}) });
    this.notes = pulumi.output(client ? notesOf(client, `cd4ml platform ${name}`) : '');
    this.registerOutputs({ trackingUri: this.trackingUri, s3Endpoint: this.s3Endpoint, argoServerUrl: this.argoServerUrl, namespaces: this.namespaces, portForward: this.portForward, trackingCredentials: this.trackingCredentials, clientEnv: this.clientEnv, notes: this.notes });
  }
}

/**
 * Where each given Secret goes, checked against the synthesized platform: a SecretRef in the namespaces the platform
 * reads it in, a generated Secret's name in the namespaces the generator copies it to; every key given, no other.
 */
function placeSecrets(component: string, synthesized: SynthesizedEnvironment, given: readonly SecretValues[]): PlacedSecret[] {
  const path = `Cd4mlPlatform ${component}`;
  const problems = new Problems();
  const generated = (synthesized.platformObjects as KubeObject[])
    .filter((o) => o.kind === 'ConfigMap' && (o.data as Record<string, string> | undefined)?.['secrets.json'] !== undefined)
    .flatMap((o) => JSON.parse((o.data as Record<string, string>)['secrets.json']) as Array<{ name: string; namespaces: string[]; keys: Record<string, unknown> }>);
  const out: PlacedSecret[] = [];
  const postgres = synthesized.platform.postgres?.name;
  if (!Array.isArray(given)) {
    problems.add({ path, field: 'secrets', value: typeof given, message: 'is not a list', fix: 'give [{ secret: ref, values: { key: value } }]' });
    problems.throwIfAny();
  }
  given.forEach((s, i) => {
    const field = `secrets[${i}]`;
    if (!isPlainObject(s) || !isPlainObject(s.values)) {
      problems.add({ path, field, value: '(not shown)', message: 'is not { secret, values }', fix: 'give { secret: ref, values: { key: value } }' });
      return;
    }
    const ref = s.secret;
    const spec = typeof ref === 'string' ? generated.find((g) => g.name === ref) : undefined;
    const name = typeof ref === 'string' ? ref : ref instanceof SecretRef ? ref.secretName : undefined;
    const keys = typeof ref === 'string' ? Object.keys(spec?.keys ?? {}) : ref instanceof SecretRef ? ref.keys : [];
    const namespaces = typeof ref === 'string' ? spec?.namespaces ?? [] : ref instanceof SecretRef ? ref.requiredIn : [];
    if (name === undefined) {
      problems.add({ path, field: `${field}.secret`, value: typeof ref, message: 'is neither a SecretRef nor a Secret name', fix: 'give the SecretRef the definition uses, or a generated Secret\'s name' });
      return;
    }
    if (typeof ref === 'string' && !spec) {
      problems.add({ path, field: `${field}.secret`, value: ref, message: 'is not a Secret the platform generates', fix: `use one of ${generated.map((g) => g.name).filter((n) => postgres === undefined || !n.startsWith(`${postgres}-`)).join(', ') || '(none)'}, or the SecretRef the definition uses` });
      return;
    }
    if (typeof ref === 'string' && postgres !== undefined && ref.startsWith(`${postgres}-`)) {
      // the official image sets the superuser's password once, at initdb (docker-entrypoint.sh); a role's password
      // is set by the setup Job, which runs again only when its input changes (its name hashes no Secret value). A
      // new value here would change neither, and would lock their clients out.
      const superuser = ref === `${postgres}-superuser`;
      problems.add({
        path, field: `${field}.secret`, value: ref,
        message: superuser ? 'is the Postgres superuser, whose password the server keeps from its first start: a value set here would not change it and would lock its clients out' : 'is a Postgres role\'s password, which the setup Job sets only when its own input changes: a value set here would not reach the role and would lock its clients out',
        fix: `leave it to the in-cluster generator; to rotate it, follow the README ("Rotating credentials")${superuser ? ': ALTER ROLE in the server first, then the Secret' : ''}`,
      });
      return;
    }
    if (namespaces.length === 0) {
      problems.add({ path, field: `${field}.secret`, value: name, message: 'is not read by the platform', fix: 'give the SecretRef the definition passes to the platform (the same object), or drop it' });
      return;
    }
    const missing = keys.filter((k) => !(k in s.values));
    const extra = Object.keys(s.values).filter((k) => !keys.includes(k));
    if (missing.length > 0) problems.add({ path, field: `${field}.values`, value: '(secret)', message: `lacks the keys ${missing.join(', ')} of the Secret ${name}`, fix: 'give every key of the Secret' });
    if (extra.length > 0) problems.add({ path, field: `${field}.values`, value: extra, message: `are not keys of the Secret ${name}`, fix: `give only ${keys.join(', ')}` });
    if (out.some((o) => o.name === name)) problems.add({ path, field: `${field}.secret`, value: name, message: 'is given twice', fix: 'give each Secret once' });
    for (const namespace of namespaces) out.push({ name, namespace, values: s.values });
  });
  problems.throwIfAny();
  return out;
}

/** The stable Pulumi name of an object: `<namespace or cluster>/<Kind>/<name>`. */
export function objectId(o: KubeObject): string {
  return `${o.metadata.namespace ?? 'cluster'}/${o.kind}/${o.metadata.name}`;
}

/** One resource for one object, of its typed `@pulumi/kubernetes` class (a CustomResource for Argo kinds). */
function kubernetesResource(name: string, obj: KubeObject, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const module = GROUP_MODULES[group] as keyof typeof k8s | undefined;
  const versions = module ? (k8s[module] as unknown as Record<string, Record<string, unknown>>) : undefined;
  const ctor = versions?.[version]?.[obj.kind] as (new (n: string, a: unknown, o: pulumi.CustomResourceOptions) => pulumi.CustomResource) | undefined;
  if (ctor) return new ctor(name, obj, opts);
  return new k8s.apiextensions.CustomResource(name, obj as k8s.apiextensions.CustomResourceArgs, opts);
}
