import { Problem } from './errors';

/** The environments cd4ml knows; each has a preset. Feature branches deploy to DEV, main to STAGING, tags to PROD. */
export enum EnvironmentName {
  /** A laptop k3d/kind cluster: smallest footprint, one replica of everything. */
  SANDBOX = 'sandbox',
  /** Shared development cluster (feature branches). */
  DEV = 'dev',
  /** Pre-production (the main branch). */
  STAGING = 'staging',
  /** Production (release tags): replicas for stateless servers, larger volumes and quotas. */
  PROD = 'prod',
}

/** Requests and limits of one container. Quantities as Kubernetes writes them. */
export interface ContainerResources {
  /** CPU request, e.g. `100m`. */
  readonly cpu: string;
  /** Memory request, e.g. `256Mi`. */
  readonly memory: string;
  /** Memory limit, e.g. `512Mi` (always set: memory is not compressible). */
  readonly memoryLimit: string;
  /** CPU limit; unset by default so that bursts are throttled only by the node. */
  readonly cpuLimit?: string;
}

/** Sizing of a stateful store. */
export interface StoreSizing {
  /** Container resources. */
  readonly resources: ContainerResources;
  /** PersistentVolumeClaim size, e.g. `10Gi`. */
  readonly storage: string;
}

/** Sizing of a stateless server. */
export interface ServerSizing {
  /** Container resources. */
  readonly resources: ContainerResources;
  /** Replicas. */
  readonly replicas: number;
}

/** The pipeline namespace's budget. */
export interface PipelineQuota {
  /** Total CPU requests of all pipeline pods. */
  readonly cpu: string;
  /** Total memory requests of all pipeline pods. */
  readonly memory: string;
  /** Total memory limits of all pipeline pods. */
  readonly memoryLimit: string;
  /** Total GPUs (`nvidia.com/gpu` requests); 0 forbids GPU steps. */
  readonly gpus: number;
  /** Maximum number of pods at once. */
  readonly pods: number;
}

/** Everything an environment decides about sizes and replicas. */
export interface EnvironmentPreset {
  /** The environment. */
  readonly name: EnvironmentName;
  /** MinIO. */
  readonly objectStore: StoreSizing;
  /** Postgres. */
  readonly database: StoreSizing;
  /** MLflow tracking server. */
  readonly trackingServer: ServerSizing & { readonly workers: number };
  /** Argo workflow-controller. */
  readonly workflowController: ServerSizing;
  /** Argo server (UI and API). */
  readonly workflowServer: ServerSizing;
  /** One-shot setup Jobs (credentials, buckets, databases). */
  readonly setupJob: ContainerResources;
  /** The pipeline namespace's quota. */
  readonly pipelineQuota: PipelineQuota;
  /** Defaults for a pipeline step that sets no resources of its own. */
  readonly stepDefaults: ContainerResources;
}

const SANDBOX: EnvironmentPreset = {
  name: EnvironmentName.SANDBOX,
  objectStore: { resources: { cpu: '100m', memory: '256Mi', memoryLimit: '512Mi' }, storage: '10Gi' },
  database: { resources: { cpu: '100m', memory: '256Mi', memoryLimit: '512Mi' }, storage: '5Gi' },
  trackingServer: { resources: { cpu: '100m', memory: '512Mi', memoryLimit: '1Gi' }, replicas: 1, workers: 1 },
  workflowController: { resources: { cpu: '100m', memory: '128Mi', memoryLimit: '512Mi' }, replicas: 1 },
  workflowServer: { resources: { cpu: '50m', memory: '96Mi', memoryLimit: '256Mi' }, replicas: 1 },
  setupJob: { cpu: '50m', memory: '64Mi', memoryLimit: '128Mi' },
  pipelineQuota: { cpu: '4', memory: '8Gi', memoryLimit: '12Gi', gpus: 0, pods: 50 },
  stepDefaults: { cpu: '250m', memory: '512Mi', memoryLimit: '1Gi' },
};

const DEV: EnvironmentPreset = {
  ...SANDBOX,
  name: EnvironmentName.DEV,
  objectStore: { resources: { cpu: '250m', memory: '512Mi', memoryLimit: '1Gi' }, storage: '50Gi' },
  database: { resources: { cpu: '250m', memory: '512Mi', memoryLimit: '1Gi' }, storage: '20Gi' },
  trackingServer: { resources: { cpu: '250m', memory: '768Mi', memoryLimit: '1536Mi' }, replicas: 1, workers: 2 },
  pipelineQuota: { cpu: '16', memory: '64Gi', memoryLimit: '96Gi', gpus: 2, pods: 200 },
};

const STAGING: EnvironmentPreset = {
  ...DEV,
  name: EnvironmentName.STAGING,
  trackingServer: { resources: { cpu: '250m', memory: '768Mi', memoryLimit: '1536Mi' }, replicas: 2, workers: 2 },
  workflowServer: { resources: { cpu: '100m', memory: '128Mi', memoryLimit: '512Mi' }, replicas: 2 },
};

const PROD: EnvironmentPreset = {
  ...STAGING,
  name: EnvironmentName.PROD,
  objectStore: { resources: { cpu: '500m', memory: '1Gi', memoryLimit: '2Gi' }, storage: '500Gi' },
  database: { resources: { cpu: '500m', memory: '1Gi', memoryLimit: '2Gi' }, storage: '100Gi' },
  trackingServer: { resources: { cpu: '500m', memory: '1Gi', memoryLimit: '2Gi' }, replicas: 2, workers: 4 },
  workflowController: { resources: { cpu: '250m', memory: '256Mi', memoryLimit: '1Gi' }, replicas: 1 },
  pipelineQuota: { cpu: '64', memory: '256Gi', memoryLimit: '384Gi', gpus: 8, pods: 500 },
};

const PRESETS: Record<EnvironmentName, EnvironmentPreset> = {
  [EnvironmentName.SANDBOX]: SANDBOX,
  [EnvironmentName.DEV]: DEV,
  [EnvironmentName.STAGING]: STAGING,
  [EnvironmentName.PROD]: PROD,
};

/** The names of every preset, in order of size. */
export const ENVIRONMENT_NAMES: readonly EnvironmentName[] = Object.values(EnvironmentName);

/** True when `name` is a known environment. */
export function isEnvironmentName(name: string): name is EnvironmentName {
  return (ENVIRONMENT_NAMES as readonly string[]).includes(name);
}

/** Checks an environment name given as a string (from config or the command line). */
export function checkEnvironmentName(name: string | undefined, site: { path: string; field: string }): Problem | undefined {
  if (typeof name === 'string' && isEnvironmentName(name)) return undefined;
  return { ...site, value: name, message: 'is not a known environment preset', fix: `use one of ${ENVIRONMENT_NAMES.join(', ')}` };
}

/** The preset of an environment. */
export function environmentPreset(name: EnvironmentName): EnvironmentPreset {
  return PRESETS[name];
}
