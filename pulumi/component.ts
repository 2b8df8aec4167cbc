import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { clientConfig, MinioObjectStore, notesOf, Platform, SeaweedObjectStore } from '../index';

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

/** A Secret Pulumi creates from secret config: where, and which config key fills each of its keys. */
export interface ConfigSecret {
  readonly name: string;
  readonly namespace: string;
  /** Secret key -> how to read its value from config. */
  readonly keys: Record<string, { readonly configKey: string; readonly path?: readonly string[] }>;
}

/** Arguments of {@link Cd4mlPlatform}. */
export interface Cd4mlPlatformArgs {
  /** The platform construct the objects were synthesized from (for its namespaces, endpoints and stores). */
  readonly platform: Platform;
  /** The platform's objects, in dependency order, as cdk8s synthesized them. */
  readonly platformObjects: ReadonlyArray<Record<string, unknown>>;
  /** The pipelines' objects, deployed after the platform's workflow controller. */
  readonly pipelineObjects: ReadonlyArray<Record<string, unknown>>;
  /** Secrets to create from secret config, before the platform. @default [] */
  readonly secrets?: readonly ConfigSecret[];
  /** Reads a secret config value (as a secret Output). @default - `new pulumi.Config('cd4ml').requireSecret(name)` */
  readonly secret?: (name: string) => pulumi.Output<string>;
}

/**
 * The cd4ml platform and its pipelines, deployed by Pulumi: exactly the objects the cdk8s constructs synthesize
 * for the stack's settings, one Pulumi resource per object, named from kind, namespace and name. Namespaces and
 * CRDs come first, Secrets from config next, then the platform, then the pipelines. The stateful stores and their
 * namespace are protected from deletion and replacement.
 */
export class Cd4mlPlatform extends pulumi.ComponentResource {
  /** MLflow's in-cluster URL (`MLFLOW_TRACKING_URI`). */
  public readonly trackingUri: pulumi.Output<string>;
  /** The S3 endpoint. */
  public readonly s3Endpoint: pulumi.Output<string>;
  /** argo-server's in-cluster URL. */
  public readonly argoServerUrl: pulumi.Output<string>;
  /** The platform, workflow and pipeline namespaces. */
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

  public constructor(name: string, args: Cd4mlPlatformArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('cd4ml:index:Platform', name, {}, opts);
    const secret = args.secret ?? ((key: string) => new pulumi.Config('cd4ml').requireSecret(key));
    const platform = args.platform;
    const [platformNamespace, workflowNamespace] = platform.namespaces;
    const platformObjects = args.platformObjects as KubeObject[];
    const pipelineObjects = args.pipelineObjects as KubeObject[];
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
      const r = kubernetesResource(id, o, { parent: this, dependsOn, protect, retainOnDelete, customTimeouts });
      resources.set(id, r);
      return r;
    };
    for (const o of platformObjects) {
      if (o.kind === 'Namespace') namespaceResources.set(o.metadata.name, add(o, []));
      else if (o.kind === 'CustomResourceDefinition') crds.push(add(o, []));
    }
    const secretsByNamespace = new Map<string, pulumi.CustomResource[]>();
    for (const s of args.secrets ?? []) {
      const ns = namespaceResources.get(s.namespace);
      const data = Object.fromEntries(Object.entries(s.keys).map(([k, from]) => [k, from.path
        ? secret(from.configKey).apply((j) => from.path!.reduce<unknown>((v, p) => (v as Record<string, unknown>)[p], JSON.parse(j)) as string)
        : secret(from.configKey)]));
      const r = new k8s.core.v1.Secret(`${s.namespace}/Secret/${s.name}`, {
        metadata: { name: s.name, namespace: s.namespace, labels: { 'app.kubernetes.io/part-of': 'cd4ml', 'app.kubernetes.io/managed-by': 'pulumi' } },
        type: 'Opaque',
        stringData: data,
      }, { parent: this, dependsOn: ns ? [ns] : [], additionalSecretOutputs: ['data', 'stringData'] });
      secretsByNamespace.set(s.namespace, [...(secretsByNamespace.get(s.namespace) ?? []), r]);
      resources.set(`${s.namespace}/Secret/${s.name}`, r);
    }
    const isArgo = (o: KubeObject) => o.apiVersion.startsWith('argoproj.io/');
    const before = (o: KubeObject): pulumi.Resource[] => {
      const ns = o.metadata.namespace;
      return [...(ns && namespaceResources.has(ns) ? [namespaceResources.get(ns)!] : []), ...(ns ? secretsByNamespace.get(ns) ?? [] : []), ...(isArgo(o) ? crds : [])];
    };
    for (const o of platformObjects) if (o.kind !== 'Namespace' && o.kind !== 'CustomResourceDefinition') add(o, before(o));
    const controller = [...resources.entries()].find(([id]) => id === `${workflowNamespace}/Deployment/workflow-controller`)?.[1];
    // Pipelines wait for the workflow controller (and, through before(), for their namespace and the CRDs).
    for (const o of pipelineObjects) add(o, [...before(o), ...(controller ? [controller] : [])]);
    this.resources = resources;

    const [ns, wfNs, pipeNs] = platform.namespaces;
    this.trackingUri = pulumi.output(platform.trackingServer.endpoint.url());
    this.s3Endpoint = pulumi.output(platform.objectStore.endpoint.url());
    this.argoServerUrl = pulumi.output(platform.workflowEngine.serverEndpoint.url());
    this.namespaces = pulumi.output([ns, wfNs, pipeNs]);
    const portForward: Record<string, string> = {
      mlflow: `kubectl -n ${ns} port-forward svc/${platform.trackingServer.name} 5000:${platform.trackingServer.endpoint.port}`,
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
