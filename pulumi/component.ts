import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import {
  ArgoAuthMode, DatabaseChoice, fail, MinioObjectStore, ObjectStoreChoice, PG_PASSWORD_KEY, PG_USERNAME_KEY, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, SecretRef,
} from '../index';
import { StackOptions, STACK_SETTINGS, SynthesizedStack, synthesizeStack } from './app';
import { StackConfig } from './pulumi-config';

/** A Kubernetes object as cdk8s synthesizes it. */
type KubeObject = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

/** The `@pulumi/kubernetes` module of each API group cd4ml renders (typed classes, so secrets and awaits work). */
const GROUP_MODULES: Record<string, string> = {
  '': 'core',
  'apps': 'apps',
  'batch': 'batch',
  'networking.k8s.io': 'networking',
  'rbac.authorization.k8s.io': 'rbac',
  'policy': 'policy',
  'apiextensions.k8s.io': 'apiextensions',
};

/** A Secret Pulumi creates from secret config: where, and which config key fills each of its keys. */
interface ConfigSecret {
  readonly name: string;
  readonly namespace: string;
  /** Secret key -> how to read its value from config. */
  readonly keys: Record<string, { readonly configKey: string; readonly path?: readonly string[] }>;
}

/** What a stack will deploy, worked out and checked before any resource is registered. */
export interface DeploymentPlan {
  readonly config: StackConfig;
  readonly options: StackOptions;
  readonly stack: SynthesizedStack;
  readonly secrets: readonly ConfigSecret[];
}

/**
 * Works out a stack's deployment from its config: synthesizes (and so validates) the platform and pipelines in
 * memory and places the config Secrets. Throws on bad input; nothing is registered with Pulumi here.
 */
export function planDeployment(cfg: StackConfig): DeploymentPlan {
  const prefix = cfg.namespacePrefix;
  // External stores read Secrets that Pulumi creates from secret config.
  const s3 = cfg.objectStore ? SecretRef.fromSecretName('cd4ml-s3', [S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY]) : undefined;
  const trackingDb = cfg.database ? SecretRef.fromSecretName('cd4ml-tracking-db', [PG_USERNAME_KEY, PG_PASSWORD_KEY]) : undefined;
  const archiveDb = cfg.database ? SecretRef.fromSecretName('cd4ml-archive-db', [PG_USERNAME_KEY, PG_PASSWORD_KEY]) : undefined;
  const options: StackOptions = {
    namespace: `${prefix}cd4ml`,
    workflowNamespace: `${prefix}argo`,
    pipelineNamespace: `${prefix}ml-pipelines`,
    storageClassName: cfg.storageClassName,
    objectStoreStorage: cfg.objectStoreStorage,
    databaseStorage: cfg.databaseStorage,
    trackingServerReplicas: cfg.trackingServerReplicas,
    workflowServerReplicas: cfg.workflowServerReplicas,
    images: cfg.images,
    gpu: cfg.gpu ?? STACK_SETTINGS[cfg.environment].gpu,
    objectStore: cfg.objectStore && s3 ? ObjectStoreChoice.external({ ...cfg.objectStore, credentials: s3 }) : undefined,
    database: cfg.database && trackingDb && archiveDb ? DatabaseChoice.external({
      trackingServer: { host: cfg.database.host, port: cfg.database.port, databaseName: cfg.database.trackingDatabase ?? 'mlflow', credentials: trackingDb, egressCidr: cfg.database.egressCidr },
      workflowArchive: { host: cfg.database.host, port: cfg.database.port, databaseName: cfg.database.archiveDatabase ?? 'argo', credentials: archiveDb, egressCidr: cfg.database.egressCidr },
    }) : undefined,
    workflowAuthMode: cfg.workflowAuthMode ?? ArgoAuthMode.CLIENT,
    kubeApi: cfg.kubeApiCidr ? { cidr: cfg.kubeApiCidr } : undefined,
    trackingServerHosts: cfg.trackingServerHosts,
    pipelines: cfg.pipelines,
    examplesImage: cfg.examplesImage,
  };
  const stack = synthesizeStack(cfg.environment, options);
  const secrets: ConfigSecret[] = [];
  for (const [ref, keys] of [
    [s3, { [S3_ACCESS_KEY_ID]: 's3AccessKeyId', [S3_SECRET_ACCESS_KEY]: 's3SecretAccessKey' }],
    [trackingDb, { [PG_USERNAME_KEY]: 'trackingDbUsername', [PG_PASSWORD_KEY]: 'trackingDbPassword' }],
    [archiveDb, { [PG_USERNAME_KEY]: 'archiveDbUsername', [PG_PASSWORD_KEY]: 'archiveDbPassword' }],
  ] as const) {
    if (!ref) continue;
    for (const namespace of ref.requiredIn) {
      secrets.push({ name: ref.secretName, namespace, keys: Object.fromEntries(Object.entries(keys).map(([k, configKey]) => [k, { configKey }])) });
    }
  }
  if (cfg.secrets.credentials !== undefined) secrets.push(...overrides(cfg.secrets.credentials, stack.platformObjects as KubeObject[]));
  return { config: cfg, options, stack, secrets };
}

/** Arguments of {@link Cd4mlPlatform}. */
export interface Cd4mlPlatformArgs {
  /** The checked plan ({@link planDeployment}). */
  readonly plan: DeploymentPlan;
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
  /** Every Kubernetes resource, by `<namespace or cluster>/<Kind>/<name>`. */
  public readonly resources: ReadonlyMap<string, pulumi.CustomResource>;
  /** The objects deployed (as cdk8s synthesized them), in order. */
  public readonly objects: readonly KubeObject[];

  public constructor(name: string, args: Cd4mlPlatformArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super('cd4ml:index:Platform', name, {}, opts);
    const { options, stack } = args.plan;
    const secret = args.secret ?? ((key: string) => new pulumi.Config('cd4ml').requireSecret(key));
    const platform = stack.platform;
    const platformObjects = stack.platformObjects as KubeObject[];
    const pipelineObjects = stack.pipelineObjects as KubeObject[];
    this.objects = [...platformObjects, ...pipelineObjects];

    // 1. Namespaces and CRDs, 2. Secrets from config, 3. the platform, 4. the pipelines.
    const resources = new Map<string, pulumi.CustomResource>();
    const namespaceResources = new Map<string, pulumi.CustomResource>();
    const crds: pulumi.CustomResource[] = [];
    const storeNames = new Set([platform.postgres?.name, platform.objectStore instanceof MinioObjectStore ? platform.objectStore.name : undefined].filter((n): n is string => !!n));
    const isStateful = (o: KubeObject) => (o.kind === 'StatefulSet' && o.metadata.namespace === options.namespace && storeNames.has(o.metadata.name))
      || (o.kind === 'Namespace' && o.metadata.name === options.namespace);
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
    for (const s of args.plan.secrets) {
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
    const controller = [...resources.entries()].find(([id]) => id === `${options.workflowNamespace}/Deployment/workflow-controller`)?.[1];
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
    this.registerOutputs({ trackingUri: this.trackingUri, s3Endpoint: this.s3Endpoint, argoServerUrl: this.argoServerUrl, namespaces: this.namespaces, portForward: this.portForward });
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

/**
 * Secrets from the `credentials` config that replace ones the cluster would generate: each must name a generated
 * Secret and give all of its keys; it is created in every namespace that Secret is copied to.
 */
function overrides(json: string, objects: KubeObject[]): ConfigSecret[] {
  const specs = objects
    .filter((o) => o.kind === 'ConfigMap' && (o.data as Record<string, string> | undefined)?.['secrets.json'] !== undefined)
    .flatMap((o) => JSON.parse((o.data as Record<string, string>)['secrets.json']) as Array<{ name: string; namespaces: string[]; keys: Record<string, unknown> }>);
  const given = JSON.parse(json) as Record<string, Record<string, string>>;
  const out: ConfigSecret[] = [];
  for (const [name, values] of Object.entries(given)) {
    const spec = specs.find((s) => s.name === name);
    if (!spec) fail({ path: 'Pulumi config', field: `cd4ml:credentials.${name}`, value: name, message: 'is not a Secret the platform generates', fix: `use one of ${specs.map((s) => s.name).join(', ')}` });
    const missing = Object.keys(spec.keys).filter((k) => !(k in values));
    if (missing.length) fail({ path: 'Pulumi config', field: `cd4ml:credentials.${name}`, value: '(secret)', message: `lacks the keys ${missing.join(', ')}`, fix: 'give every key of the Secret' });
    const keys = Object.fromEntries(Object.keys(spec.keys).map((k) => [k, { configKey: 'credentials', path: [name, k] }]));
    for (const namespace of spec.namespaces) out.push({ name, namespace, keys });
  }
  return out;
}
