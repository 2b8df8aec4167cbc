import { existsSync, readFileSync } from 'fs';
import { dirname, join, relative } from 'path';
import { parse } from 'yaml';
import {
  ArgoAuthMode, ArgoCdApplications, Cd4mlValidationError, checkArgoCdApplications, checkK3dOptions, K3dClusterOptions, checkCount, checkDnsLabel, checkLabels, checkDnsSubdomain, checkEnvironmentName, checkSecretKey, DELIVERY_ENVIRONMENTS, EnvironmentName, GpuScheduling, PlatformImages, PlatformProps, Problems, Quantity, QuantityKind,
} from '../index';

/** An external S3 endpoint, from config. */
export interface ExternalObjectStoreConfig {
  /** S3 endpoint URL. Required. */
  readonly endpoint: string;
  /** Region to sign for. @default 'us-east-1' */
  readonly region?: string;
  /** Where the endpoint's addresses are, for egress NetworkPolicies. @default '0.0.0.0/0' */
  readonly egressCidr?: string;
}

/** The UIs' Ingresses, from config. */
export interface IngressConfig {
  /** The IngressClass. Required. */
  readonly className: string;
  /** The ingress controller's pods: their namespace and labels. Required. */
  readonly controller: { readonly namespace: string; readonly podLabels: Record<string, string> };
  /** cert-manager's `clusterIssuer` or `issuer`, or an existing TLS Secret's `secretName`. Required. */
  readonly tls: { readonly clusterIssuer?: string; readonly issuer?: string; readonly secretName?: string };
  /** Host names of trackingServer, workflowServer, objectStore and objectStoreConsole (MinIO). Required. */
  readonly hosts: Record<string, string>;
  /** Further annotations on every Ingress. @default {} */
  readonly annotations?: Record<string, string>;
}

/** External databases (one server), from config. */
export interface ExternalDatabaseConfig {
  /** Host name of the Postgres server. Required. */
  readonly host: string;
  /** Port. @default 5432 */
  readonly port?: number;
  /** MLflow's database. @default 'mlflow' */
  readonly trackingDatabase?: string;
  /** The Argo workflow archive's database. @default 'argo' */
  readonly archiveDatabase?: string;
  /** Where the server's addresses are, for egress NetworkPolicies. @default '0.0.0.0/0' */
  readonly egressCidr?: string;
  /** libpq sslmode of both clients: disable, require, verify-ca or verify-full. @default 'verify-full' */
  readonly sslMode?: string;
  /**
   * The server's CA bundle: an existing Secret's name and key, in the platform's and Argo's namespaces.
   * @default - the clients' system roots
   */
  readonly caCertificate?: { readonly secretName: string; readonly key: string };
}

/**
 * Everything a stack's config says (the `cd4ml:` namespace of `Pulumi.<stack>.yaml`), checked. Each field is
 * the setting of the same name described in {@link SETTINGS}; unset optional fields take the Platform's defaults.
 */
export interface StackConfig {
  readonly environment: EnvironmentName;
  readonly namespacePrefix: string;
  readonly storageClassName?: string;
  readonly objectStoreStorage?: string;
  readonly databaseStorage?: string;
  readonly trackingServerReplicas?: number;
  readonly workflowServerReplicas?: number;
  readonly images?: PlatformImages;
  readonly examplesImage?: string;
  readonly pipelines?: string[];
  readonly gpu?: GpuScheduling;
  /** The pipeline namespace's quota over the preset's. */
  readonly pipelineQuota?: PlatformProps['pipelineQuota'];
  /** Pipeline domains beside the pipeline namespace (the Platform checks their settings). */
  readonly pipelineDomains?: PlatformProps['pipelineDomains'];
  /** Resources of a step that sets none, over the preset's. */
  readonly stepDefaults?: PlatformProps['stepDefaults'];
  /** Per-component settings over the preset. */
  readonly components?: PlatformProps['components'];
  /** Whether the stack renders Argo's CRDs. */
  readonly argoCrds?: boolean;
  /** Argo's instance ID. */
  readonly workflowInstanceId?: string;
  readonly objectStore?: ExternalObjectStoreConfig;
  readonly database?: ExternalDatabaseConfig;
  readonly allowInClusterDatabase: boolean;
  readonly workflowAuthMode?: ArgoAuthMode;
  readonly kubeApiCidr?: string;
  readonly trackingServerHosts?: string[];
  /** The UIs' Ingresses. */
  readonly ingress?: IngressConfig;
  /** Bucket names by role (required with an external object store, whose bucket names are global on AWS). */
  readonly buckets?: BucketNames;
  /** Argo CD Applications for the GitOps output (the cdk8s side only: they describe where the output lives). */
  readonly argoCd?: ArgoCdApplications;
  /** The k3d cluster to write beside the output (the sandbox's by default). */
  readonly k3d?: K3dClusterOptions;
  /** Level-2 delivery of the seed pipeline (the construct checks the values). */
  readonly delivery?: DeliveryConfig;
  /** The `credentials` overrides as given (a secret JSON string, never logged), read by the program to place them. */
  readonly secrets: { readonly credentials?: string };
}

/**
 * An environment's delivery of the example pipeline, as a definition sets it: the triggers, one model endpoint per
 * environment delivered to, and the Delivery (the constructs check every value and name it in their reports).
 */
export interface DeliveryConfig {
  /** Where builds are pushed, without tag (`registry.example/team/cd4ml-examples`). */
  readonly image: string;
  /** The environments delivered to in this cluster. @default - every environment of the triggers' rules (dev, staging, prod) */
  readonly environments?: EnvironmentName[];
  /** The pipeline delivered. @default 'breast-cancer' */
  readonly pipeline?: string;
  /** The gate every environment applies. */
  readonly gate: { readonly metric: string; readonly minimum?: number; readonly minImprovement?: number };
  /** The Git host sending the push webhooks. @default 'github' */
  readonly gitHost?: string;
  /** Only pushes of this repository (`owner/name`). @default - any repository signing with the shared secret */
  readonly repository?: string;
  /** Push over plain HTTP (the sandbox's k3d registry). @default false */
  readonly insecureRegistry?: boolean;
  /** Ports the checkout, test and build steps may reach outside the cluster. @default [443] */
  readonly egressPorts?: number[];
  /** The Git credential Secret (keys username, password) in the CI namespace. @default - none: a public repository */
  readonly gitCredentials?: string;
  /** The registry credential Secret (`.dockerconfigjson`) in the CI namespace. @default - none */
  readonly registryCredentials?: string;
}

/** The platform's buckets by role, as `PlatformProps.buckets` takes them. */
export type BucketNames = NonNullable<PlatformProps['buckets']>;
const BUCKET_ROLES_OF_PLATFORM = ['trackingArtifacts', 'workflowArtifacts', 'data', 'databaseBackups'] as const;

/** The settings a stack may set, and which of them must be secret. */
export const SETTINGS = {
  environment: 'sandbox, dev, staging or prod (default: the stack name)',
  namespacePrefix: 'prefix of the three namespaces, e.g. "team-a-" (default: none)',
  storageClassName: 'StorageClass of the object store and Postgres volumes (give one that retains its volumes)',
  objectStoreStorage: 'size of the in-cluster object store volume, e.g. "50Gi"',
  databaseStorage: 'size of the Postgres volume, e.g. "20Gi"',
  trackingServerReplicas: 'MLflow replicas',
  workflowServerReplicas: 'argo-server replicas',
  images: 'object of image overrides (seaweedfs, minio, minioClient, postgres, mlflow, argoController, argoServer, argoExecutor, python)',
  examplesImage: 'image of the example pipelines\' steps',
  pipelines: 'list of example pipelines to deploy (breast-cancer, breast-cancer-gpu-sweep)',
  gpu: 'GPU node pool: { nodeSelector, tolerations, maxPerStep, resourceName, productLabel }',
  pipelineQuota: 'the pipeline namespace\'s quota over the preset\'s: { cpu, memory, memoryLimit, gpus, pods }',
  stepDefaults: 'resources of a step that sets none, over the preset\'s: { cpu, memory, memoryLimit, cpuLimit }',
  pipelineDomains: 'pipeline domains beside the pipeline namespace, by name: { dev: {}, ... }, each { namespace, quota, stepDefaults, trackingUser } (a namespace, runner and workflow controller of its own; delivery environments of the same name run there)',
  argoCrds: 'false when the cluster has Argo\'s CRDs already (another stack renders them, or an Argo with full CRDs); default true',
  workflowInstanceId: 'Argo instance ID: the controller handles only workflows labelled with it (another Argo in the cluster leaves them alone)',
  components: 'per-component settings: { objectStore, database, trackingServer, workflowController, workflowServer }, each { resources, replicas, nodeSelector, tolerations, affinity, priorityClassName, podAnnotations, podLabels, extraArgs, extraEnv, service: { type, annotations } }',
  objectStore: 'external S3 instead of the in-cluster SeaweedFS: { endpoint, region, egressCidr } (secrets s3<User>AccessKeyId, s3<User>SecretAccessKey for each consumer)',
  database: 'external Postgres instead of the in-cluster one: { host, port, trackingDatabase, archiveDatabase, egressCidr, sslMode, caCertificate: { secretName, key } } (secrets trackingDbUsername, trackingDbPassword, archiveDbUsername, archiveDbPassword)',
  allowInClusterDatabase: 'true to run prod on the in-cluster Postgres (default false: prod needs an external database)',
  workflowAuthMode: 'client (default) or server (sandbox only)',
  kubeApiCidr: 'CIDR of the Kubernetes API server for egress NetworkPolicies (default 172.16.0.0/12, k3d: set it on any other cluster)',
  trackingServerHosts: 'list of further external host names MLflow answers to (an ingress host is added by itself)',
  ingress: 'the UIs\' Ingresses: { className, controller: { namespace, podLabels }, tls: { clusterIssuer | issuer | secretName }, hosts: { trackingServer, workflowServer, objectStore, objectStoreConsole }, annotations }',
  k3d: 'the sandbox\'s k3d cluster, written by npm run synth to dist/k3d/<name>.yaml: { name, agents, k3sImage, subnet, storageHostPath, registry: { name, hostPort }, ingressPorts: { http, https } }',
  argoCd: 'Argo CD Applications for the GitOps output (npm run synth only): { repoURL, targetRevision, path, namespace, project, destinationServer }',
  delivery: 'Level-2 delivery of the example pipeline: { image, environments, pipeline, gate: { metric, minimum, minImprovement }, gitHost, repository, insecureRegistry, egressPorts, gitCredentials, registryCredentials }',
  buckets: 'bucket names by role: { trackingArtifacts, workflowArtifacts, data, databaseBackups } (required with an external objectStore; steps read the data bucket as CD4ML_BUCKET_DATA whatever its name)',
  s3MlflowAccessKeyId: 'secret: external S3 access key of MLflow (its artifact bucket only)',
  s3MlflowSecretAccessKey: 'secret: external S3 secret key of MLflow',
  s3WorkflowsAccessKeyId: 'secret: external S3 access key of Argo\'s artifact repository (its artifact bucket only)',
  s3WorkflowsSecretAccessKey: 'secret: external S3 secret key of Argo\'s artifact repository',
  s3PipelinesAccessKeyId: 'secret: external S3 access key of the pipeline steps (the data bucket only)',
  s3PipelinesSecretAccessKey: 'secret: external S3 secret key of the pipeline steps',
  s3PostgresBackupAccessKeyId: 'secret: external S3 access key of the in-cluster Postgres backup (the backup bucket only)',
  s3PostgresBackupSecretAccessKey: 'secret: external S3 secret key of the in-cluster Postgres backup',
  trackingDbUsername: 'secret: role of the external MLflow database',
  trackingDbPassword: 'secret: password of the external MLflow database',
  archiveDbUsername: 'secret: role of the external Argo archive database',
  archiveDbPassword: 'secret: password of the external Argo archive database',
  credentials: 'secret: object { "<secret name>": { "<key>": "<value>" } } overriding credentials the cluster would generate',
} as const;

/**
 * The consumers of an external object store, each with its own key (user name as the platform grants it, and the
 * word in its config keys `s3<Word>AccessKeyId` / `s3<Word>SecretAccessKey`); `postgres-backup` only with the
 * in-cluster Postgres.
 */
export const EXTERNAL_S3_USERS: ReadonlyArray<readonly [string, string]> = [['mlflow', 'Mlflow'], ['workflows', 'Workflows'], ['pipelines', 'Pipelines'], ['postgres-backup', 'PostgresBackup']];

const SECRET_SETTINGS = [...EXTERNAL_S3_USERS.flatMap(([, w]) => [`s3${w}AccessKeyId`, `s3${w}SecretAccessKey`]), 'trackingDbUsername', 'trackingDbPassword', 'archiveDbUsername', 'archiveDbPassword', 'credentials'];

/** An environment's definition: its file, and the settings in it (`stacks/environments/<environment>.yaml`). */
export interface DefinitionSource {
  /** Where it was read from, as problems name it. */
  readonly file: string;
  /** Its settings (YAML values). */
  readonly values: Readonly<Record<string, unknown>>;
}

/** The settings whose values are objects, lists or booleans. */
const STRUCTURED = ['objectStore', 'database', 'buckets', 'credentials', 'gpu', 'pipelineQuota', 'pipelineDomains', 'stepDefaults', 'images', 'pipelines', 'trackingServerHosts', 'ingress', 'components', 'argoCrds', 'argoCd', 'k3d', 'delivery'];

/** The settings Pulumi's stack config holds: which definition, and the secrets (never in the definition). */
const PULUMI_SETTINGS = ['environment', ...SECRET_SETTINGS];

/** Whether a setting belongs to the environment's definition (read by both engines) rather than to a Pulumi stack. */
export function isDefinitionSetting(name: string): boolean {
  return name in SETTINGS && !PULUMI_SETTINGS.includes(name);
}

/** The folder of the environments' definitions: `stacks/environments/` of this repository, from source or build. */
export function environmentsDir(from = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'stacks', 'environments');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return join(from, 'environments');
  }
}

/**
 * Reads an environment's definition, `<dir>/<environment>.yaml`: the one place its settings live, which `npm run
 * synth` (cdk8s) and `pulumi up` both read.
 */
export function readDefinition(environment: EnvironmentName, dir = environmentsDir()): DefinitionSource {
  const path = join(dir, `${environment}.yaml`);
  const file = relative(process.cwd(), path) || path;
  // the sandbox may go without one (the preset's defaults); another environment without its file would deploy the
  // defaults (namespaces cd4ml, argo, ml-pipelines) over whatever shares the cluster
  if (!existsSync(path) && environment === EnvironmentName.SANDBOX) return { file, values: {} };
  if (!existsSync(path)) throw new Cd4mlValidationError([{ path: file, field: '(file)', value: undefined, message: `is missing: ${environment} has no definition`, fix: `write ${file} (its settings, e.g. namespacePrefix: ${environment}-), or deploy another environment` }]);
  const values = parse(readFileSync(path, 'utf8')) as unknown;
  if (values === null || values === undefined) return { file, values: {} };
  if (typeof values !== 'object' || Array.isArray(values)) {
    throw new Cd4mlValidationError([{ path: file, field: '(file)', value: typeof values, message: 'is not a YAML mapping of settings', fix: 'write one setting per line, e.g. storageClassName: standard' }]);
  }
  return { file, values: values as Record<string, unknown> };
}

/** The environment a Pulumi stack deploys: `cd4ml:environment`, or the stack's name. */
export function stackEnvironment(stack: string, all: Readonly<Record<string, string>>): EnvironmentName {
  const name = all['cd4ml:environment'] ?? stack;
  const problem = checkEnvironmentName(name, { path: `Pulumi stack ${stack}`, field: 'cd4ml:environment' });
  if (problem) throw new Cd4mlValidationError([{ ...problem, fix: `${problem.fix} (or name the stack after one: sandbox, dev, staging, prod)` }]);
  return name as EnvironmentName;
}

/**
 * Reads and checks an environment: its definition (the settings both engines share) and, for Pulumi, the stack's
 * config (`cd4ml:environment` and the secrets; Pulumi's flat map, `cd4ml:<key>` -> string), reporting every problem
 * at once. Nothing is deployed before this passes.
 * @param secretKeys the config keys Pulumi holds as secrets
 * @param engine 'cdk8s' needs no secret values: the output refers to Secrets by name
 */
export function parseStackConfig(stack: string, all: Readonly<Record<string, string>>, secretKeys: readonly string[], definition: DefinitionSource, engine: 'pulumi' | 'cdk8s' = 'pulumi'): StackConfig {
  const path = `Pulumi stack ${stack}`;
  const problems = new Problems();
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(all)) {
    if (!key.startsWith('cd4ml:')) continue;
    const name = key.slice('cd4ml:'.length);
    const shown = SECRET_SETTINGS.includes(name) || secretKeys.includes(key) ? '(secret)' : value;
    if (isDefinitionSetting(name)) {
      problems.add({ path, field: `cd4ml:${name}`, value: shown, message: 'belongs to the environment\'s definition, which both engines read', fix: `move it to ${definition.file} (as \`${name}: ...\`) and remove it with \`pulumi config rm cd4ml:${name}\`` });
    } else if (!(name in SETTINGS)) {
      problems.add({ path, field: `cd4ml:${name}`, value: shown, message: 'is not a cd4ml setting', fix: `remove it, or use one of ${PULUMI_SETTINGS.join(', ')} (the other settings go in ${definition.file})` });
    } else {
      raw[name] = value;
    }
  }
  for (const [name, value] of Object.entries(definition.values)) {
    if (SECRET_SETTINGS.includes(name)) {
      problems.add({ path: definition.file, field: name, value: '(redacted)', message: 'holds a credential in a committed file', fix: `remove it, rotate it, and set it with \`pulumi config set --secret cd4ml:${name} ...\`` });
    } else if (!isDefinitionSetting(name)) {
      problems.add({ path: definition.file, field: name, value: name === 'environment' ? value : '(not shown)', message: name === 'environment' ? 'is set by the file\'s name' : 'is not a cd4ml setting', fix: name === 'environment' ? 'remove it: the file is named after its environment' : `remove it, or use one of ${Object.keys(SETTINGS).filter(isDefinitionSetting).join(', ')}` });
    } else {
      // structured settings are read as JSON, as Pulumi hands them over; a plain string stays a string
      raw[name] = typeof value === 'string' && !STRUCTURED.includes(name) ? value : JSON.stringify(value);
    }
  }
  const site = (field: string) => (isDefinitionSetting(field.split(/[.[]/)[0]) ? { path: definition.file, field } : { path, field: `cd4ml:${field}` });
  const json = <T>(name: string): T | undefined => {
    if (raw[name] === undefined) return undefined;
    try {
      return JSON.parse(raw[name]) as T;
    } catch {
      problems.add({ ...site(name), value: SECRET_SETTINGS.includes(name) ? '(secret)' : raw[name], message: 'is not valid JSON/YAML structure', fix: `give it as a YAML object or list in ${isDefinitionSetting(name) ? definition.file : 'Pulumi.<stack>.yaml'}` });
      return undefined;
    }
  };
  const num = (name: string): number | undefined => {
    if (raw[name] === undefined) return undefined;
    const n = Number(raw[name]);
    problems.addIf(checkCount(n, 1, site(name)));
    return n;
  };
  const quantity = (name: string): string | undefined => {
    if (raw[name] !== undefined) problems.addIf(Quantity.check(raw[name], QuantityKind.BYTES, site(name)));
    return raw[name];
  };
  for (const name of SECRET_SETTINGS) {
    if (raw[name] !== undefined && !secretKeys.includes(`cd4ml:${name}`)) {
      problems.add({ ...site(name), value: '(redacted)', message: 'holds a credential in plain text', fix: `set it with \`pulumi config set --secret cd4ml:${name} ...\`` });
    }
  }

  const environment = (raw.environment ?? stack) as EnvironmentName;
  problems.addIf(checkEnvironmentName(environment, site('environment')));
  const namespacePrefix = raw.namespacePrefix ?? '';
  if (namespacePrefix !== '') problems.addIf(checkDnsLabel(`${namespacePrefix}ml-pipelines`, site('namespacePrefix')));
  const objectStore = json<ExternalObjectStoreConfig>('objectStore');
  const database = json<ExternalDatabaseConfig>('database');
  const authMode = raw.workflowAuthMode;
  if (authMode !== undefined && !(Object.values(ArgoAuthMode) as string[]).includes(authMode)) {
    problems.add({ ...site('workflowAuthMode'), value: authMode, message: 'is not an auth mode', fix: 'use client (or server, for a throwaway sandbox)' });
  } else if (authMode === ArgoAuthMode.SERVER && environment !== EnvironmentName.SANDBOX) {
    problems.add({ ...site('workflowAuthMode'), value: authMode, message: `lets anyone who reaches argo-server act as it, in ${environment}`, fix: 'use client auth outside the sandbox' });
  }
  const allowInClusterDatabase = raw.allowInClusterDatabase === 'true';
  if (raw.allowInClusterDatabase !== undefined && !['true', 'false'].includes(raw.allowInClusterDatabase)) {
    problems.add({ ...site('allowInClusterDatabase'), value: raw.allowInClusterDatabase, message: 'is not true or false', fix: 'set true or false' });
  }
  if (environment === EnvironmentName.PROD && !database && !allowInClusterDatabase) {
    problems.add({ ...site('database'), value: undefined, message: 'is missing: prod would keep its runs and registry in the in-cluster Postgres', fix: `configure database (an external, backed-up server), or opt in with allowInClusterDatabase: true, in ${definition.file}` });
  }
  const secrets: { credentials?: string } = {};
  const requireSecret = (name: string, because: string) => {
    // the cdk8s output refers to the Secret by name; only Pulumi creates it from config
    if (engine === 'cdk8s') return;
    if (raw[name] === undefined) problems.add({ ...site(name), value: undefined, message: `is missing (${because})`, fix: `set it with \`pulumi config set --secret cd4ml:${name} ...\`` });
  };
  const buckets = json<BucketNames>('buckets');
  if (objectStore) {
    // an external S3's buckets already exist, under names that are global on AWS: name every one the platform uses
    const needed = BUCKET_ROLES_OF_PLATFORM.filter((role) => role !== 'databaseBackups' || !database);
    const missing = needed.filter((role) => typeof (buckets as Record<string, unknown> | undefined)?.[role] !== 'string');
    if (missing.length > 0) problems.add({ ...site('buckets'), value: buckets, message: `does not name the external object store's ${missing.join(', ')} bucket${missing.length === 1 ? '' : 's'}`, fix: `name them in ${definition.file}, e.g. buckets: { ${missing[0]}: acme-ml-${missing[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} }` });
    if (!objectStore.endpoint) problems.add({ ...site('objectStore'), value: objectStore, message: 'has no endpoint', fix: 'give objectStore.endpoint, e.g. https://s3.eu-central-1.amazonaws.com' });
    for (const [user, word] of EXTERNAL_S3_USERS) {
      if (user === 'postgres-backup' && database) continue;
      requireSecret(`s3${word}AccessKeyId`, `each consumer of the external object store needs its own key: ${user}`);
      requireSecret(`s3${word}SecretAccessKey`, `each consumer of the external object store needs its own key: ${user}`);
    }
  }
  if (database) {
    if (!database.host) problems.add({ ...site('database'), value: database, message: 'has no host', fix: 'give database.host' });
    for (const s of ['trackingDbUsername', 'trackingDbPassword', 'archiveDbUsername', 'archiveDbPassword']) requireSecret(s, 'the external database needs credentials');
  }
  const credentials = json<Record<string, Record<string, string>>>('credentials');
  if (raw.credentials !== undefined) secrets.credentials = raw.credentials;
  if (raw.credentials !== undefined && (typeof credentials !== 'object' || credentials === null || Array.isArray(credentials))) {
    problems.add({ ...site('credentials'), value: '(secret)', message: 'is not an object of Secrets', fix: 'give { "<secret>": { "<key>": "<value>" } }, or remove it' });
  } else if (credentials) {
    for (const [name, keys] of Object.entries(credentials)) {
      if (typeof keys !== 'object' || keys === null || Object.values(keys).some((v) => typeof v !== 'string')) problems.add({ ...site(`credentials.${name}`), value: '(secret)', message: 'is not a map of key to string value', fix: 'give { "<key>": "<value>" }' });
    }
  }
  // Structured settings: every key known, every value of the right shape.
  const keysOf = (name: string, value: unknown, allowed: readonly string[]) => {
    if (value === undefined) return;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.add({ ...site(name), value, message: 'is not an object', fix: `give { ${allowed.join(', ')} }` });
      return;
    }
    // (an unknown field named like a credential is never echoed)
    for (const k of Object.keys(value)) if (!allowed.includes(k)) problems.add({ ...site(`${name}.${k}`), value: /pass|secret|token|credential|private/i.test(k) ? '(redacted)' : (value as Record<string, unknown>)[k], message: 'is not a field of this setting', fix: `use ${allowed.join(', ')}` });
  };
  const listOfStrings = (name: string, value: unknown) => {
    if (value !== undefined && (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))) problems.add({ ...site(name), value, message: 'is not a list of strings', fix: 'give a YAML list, e.g. [breast-cancer]' });
  };
  const k3d = json<K3dClusterOptions>('k3d');
  keysOf('k3d', k3d, ['name', 'agents', 'k3sImage', 'subnet', 'storageHostPath', 'registry', 'ingressPorts']);
  if (k3d && typeof k3d === 'object') checkK3dOptions({ ...k3d, kubeApiCidr: raw.kubeApiCidr }, definition.file).forEach((p) => problems.add({ ...p, field: `k3d.${p.field}` }));
  const delivery = json<DeliveryConfig>('delivery');
  keysOf('delivery', delivery, ['image', 'environments', 'pipeline', 'gate', 'gitHost', 'repository', 'insecureRegistry', 'egressPorts', 'gitCredentials', 'registryCredentials']);
  if (delivery && typeof delivery === 'object') {
    keysOf('delivery.gate', delivery.gate, ['metric', 'minimum', 'minImprovement']);
    if (delivery.gate === undefined) problems.add({ ...site('delivery.gate'), value: undefined, message: 'is missing', fix: 'give the gate, e.g. { metric: roc_auc, minimum: 0.9 }' });
    if (delivery.environments !== undefined && (!Array.isArray(delivery.environments) || delivery.environments.some((e) => !DELIVERY_ENVIRONMENTS.includes(e)))) {
      problems.add({ ...site('delivery.environments'), value: delivery.environments, message: 'is not a list of environments a delivery goes to', fix: `give some of ${DELIVERY_ENVIRONMENTS.join(', ')}, e.g. [${environment === EnvironmentName.SANDBOX ? 'dev, staging, prod' : environment}]` });
    }
    for (const f of ['gitCredentials', 'registryCredentials'] as const) if (delivery[f] !== undefined) problems.addIf(checkDnsSubdomain(delivery[f], site(`delivery.${f}`)));
  }
  const argoCd = json<ArgoCdApplications>('argoCd');
  keysOf('argoCd', argoCd, ['repoURL', 'targetRevision', 'path', 'namespace', 'project', 'destinationServer']);
  if (argoCd && typeof argoCd === 'object') checkArgoCdApplications(argoCd, definition.file).forEach((p) => problems.add(p));
  keysOf('objectStore', objectStore, ['endpoint', 'region', 'egressCidr']);
  keysOf('buckets', buckets, BUCKET_ROLES_OF_PLATFORM);
  keysOf('database', database, ['host', 'port', 'trackingDatabase', 'archiveDatabase', 'egressCidr', 'sslMode', 'caCertificate']);
  keysOf('database.caCertificate', database?.caCertificate, ['secretName', 'key']);
  const ca = database?.caCertificate;
  if (ca && typeof ca === 'object') {
    problems.addIf(checkDnsSubdomain(ca.secretName, site('database.caCertificate.secretName')));
    problems.addIf(checkSecretKey(ca.key, site('database.caCertificate.key')));
  }
  keysOf('gpu', json('gpu'), ['nodeSelector', 'maxPerStep', 'resourceName', 'tolerations', 'productLabel']);
  keysOf('pipelineQuota', json('pipelineQuota'), ['cpu', 'memory', 'memoryLimit', 'gpus', 'pods']);
  keysOf('stepDefaults', json('stepDefaults'), ['cpu', 'memory', 'memoryLimit', 'cpuLimit']);
  keysOf('images', json('images'), ['seaweedfs', 'minio', 'minioClient', 'postgres', 'mlflow', 'argoController', 'argoServer', 'argoExecutor', 'python']);
  listOfStrings('pipelines', json('pipelines'));
  listOfStrings('trackingServerHosts', json('trackingServerHosts'));
  const ingress = json<IngressConfig>('ingress');
  keysOf('ingress', ingress, ['className', 'controller', 'tls', 'hosts', 'annotations']);
  if (ingress && typeof ingress === 'object') {
    keysOf('ingress.controller', ingress.controller, ['namespace', 'podLabels']);
    keysOf('ingress.tls', ingress.tls, ['clusterIssuer', 'issuer', 'secretName']);
    if (!ingress.controller || typeof ingress.controller !== 'object') problems.add({ ...site('ingress.controller'), value: ingress.controller, message: 'is missing', fix: 'give the controller\'s pods: { namespace: kube-system, podLabels: { app.kubernetes.io/name: traefik } }' });
    else {
      problems.addIf(checkDnsLabel(ingress.controller.namespace, site('ingress.controller.namespace')));
      checkLabels(ingress.controller.podLabels, site('ingress.controller.podLabels')).forEach((p) => problems.add(p));
    }
    const tls = ingress.tls;
    if (!tls || typeof tls !== 'object' || Object.values(tls).filter((v) => v !== undefined).length !== 1) problems.add({ ...site('ingress.tls'), value: tls, message: 'does not name exactly one of clusterIssuer, issuer or secretName', fix: 'give one, e.g. { clusterIssuer: letsencrypt }' });
    else if (tls.secretName !== undefined) problems.addIf(checkDnsSubdomain(tls.secretName, site('ingress.tls.secretName')));
  }

  const config: StackConfig = {
    environment,
    namespacePrefix,
    storageClassName: raw.storageClassName,
    objectStoreStorage: quantity('objectStoreStorage'),
    databaseStorage: quantity('databaseStorage'),
    trackingServerReplicas: num('trackingServerReplicas'),
    workflowServerReplicas: num('workflowServerReplicas'),
    images: json<PlatformImages>('images'),
    examplesImage: raw.examplesImage,
    pipelines: json<string[]>('pipelines'),
    gpu: json<GpuScheduling>('gpu'),
    pipelineQuota: json<PlatformProps['pipelineQuota']>('pipelineQuota'),
    pipelineDomains: json<PlatformProps['pipelineDomains']>('pipelineDomains'),
    stepDefaults: json<PlatformProps['stepDefaults']>('stepDefaults'),
    components: json<PlatformProps['components']>('components'),
    argoCrds: json<boolean>('argoCrds'),
    workflowInstanceId: raw.workflowInstanceId,
    objectStore,
    database,
    allowInClusterDatabase,
    workflowAuthMode: authMode as ArgoAuthMode | undefined,
    kubeApiCidr: raw.kubeApiCidr,
    trackingServerHosts: json<string[]>('trackingServerHosts'),
    ingress,
    buckets,
    argoCd,
    k3d,
    delivery,
    secrets,
  };
  problems.throwIfAny();
  return config;
}
