import { k8s } from 'cdk8s-plus-27';
import { KEEP_ON_PRUNE } from '../k8s/labels';
import { sharedObject, validateRenderedObjects } from '../k8s/output-checks';
import { ApiObject } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import {
  checkBucketName, checkDnsSubdomain, checkEnvironmentName, checkExtendedResourceName, checkHostPattern, checkImage, checkLabels, checkNamespace,
  checkTolerations, describeType, EnvironmentName, environmentPreset, EnvironmentPreset, fail, Problems, checkNoNulls, isPlainObject, withoutFields, checkCount, Quantity, QuantityKind, snapshot,
  checkLabelKey, checkLabelValue, checkResources, ContainerResources, PipelineQuota, checkDnsLabel, suggestName,
} from '../../lib';
import { ArgoCrds } from './argo-crds';
import { GPU_REFUSED } from './refused';
import { CredentialsGenerator } from './credentials-generator';
import { ExternalPostgresDatabase, ExternalPostgresDatabaseProps, IPostgresDatabase, PostgresServer } from './database';
import { DefaultImages } from '../k8s/images';
import { PlatformNamespace } from '../k8s/namespace';
import { checkKubeApiAccess, checkPeers, IConnectable, KubeApiAccess, NetworkPeer } from '../k8s/network';
import { checkIngress, PlatformIngress, renderIngress } from './ingress';
import { checkPodSettings, PodSettings } from '../k8s/pod-settings';
import { Bucket, ExternalObjectStore, ExternalObjectStoreProps, IObjectStore, MinioObjectStore } from './object-store';
import { GpuScheduling, PipelineRunner } from './pipeline-runner';
import { SeaweedObjectStore } from './seaweedfs';
import { TrackingServer } from './tracking-server';
import { ArgoAuthMode, WorkflowEngine } from './workflow-engine';
import { WorkflowController } from './workflow-controller';

/** Which S3 server runs in the cluster. */
export enum InClusterObjectStore {
  /** SeaweedFS (Apache-2.0, maintained): the default. See the README's comparison. */
  SEAWEEDFS = 'seaweedfs',
  /**
   * MinIO, at its last community image. Its repository is unmaintained since February 2026 and that image carries
   * CVE-2026-41145 and CVE-2026-40344 (an access key without a valid signature can write objects), which no
   * community build fixes: choose it only to keep an existing MinIO volume, and plan the move.
   */
  MINIO = 'minio',
}

/** Where the platform keeps objects: an S3 server in the cluster (SeaweedFS by default), or an external S3 endpoint. */
export class ObjectStoreChoice {
  /** SeaweedFS in the platform namespace (the default). */
  public static inCluster(): ObjectStoreChoice {
    return new ObjectStoreChoice(undefined, InClusterObjectStore.SEAWEEDFS);
  }

  /**
   * MinIO in the platform namespace, by explicit choice: unmaintained upstream, with known unfixed CVEs
   * (see {@link InClusterObjectStore.MINIO}).
   */
  public static minio(): ObjectStoreChoice {
    return new ObjectStoreChoice(undefined, InClusterObjectStore.MINIO);
  }

  /** An S3 endpoint outside the cluster; its buckets must exist. */
  public static external(props: ExternalObjectStoreProps): ObjectStoreChoice {
    if (!props || props.endpoint === undefined || props.endpoint === '') {
      fail({ path: 'ObjectStoreChoice.external', field: 'endpoint', value: props?.endpoint, message: 'is required for an external object store', fix: 'give the S3 endpoint URL, e.g. "https://s3.eu-central-1.amazonaws.com"' });
    }
    return new ObjectStoreChoice(props, undefined);
  }

  private constructor(
    /** The external store's props, when the store is external. */
    public readonly external: ExternalObjectStoreProps | undefined,
    /** The in-cluster server, when the store is in the cluster. */
    public readonly server: InClusterObjectStore | undefined,
  ) {}
}

/** A StorageClass for the stores whose volumes outlive their claims (`reclaimPolicy: Retain`). */
export interface RetainedStorage {
  /** The provisioner: k3d and k3s `rancher.io/local-path`, EKS `ebs.csi.aws.com`, GKE `pd.csi.storage.gke.io`, AKS `disk.csi.azure.com`. */
  readonly provisioner: string;
  /** The provisioner's parameters (a disk type, say). @default {} */
  readonly parameters?: Record<string, string>;
  /** Name of the StorageClass. @default 'cd4ml-retain' */
  readonly name?: string;
}

/** Where the platform keeps its databases: Postgres in the cluster, or databases on an external server. */
export class DatabaseChoice {
  /** Postgres in the platform namespace (the default). */
  public static inCluster(): DatabaseChoice {
    return new DatabaseChoice(undefined);
  }

  /** Existing databases on an external server: one for MLflow, one for the Argo workflow archive. */
  public static external(props: { readonly trackingServer: ExternalPostgresDatabaseProps; readonly workflowArchive: ExternalPostgresDatabaseProps }): DatabaseChoice {
    return new DatabaseChoice(props);
  }

  private constructor(public readonly external: { readonly trackingServer: ExternalPostgresDatabaseProps; readonly workflowArchive: ExternalPostgresDatabaseProps } | undefined) {}
}

/** Images of every component; each one pinned. */
export interface PlatformImages {
  /** SeaweedFS server (the default in-cluster object store). @default - {@link DefaultImages.SEAWEEDFS} */
  readonly seaweedfs?: string;
  /** MinIO server, when chosen with {@link ObjectStoreChoice.minio}. @default - {@link DefaultImages.MINIO} */
  readonly minio?: string;
  /** MinIO client for the bucket setup Job. @default - {@link DefaultImages.MINIO_CLIENT} */
  readonly minioClient?: string;
  /** Postgres (server and setup Job). @default - {@link DefaultImages.POSTGRES} */
  readonly postgres?: string;
  /** MLflow tracking server, with psycopg2 and boto3. @default - {@link DefaultImages.MLFLOW} */
  readonly mlflow?: string;
  /** Argo workflow-controller. @default - {@link DefaultImages.ARGO_CONTROLLER} */
  readonly argoController?: string;
  /** Argo server. @default - {@link DefaultImages.ARGO_SERVER} */
  readonly argoServer?: string;
  /** Argo executor (non-root). @default - {@link DefaultImages.ARGO_EXECUTOR} */
  readonly argoExecutor?: string;
  /** Python (standard library) for the credentials Job, SeaweedFS's setup and the backup upload. @default - {@link DefaultImages.PYTHON} */
  readonly python?: string;
}

const IMAGE_KEYS = ['seaweedfs', 'minio', 'minioClient', 'postgres', 'mlflow', 'argoController', 'argoServer', 'argoExecutor', 'python'];

/** Settings of one component: its resources over the preset's, and its pod and Service settings. */
export interface ComponentSettings extends PodSettings {
  /** Resources over the preset's: any of `cpu`, `memory`, `memoryLimit`, `cpuLimit`. @default - the preset's */
  readonly resources?: Partial<ContainerResources>;
  /** Replicas; MLflow and argo-server only (the stores and the controller run one). @default - the preset's */
  readonly replicas?: number;
}

/** Settings of each component of the platform. */
export interface PlatformComponents {
  /** The in-cluster object store (SeaweedFS or MinIO). @default - the preset's */
  readonly objectStore?: ComponentSettings;
  /** The in-cluster Postgres. @default - the preset's */
  readonly database?: ComponentSettings;
  /** MLflow. @default - the preset's */
  readonly trackingServer?: ComponentSettings;
  /** Argo's workflow controller. @default - the preset's */
  readonly workflowController?: ComponentSettings;
  /** argo-server. @default - the preset's */
  readonly workflowServer?: ComponentSettings;
}

/**
 * One pipeline domain: an environment (dev, staging, prod) that runs pipelines on the platform in a namespace of its
 * own, as the seed's Flyte domains did on one cluster. Each domain gets its own pipeline runner (service accounts,
 * quota, LimitRange, NetworkPolicies, step defaults, S3 user) and its own workflow controller managing exactly its
 * namespace; the object store, MLflow and argo-server stay the platform's.
 */
export interface PipelineDomainSettings {
  /** The domain's pipeline namespace. @default 'ml-<domain>' */
  readonly namespace?: string;
  /** Its quota, over the platform's pipeline quota: any of `cpu`, `memory`, `memoryLimit`, `gpus`, `pods`. @default - the platform's pipeline quota */
  readonly quota?: Partial<PipelineQuota>;
  /** Resources of a step that sets none, over the platform's step defaults. @default - the platform's step defaults */
  readonly stepDefaults?: Partial<ContainerResources>;
  /**
   * An MLflow user of the domain's own, by name. MLflow grants a user's rights per experiment and registered model, and
   * only READ on what another user created: domains that train one registered model and tell their versions apart by
   * alias (`champion-dev`, `champion-prod`), as the sandbox's delivery does, share the platform pipelines' user. Give a
   * name when the domain logs to experiments and models of its own.
   * @default - the platform pipelines' MLflow user (`pipelines`), its Secret copied into the domain's namespace
   */
  readonly trackingUser?: string;
}

/** A pipeline domain as the platform built it. */
export interface PipelineDomain {
  /** The domain's name (a key of `pipelineDomains`). */
  readonly name: string;
  /** Its pipeline runner, in its namespace: declare the domain's pipelines on it. */
  readonly runner: PipelineRunner;
  /** Its workflow controller (`workflow-controller-<domain>`, in the workflow namespace), managing exactly its namespace. */
  readonly controller: WorkflowController;
}

/** Longest domain name: it names the domain's controller (`workflow-controller-<domain>`) and Argo instance ID. */
const MAX_DOMAIN_NAME = 30;
const DOMAIN_FIELDS = ['namespace', 'quota', 'stepDefaults', 'trackingUser'];

/** Props of {@link Platform}. */
export interface PlatformProps {
  /** The environment whose preset sizes everything. @default EnvironmentName.SANDBOX */
  readonly environment?: EnvironmentName;
  /** Namespace of the object store, Postgres, MLflow and the credentials Job. @default 'cd4ml' */
  readonly namespace?: string;
  /** Namespace of the Argo controller and server. @default 'argo' */
  readonly workflowNamespace?: string;
  /** Namespace where pipelines run. @default 'ml-pipelines' */
  readonly pipelineNamespace?: string;
  /** The object store. @default ObjectStoreChoice.inCluster() */
  readonly objectStore?: ObjectStoreChoice;
  /** The databases. @default DatabaseChoice.inCluster() */
  readonly database?: DatabaseChoice;
  /** Bucket names. @default - `mlflow-artifacts`, `argo-artifacts`, `data`, `db-backups` */
  readonly buckets?: { readonly trackingArtifacts?: string; readonly workflowArtifacts?: string; readonly data?: string; readonly databaseBackups?: string };
  /**
   * Nightly dumps of the in-cluster Postgres to the object store's backup bucket (kept 30 days). An external
   * database is backed up by whoever runs it.
   * @default true
   */
  readonly databaseBackups?: boolean;
  /** Images. @default - {@link DefaultImages} */
  readonly images?: PlatformImages;
  /**
   * An existing StorageClass for the object store's and Postgres' volumes; give one whose `reclaimPolicy` is
   * `Retain`, or a deleted claim deletes its data. Excludes {@link retainedStorage}.
   * @default - the class {@link retainedStorage} renders, else the cluster's default StorageClass
   */
  readonly storageClassName?: string;
  /**
   * Renders a StorageClass with `reclaimPolicy: Retain` for the stores, so deleting their claims (or their namespace)
   * leaves the volumes behind. `false` renders none.
   * @default - in the sandbox `{ provisioner: 'rancher.io/local-path' }` (k3d's); elsewhere none, since the
   * provisioner depends on the cluster: give one here, or a storageClassName of a class that retains
   */
  readonly retainedStorage?: RetainedStorage | false;
  /** Size of the in-cluster object store's volume. @default - the preset's (sandbox 10Gi, dev and staging 50Gi, prod 500Gi) */
  readonly objectStoreStorage?: string;
  /** Size of Postgres' volume. @default - the preset's (sandbox 5Gi, dev and staging 20Gi, prod 100Gi) */
  readonly databaseStorage?: string;
  /** MLflow replicas. @default - the preset's (1 in sandbox and dev, 2 in staging and prod) */
  readonly trackingServerReplicas?: number;
  /** argo-server replicas. @default - the preset's (1 in sandbox and dev, 2 in staging and prod) */
  readonly workflowServerReplicas?: number;
  /** argo-server's auth mode; `SERVER` only for a throwaway sandbox. @default ArgoAuthMode.CLIENT */
  readonly workflowAuthMode?: ArgoAuthMode;
  /** GPU node pool scheduling for pipelines. @default - none: GPU steps are refused */
  readonly gpu?: GpuScheduling;
  /**
   * The pipeline namespace's quota, over the preset's: any of `cpu`, `memory`, `memoryLimit`, `gpus`, `pods`.
   * @default - the preset's (sandbox: 4 CPUs, 8Gi requests, 12Gi limits, no GPUs, 50 pods; 1 GPU at least with `gpu`)
   */
  readonly pipelineQuota?: Partial<PipelineQuota>;
  /**
   * Resources of a step that sets none (the LimitRange's defaults), over the preset's: any of `cpu`, `memory`,
   * `memoryLimit`, `cpuLimit`. @default - the preset's (sandbox: 250m, 512Mi, a 1Gi limit)
   */
  readonly stepDefaults?: Partial<ContainerResources>;
  /**
   * Host names MLflow is reached by from outside the cluster (an Ingress host), added to its `--allowed-hosts`.
   * @default [] (in-cluster names and `kubectl port-forward` only)
   */
  readonly trackingServerHosts?: string[];
  /** Peers (an ingress controller) allowed to reach the MLflow and Argo UIs. @default [] (use `kubectl port-forward`) */
  readonly uiIngressFrom?: NetworkPeer[];
  /**
   * The way in from outside: an Ingress with TLS for each UI given a host (MLflow, argo-server, the in-cluster
   * object store's S3 API), the UIs' NetworkPolicies opened to the ingress controller's pods, and MLflow's host
   * allowed. @default - none: reach the UIs with `kubectl port-forward`
   */
  readonly ingress?: PlatformIngress;
  /**
   * Per-component settings over the preset: resources, replicas (MLflow and argo-server), placement, priority
   * class, pod annotations and labels, extra args and env, and the Service's type and annotations.
   * @default - the preset's resources and replicas, nothing else
   */
  readonly components?: PlatformComponents;
  /**
   * A preset of the team's own (sizes, replicas, quotas, step defaults): an object such as
   * `{ ...environmentPreset(EnvironmentName.DEV), trackingServer: { ... } }`. `environment` still decides the rest
   * (what the sandbox allows, the retained StorageClass). @default - the preset of `environment`
   */
  readonly preset?: EnvironmentPreset;
  /**
   * Render Argo's CRDs. `false` when the cluster has them already: another cd4ml platform renders them (one per
   * cluster), or an Argo installed with its full CRDs, which ours would replace.
   * @default true
   */
  readonly argoCrds?: boolean;
  /**
   * Argo's instance ID: this platform's controller handles only workflows labelled with it
   * (`workflows.argoproj.io/controller-instanceid`), so another Argo in the cluster leaves ours alone and ours leaves
   * theirs. Workflows submitted through argo-server, schedules and event triggers get the label; a Workflow created
   * with kubectl must carry it. @default - none (the controller handles every workflow of its namespace)
   */
  readonly workflowInstanceId?: string;
  /**
   * How the workloads that call the Kubernetes API (the credentials Job, the Argo controller and server, the Argo
   * executor in pipeline pods) reach it: set `cidr` to your API server endpoints' addresses
   * (`kubectl get endpoints kubernetes -n default`).
   * @default - see {@link KubeApiAccess} (172.16.0.0/12, a k3d sandbox's Docker network, on ports 443 and 6443)
   */
  readonly kubeApi?: KubeApiAccess;
  /**
   * Pipeline domains beside the platform's own pipeline namespace, by name (a DNS label, e.g. `dev`): each runs
   * pipelines in a namespace of its own, with its own runner and workflow controller (see {@link PipelineDomainSettings}).
   * A controller's Argo instance ID is `<workflowInstanceId or "cd4ml">-<domain>`: it names the controller's
   * leader-election Lease, which controllers in one namespace may not share.
   * @default {} (pipelines run in `pipelineNamespace` only)
   */
  readonly pipelineDomains?: Readonly<Record<string, PipelineDomainSettings>>;
}

/**
 * The whole MLOps platform of one environment: object store, database, MLflow tracking server and model
 * registry, Argo Workflows, and the namespace where pipelines run, wired together through typed
 * interfaces and sized by the environment's preset.
 */
export class Platform extends Construct {
  /** The environment's preset. */
  public readonly preset: EnvironmentPreset;
  /** The object store. */
  public readonly objectStore: IObjectStore;
  /** Bucket of MLflow's artifacts. */
  public readonly trackingArtifacts: Bucket;
  /** Bucket of Argo's artifacts and logs. */
  public readonly workflowArtifacts: Bucket;
  /** Bucket of training data. */
  public readonly dataBucket: Bucket;
  /** The in-cluster Postgres server, when the databases are in the cluster. */
  public readonly postgres?: PostgresServer;
  /** The MLflow tracking server. */
  public readonly trackingServer: TrackingServer;
  /** The namespace where pipelines run. */
  public readonly pipelineRunner: PipelineRunner;
  /** Argo Workflows. */
  public readonly workflowEngine: WorkflowEngine;
  /** The Argo CRDs (every Argo object must depend on them). */
  /** Argo's CRDs (cluster-wide), unless `argoCrds` is false. */
  public readonly argoCrds?: ArgoCrds;
  /** The generator of in-cluster credentials (MLflow's users always; the stores' when they are in the cluster). */
  public readonly credentials: CredentialsGenerator;
  /** The platform's namespaces, in order: platform, workflows, pipelines, then each pipeline domain's. */
  public readonly namespaces: readonly string[];
  /** How the platform's workloads reach the Kubernetes API (what was given; undefined means {@link KubeApiAccess}'s defaults). */
  public readonly kubeApi?: KubeApiAccess;
  /** The pipeline domains, by name (empty without `pipelineDomains`). */
  public readonly domains: ReadonlyMap<string, PipelineDomain>;

  public constructor(scope: Construct, id: string, props: PlatformProps = {}) {
    super(scope, id);
    const path = this.node.path;
    // Bad props are reported with the app's other problems, and the platform is built on the preset's defaults in
    // their place, so the pipelines declared on it are checked in the same synth (one report).
    const given: PlatformProps = isPlainObject(props) ? snapshot(props) : {};
    const problems = checkPlatformProps(path, given);
    if (problems.deferIfAny(this)) {
      props = withoutFields(given, problems.list);
      // the three namespaces fall back together: one default beside two given ones could clash with them
      if (NAMESPACE_FIELDS.some((f) => !(f in props) && f in given)) props = withoutFields(props, NAMESPACE_FIELDS.map((field) => ({ path, field, message: '', fix: '' })));
      checkPlatformProps(path, props).throwIfAny(this); // the defaults pass; this only guards that promise
    } else {
      props = given;
    }
    const environment = props.environment ?? EnvironmentName.SANDBOX;
    const namespace = props.namespace ?? 'cd4ml';
    const workflowNamespace = props.workflowNamespace ?? 'argo';
    const pipelineNamespace = props.pipelineNamespace ?? 'ml-pipelines';

    // collisions, sizes and name lengths across everything the app renders
    validateRenderedObjects(this);
    this.preset = props.preset ?? environmentPreset(environment);
    this.kubeApi = props.kubeApi;
    const comp = props.components ?? {};
    const resourcesOf = (name: keyof PlatformComponents, preset: ContainerResources): ContainerResources => ({ ...preset, ...(comp[name]?.resources ?? {}) });
    const p = this.preset;
    const images = props.images ?? {};
    // the stores' volumes live here: GitOps never prunes it
    const platformNs = new PlatformNamespace(this, 'Namespace', { name: namespace, holdsData: true });
    const workflowNs = new PlatformNamespace(this, 'WorkflowNamespace', { name: workflowNamespace });

    const storeChoice = props.objectStore ?? ObjectStoreChoice.inCluster();
    const dbChoice = props.database ?? DatabaseChoice.inCluster();
    // MLflow's users always, in-cluster stores' keys when there are any; external stores come with the user's Secrets.
    const credentials = new CredentialsGenerator(this, 'Credentials', {
      namespace,
      image: images.python ?? DefaultImages.PYTHON,
      resources: p.setupJob,
      kubeApi: props.kubeApi,
    });
    this.credentials = credentials;

    const storageClassName = this.retainedStorageClass(props, environment) ?? props.storageClassName;
    const storeCommon = {
      namespace,
      resources: resourcesOf('objectStore', p.objectStore.resources),
      pod: podOf(comp.objectStore),
      setupResources: p.setupJob,
      storage: props.objectStoreStorage ?? p.objectStore.storage,
      storageClassName,
    };
    if (storeChoice.external) this.objectStore = new ExternalObjectStore(this, 'ObjectStore', storeChoice.external!);
    else if (storeChoice.server === InClusterObjectStore.MINIO) {
      this.objectStore = new MinioObjectStore(this, 'ObjectStore', { ...storeCommon, credentials, image: images.minio, clientImage: images.minioClient });
    } else {
      this.objectStore = new SeaweedObjectStore(this, 'ObjectStore', { ...storeCommon, credentials, image: images.seaweedfs, setupImage: images.python });
    }
    const bucketNames = props.buckets ?? {};
    this.trackingArtifacts = this.objectStore.addBucket(bucketNames.trackingArtifacts ?? 'mlflow-artifacts');
    this.workflowArtifacts = this.objectStore.addBucket(bucketNames.workflowArtifacts ?? 'argo-artifacts');
    this.dataBucket = this.objectStore.addBucket(bucketNames.data ?? 'data');

    let trackingDb: IPostgresDatabase;
    let archiveDb: IPostgresDatabase;
    if (dbChoice.external) {
      trackingDb = new ExternalPostgresDatabase(this, 'TrackingDatabase', dbChoice.external!.trackingServer);
      archiveDb = new ExternalPostgresDatabase(this, 'ArchiveDatabase', dbChoice.external!.workflowArchive);
    } else {
      this.postgres = new PostgresServer(this, 'Database', {
        namespace,
        credentials,
        image: images.postgres,
        resources: resourcesOf('database', p.database.resources),
        pod: podOf(comp.database),
        setupResources: p.setupJob,
        storage: props.databaseStorage ?? p.database.storage,
        storageClassName,
      });
      trackingDb = this.postgres.addDatabase('mlflow');
      archiveDb = this.postgres.addDatabase('argo');
      if (props.databaseBackups ?? true) {
        this.postgres.enableBackups({ bucket: this.objectStore.addBucket(bucketNames.databaseBackups ?? 'db-backups'), clientImage: images.python });
      }
    }

    const ingress = props.ingress;
    // the ingress controller reaches exactly the UIs it serves
    const peersOf = (host: string | undefined) => [...(props.uiIngressFrom ?? []), ...(ingress && host ? [ingress.controller] : [])];
    this.trackingServer = new TrackingServer(this, 'TrackingServer', {
      namespace,
      database: trackingDb,
      credentials,
      artifactBucket: this.trackingArtifacts,
      image: images.mlflow,
      replicas: comp.trackingServer?.replicas ?? props.trackingServerReplicas ?? p.trackingServer.replicas,
      workers: p.trackingServer.workers,
      resources: resourcesOf('trackingServer', p.trackingServer.resources),
      pod: podOf(comp.trackingServer),
      ingressFrom: peersOf(ingress?.hosts.trackingServer),
      extraAllowedHosts: [...(props.trackingServerHosts ?? []), ...(ingress?.hosts.trackingServer ? [ingress.hosts.trackingServer] : [])],
    });

    this.pipelineRunner = new PipelineRunner(this, 'PipelineRunner', {
      namespace: pipelineNamespace,
      objectStore: this.objectStore,
      // Argo's artifact bucket is Argo's own (WorkflowEngine grants it): steps get the data bucket
      buckets: { data: this.dataBucket },
      trackingServer: this.trackingServer,
      quota: this.pipelineQuota(props),
      stepDefaults: { ...p.stepDefaults, ...(props.stepDefaults ?? {}) },
      gpu: props.gpu,
      kubeApi: props.kubeApi,
    });
    // a refused gpu prop is reported once: the GPU steps declared on this runner report nothing more
    if (isPlainObject(given) && 'gpu' in given && !('gpu' in props)) GPU_REFUSED.add(this.pipelineRunner);

    if (props.argoCrds ?? true) this.argoCrds = new ArgoCrds(this, 'ArgoCrds');
    this.workflowEngine = new WorkflowEngine(this, 'WorkflowEngine', {
      namespace: workflowNamespace,
      runner: this.pipelineRunner,
      artifactBucket: this.workflowArtifacts,
      archive: archiveDb,
      authMode: props.workflowAuthMode,
      controllerImage: images.argoController,
      serverImage: images.argoServer,
      executorImage: images.argoExecutor,
      controllerResources: resourcesOf('workflowController', p.workflowController.resources),
      serverResources: resourcesOf('workflowServer', p.workflowServer.resources),
      serverReplicas: comp.workflowServer?.replicas ?? props.workflowServerReplicas ?? p.workflowServer.replicas,
      controllerPod: podOf(comp.workflowController),
      serverPod: podOf(comp.workflowServer),
      kubeApi: props.kubeApi,
      ingressFrom: peersOf(ingress?.hosts.workflowServer),
      instanceId: props.workflowInstanceId,
    });
    if (ingress) this.exposeUis(ingress);

    this.domains = this.buildDomains(props, archiveDb, resourcesOf('workflowController', p.workflowController.resources), podOf(comp.workflowController));
    const domainRunners = [...this.domains.values()].map((d) => d.runner);
    this.namespaces = [namespace, workflowNamespace, pipelineNamespace, ...domainRunners.map((r) => r.namespace)];

    // Namespaces and CRDs before everything that lives in them or uses them.
    const namespaceObjects = new Map<string, ApiObject>([
      [namespace, platformNs.resource],
      [workflowNamespace, workflowNs.resource],
      [pipelineNamespace, this.pipelineRunner.namespaceResource.resource],
      ...domainRunners.map((r): [string, ApiObject] => [r.namespace, r.namespaceResource.resource]),
    ]);
    for (const obj of apiObjectsOf(this)) {
      const ns = obj.metadata.namespace;
      const nsObject = ns === undefined ? undefined : namespaceObjects.get(ns);
      if (nsObject && nsObject !== obj) obj.node.addDependency(nsObject);
    }
    for (const obj of [this.workflowEngine, ...[...this.domains.values()].map((d) => d.controller)].flatMap(apiObjectsOf)) for (const crd of this.argoCrds?.resources ?? []) obj.node.addDependency(crd);
  }

  /** The domain of that name, if the platform has one. */
  public domain(name: string): PipelineDomain | undefined {
    return this.domains.get(name);
  }

  /**
   * Each pipeline domain: a runner in its namespace (own S3 user, the pipelines' MLflow user unless it names its own)
   * and a controller beside the platform's, managing that namespace. The controllers share the archive's database:
   * Argo applies each schema change in a transaction that moves the version row first (util/sqldb/migrate.go
   * applyChange), so controllers starting together apply each change once (on an empty database the loser of the race
   * to create the version table exits, a failed migration being fatal, and restarts), and the archive tells their runs
   * apart by namespace and instance ID.
   */
  private buildDomains(props: PlatformProps, archive: IPostgresDatabase, controllerResources: ContainerResources, controllerPod: PodSettings | undefined): ReadonlyMap<string, PipelineDomain> {
    const out = new Map<string, PipelineDomain>();
    const engine = this.workflowEngine;
    const main = this.pipelineRunner;
    const external = this.objectStore instanceof ExternalObjectStore;
    const refusedGpu = GPU_REFUSED.has(main);
    for (const [name, d] of Object.entries(props.pipelineDomains ?? {})) {
      const id = `Domain-${name}`;
      const runner = new PipelineRunner(this, id, {
        namespace: d.namespace ?? `ml-${name}`,
        objectStore: this.objectStore,
        buckets: main.buckets,
        trackingServer: this.trackingServer,
        quota: { ...main.quota, ...(d.quota ?? {}) },
        stepDefaults: { ...main.stepDefaults, ...(d.stepDefaults ?? {}) },
        gpu: props.gpu,
        kubeApi: props.kubeApi,
        // an S3 user of its own in the cluster's store; an external store's keys are the team's: the platform's are shared
        ...(external ? { s3Credentials: main.s3Credentials } : { storageUser: `pipelines-${name}` }),
        ...(d.trackingUser !== undefined ? { trackingUser: d.trackingUser } : { trackingCredentials: main.trackingCredentials }),
      });
      if (refusedGpu) GPU_REFUSED.add(runner);
      const controller = new WorkflowController(this, `${id}-Controller`, {
        namespace: engine.namespace,
        runner,
        artifactBucket: this.workflowArtifacts,
        archive,
        name: `workflow-controller-${name}`,
        configMapName: `workflow-controller-configmap-${name}`,
        ...(external ? { artifactCredentials: engine.artifactCredentials } : { artifactUser: `workflows-${name}` }),
        image: engine.controllerImage,
        executorImage: engine.executorImage,
        resources: controllerResources,
        executorResources: engine.executorResources,
        workflowDefaults: engine.workflowDefaults,
        kubeApi: props.kubeApi,
        instanceId: `${props.workflowInstanceId ?? 'cd4ml'}-${name}`,
        pod: controllerPod,
      });
      out.set(name, { name, runner, controller });
    }
    return out;
  }

  /** Renders the retaining StorageClass when asked (or by the sandbox's default); returns its name. */
  /** Renders the Ingresses of the UIs given a host, and opens the in-cluster store to the controller when exposed. */
  private exposeUis(ingress: PlatformIngress): void {
    const hosts = ingress.hosts;
    if (hosts.trackingServer) renderIngress(this, 'TrackingServerIngress', ingress, { name: 'mlflow', host: hosts.trackingServer, endpoint: this.trackingServer.endpoint });
    if (hosts.workflowServer) renderIngress(this, 'WorkflowServerIngress', ingress, { name: 'argo-server', host: hosts.workflowServer, endpoint: this.workflowEngine.serverEndpoint, httpsBackend: true });
    const store = this.objectStore as Partial<IConnectable> & IObjectStore;
    if (hosts.objectStore && store.connections) {
      store.connections.allowIngress(ingress.controller, store.endpoint.port);
      renderIngress(this, 'ObjectStoreIngress', ingress, { name: 'object-store', host: hosts.objectStore, endpoint: store.endpoint });
    }
    if (hosts.objectStoreConsole && this.objectStore instanceof MinioObjectStore) {
      this.objectStore.connections.allowIngress(ingress.controller, this.objectStore.consoleEndpoint.port);
      renderIngress(this, 'ObjectStoreConsoleIngress', ingress, { name: 'object-store-console', host: hosts.objectStoreConsole, endpoint: this.objectStore.consoleEndpoint });
    }
  }

  /** The preset's quota with the user's over it; GPU scheduling needs one GPU at least unless the user says otherwise. */
  private pipelineQuota(props: PlatformProps): PipelineQuota {
    const quota = { ...this.preset.pipelineQuota, ...(props.pipelineQuota ?? {}) };
    return props.gpu && props.pipelineQuota?.gpus === undefined ? { ...quota, gpus: Math.max(quota.gpus, 1) } : quota;
  }

  private retainedStorageClass(props: PlatformProps, environment: EnvironmentName): string | undefined {
    const path = this.node.path;
    const asked = props.retainedStorage ?? (environment === EnvironmentName.SANDBOX && props.storageClassName === undefined ? { provisioner: 'rancher.io/local-path' } : false);
    if (asked === false) return undefined;
    const problems = new Problems();
    if (props.storageClassName !== undefined) problems.add({ path, field: 'retainedStorage', value: asked.provisioner, message: `is given together with storageClassName "${props.storageClassName}"`, fix: 'give one: storageClassName for an existing class that retains, or retainedStorage to render one' });
    const name = asked.name ?? 'cd4ml-retain';
    problems.addIf(checkDnsSubdomain(name, { path, field: 'retainedStorage.name' }));
    if (typeof asked.provisioner !== 'string' || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(\/[-a-zA-Z0-9_.]+)?$/.test(asked.provisioner)) {
      problems.add({ path, field: 'retainedStorage.provisioner', value: asked.provisioner, message: 'is not a provisioner name', fix: 'name the cluster\'s provisioner, e.g. "ebs.csi.aws.com"' });
    }
    problems.throwIfAny(this);
    const storageClass = new k8s.KubeStorageClass(this, 'RetainedStorage', {
      metadata: { name, labels: { 'app.kubernetes.io/part-of': 'cd4ml', 'app.kubernetes.io/managed-by': 'cd4ml' }, annotations: { ...KEEP_ON_PRUNE } },
      provisioner: asked.provisioner,
      parameters: asked.parameters,
      reclaimPolicy: 'Retain',
      volumeBindingMode: 'WaitForFirstConsumer',
      allowVolumeExpansion: true,
    });
    sharedObject(storageClass, `render the StorageClass once per cluster: set retainedStorage: false and storageClassName: "${name}" on every Platform but one`);
    return name;
  }
}

/** Every problem of a Platform's own props (its components check theirs). */
function checkPlatformProps(path: string, props: PlatformProps): Problems {
  const environment = props.environment ?? EnvironmentName.SANDBOX;
  const problems = new Problems();
  checkNoNulls(props, path).forEach((p) => problems.add(p));
  problems.addIf(checkEnvironmentName(environment, { path, field: 'environment' }));
  const namespace = props.namespace ?? 'cd4ml';
  const workflowNamespace = props.workflowNamespace ?? 'argo';
  const pipelineNamespace = props.pipelineNamespace ?? 'ml-pipelines';
  problems.addIf(checkNamespace(namespace, { path, field: 'namespace' }, 'cd4ml'));
  problems.addIf(checkNamespace(workflowNamespace, { path, field: 'workflowNamespace' }, 'argo'));
  problems.addIf(checkNamespace(pipelineNamespace, { path, field: 'pipelineNamespace' }, 'ml-pipelines'));
  if (new Set([namespace, workflowNamespace, pipelineNamespace]).size < 3) {
    problems.add({ path, field: 'namespace, workflowNamespace, pipelineNamespace', value: [namespace, workflowNamespace, pipelineNamespace], message: 'are not all different', fix: 'give each its own namespace: their NetworkPolicies and secrets differ' });
  }
  checkDomains(problems, path, props, [namespace, workflowNamespace, pipelineNamespace]);
  if (props.storageClassName !== undefined) problems.addIf(checkDnsSubdomain(props.storageClassName, { path, field: 'storageClassName' }));
  if (!isPlainObject(props.images ?? {})) problems.add({ path, field: 'images', value: props.images, message: `is ${describeType(props.images)}, not a map of component images`, fix: `give an object with any of ${IMAGE_KEYS.join(', ')}` });
  else for (const [name, image] of Object.entries(props.images ?? {})) {
    if (!IMAGE_KEYS.includes(name)) problems.add({ path, field: `images.${name}`, value: image, message: 'is not a component image', fix: `use one of ${IMAGE_KEYS.join(', ')}` });
    else problems.addIf(checkImage(image, { path, field: `images.${name}` }));
  }
  checkBuckets(problems, path, props.buckets);
  if (props.trackingServerHosts !== undefined) {
    if (!Array.isArray(props.trackingServerHosts)) problems.add({ path, field: 'trackingServerHosts', value: props.trackingServerHosts, message: `is ${describeType(props.trackingServerHosts)}, not a list of host names`, fix: 'give a list, e.g. ["mlflow.example.com"]' });
    else props.trackingServerHosts.forEach((h, i) => problems.addIf(checkHostPattern(h, { path, field: `trackingServerHosts[${i}]` })));
  }
  if (props.uiIngressFrom !== undefined) checkPeers(props.uiIngressFrom, { path, field: 'uiIngressFrom' }).forEach((x) => problems.add(x));
  if (props.gpu != null) checkGpu(problems, path, props.gpu);
  if (props.objectStore !== undefined && !(props.objectStore instanceof ObjectStoreChoice)) problems.add({ path, field: 'objectStore', value: describeType(props.objectStore), message: 'is not an ObjectStoreChoice', fix: 'use ObjectStoreChoice.inCluster(), .minio() or .external({...})' });
  if (props.database !== undefined && !(props.database instanceof DatabaseChoice)) problems.add({ path, field: 'database', value: describeType(props.database), message: 'is not a DatabaseChoice', fix: 'use DatabaseChoice.inCluster() or .external({...})' });
  // props the platform hands to its components are checked here, so a problem names the prop the user wrote
  for (const field of ['objectStoreStorage', 'databaseStorage'] as const) {
    if (props[field] != null) problems.addIf(Quantity.check(props[field], QuantityKind.BYTES, { path, field }));
  }
  for (const field of ['trackingServerReplicas', 'workflowServerReplicas'] as const) {
    if (props[field] != null) problems.addIf(checkCount(props[field], 1, { path, field }));
  }
  if (props.workflowAuthMode != null && !(Object.values(ArgoAuthMode) as unknown[]).includes(props.workflowAuthMode)) {
    problems.add({ path, field: 'workflowAuthMode', value: props.workflowAuthMode, message: 'is not an argo-server auth mode', fix: 'use ArgoAuthMode.CLIENT ("client"), or ArgoAuthMode.SERVER ("server") for a throwaway sandbox only' });
  }
  checkKubeApiAccess(props.kubeApi ?? undefined, { path, field: 'kubeApi' }).forEach((p) => problems.add(p));
  checkSizing(problems, path, props);
  checkComponents(problems, path, props.components);
  if (props.argoCrds !== undefined && typeof props.argoCrds !== 'boolean') problems.add({ path, field: 'argoCrds', value: props.argoCrds, message: `is ${describeType(props.argoCrds)}, not true or false`, fix: 'give true (the default) or false' });
  if (props.workflowInstanceId === '') problems.add({ path, field: 'workflowInstanceId', value: '', message: 'is empty', fix: 'give a name like "ml-platform", or leave workflowInstanceId out' });
  else if (props.workflowInstanceId !== undefined) problems.addIf(checkLabelValue(props.workflowInstanceId, { path, field: 'workflowInstanceId' }, 'ml-platform'));
  if (props.preset !== undefined) checkPreset(problems, path, props.preset);
  const choice = props.objectStore instanceof ObjectStoreChoice ? props.objectStore : ObjectStoreChoice.inCluster();
  checkIngress(problems, path, props.ingress, choice.external !== undefined ? 'external' : choice.server === InClusterObjectStore.MINIO ? 'minio' : 'seaweedfs');
  return problems;
}

/** A component's pod settings, without its resources and replicas. */
function podOf(settings: ComponentSettings | undefined): PodSettings | undefined {
  if (!settings) return undefined;
  const { resources: _resources, replicas: _replicas, ...pod } = settings;
  return pod;
}

const COMPONENTS: ReadonlyArray<readonly [keyof PlatformComponents, boolean]> = [['objectStore', false], ['database', false], ['trackingServer', true], ['workflowController', false], ['workflowServer', true]];

/** Per-component settings: known components, resources that fit, replicas where they mean something, pod settings. */
function checkComponents(problems: Problems, path: string, components: unknown): void {
  if (components === undefined) return;
  if (!isPlainObject(components)) {
    problems.add({ path, field: 'components', value: describeType(components), message: `is ${describeType(components)}, not per-component settings`, fix: `give any of ${COMPONENTS.map(([c]) => c).join(', ')}` });
    return;
  }
  for (const key of Object.keys(components)) {
    if (!COMPONENTS.some(([c]) => c === key)) problems.add({ path, field: `components.${key}`, value: describeType(components[key]), message: 'is not a component of the platform', fix: `use ${COMPONENTS.map(([c]) => c).join(', ')}` });
  }
  for (const [name, scalable] of COMPONENTS) {
    const settings = components[name];
    if (settings === undefined) continue;
    const field = `components.${name}`;
    checkPodSettings(problems, path, field, settings, ['resources', 'replicas']);
    if (!isPlainObject(settings)) continue;
    if (name === 'workflowController' && settings.service !== undefined) problems.add({ path, field: `${field}.service`, value: describeType(settings.service), message: 'is set, but the controller has no Service', fix: 'drop service' });
    if (settings.replicas !== undefined) {
      if (!scalable) problems.add({ path, field: `${field}.replicas`, value: settings.replicas, message: `is set, but ${name} runs one replica`, fix: 'drop replicas' });
      else problems.addIf(checkCount(settings.replicas as number, 1, { path, field: `${field}.replicas` }));
    }
    const r = settings.resources;
    if (r !== undefined) {
      if (!isPlainObject(r)) problems.add({ path, field: `${field}.resources`, value: describeType(r), message: 'is not resources', fix: 'give any of cpu, memory, memoryLimit, cpuLimit' });
      else {
        for (const k of Object.keys(r)) if (!(k in STEP_DEFAULT_FIELDS)) problems.add({ path, field: `${field}.resources.${k}`, value: r[k], message: 'is not a resource', fix: 'use cpu, memory, memoryLimit or cpuLimit' });
        for (const [k, kind] of Object.entries(STEP_DEFAULT_FIELDS)) if (r[k] !== undefined) problems.addIf(Quantity.check(r[k], kind, { path, field: `${field}.resources.${k}` }));
      }
    }
  }
}

/** A preset of the team's own: every section a preset has, each checked as the components will use it. */
function checkPreset(problems: Problems, path: string, preset: unknown): void {
  if (!isPlainObject(preset)) {
    problems.add({ path, field: 'preset', value: describeType(preset), message: `is ${describeType(preset)}, not a preset`, fix: 'start from one: { ...environmentPreset(EnvironmentName.DEV), ... }' });
    return;
  }
  const base = environmentPreset(EnvironmentName.SANDBOX);
  for (const key of Object.keys(base) as Array<keyof EnvironmentPreset>) {
    if (preset[key] === undefined) problems.add({ path, field: `preset.${key}`, value: undefined, message: 'is missing', fix: 'start from a preset: { ...environmentPreset(EnvironmentName.DEV), ... }' });
    else if (key !== 'name' && !isPlainObject(preset[key])) problems.add({ path, field: `preset.${key}`, value: describeType(preset[key]), message: `is ${describeType(preset[key])}, not a section of a preset`, fix: `give it as the presets do, e.g. { ...environmentPreset(EnvironmentName.DEV).${key} }` });
  }
  for (const key of Object.keys(preset)) if (!(key in base)) problems.add({ path, field: `preset.${key}`, value: describeType(preset[key]), message: 'is not a section of a preset', fix: `use ${Object.keys(base).join(', ')}` });
  const section = (name: string): Record<string, unknown> | undefined => (isPlainObject(preset[name]) ? preset[name] as Record<string, unknown> : undefined);
  for (const name of ['objectStore', 'database', 'trackingServer', 'workflowController', 'workflowServer']) {
    const s = section(name);
    if (!s) continue;
    checkResources(problems, s.resources as ContainerResources, path, `preset.${name}.resources`);
    if (s.storage !== undefined || name === 'objectStore' || name === 'database') problems.addIf(Quantity.check(s.storage, QuantityKind.BYTES, { path, field: `preset.${name}.storage` }));
    if (s.replicas !== undefined) problems.addIf(checkCount(s.replicas as number, 1, { path, field: `preset.${name}.replicas` }));
    if (s.workers !== undefined) problems.addIf(checkCount(s.workers as number, 1, { path, field: `preset.${name}.workers` }));
  }
  if (section('setupJob')) checkResources(problems, preset.setupJob as ContainerResources, path, 'preset.setupJob');
  if (section('stepDefaults')) checkResources(problems, preset.stepDefaults as ContainerResources, path, 'preset.stepDefaults');
  const quota = section('pipelineQuota');
  if (quota) checkQuotaValues(problems, path, 'preset.pipelineQuota', quota, true);
}

const QUOTA_FIELDS: Record<keyof PipelineQuota, QuantityKind | 'count'> = { cpu: QuantityKind.CPU, memory: QuantityKind.BYTES, memoryLimit: QuantityKind.BYTES, gpus: 'count', pods: 'count' };
const STEP_DEFAULT_FIELDS: Record<keyof ContainerResources, QuantityKind> = { cpu: QuantityKind.CPU, memory: QuantityKind.BYTES, memoryLimit: QuantityKind.BYTES, cpuLimit: QuantityKind.CPU };

/**
 * A settings object of known fields (a quota, step defaults): an object, and no field it does not know. Returns whether
 * its values are worth checking. `label` names it in the message of an unknown field (its field name by default).
 */
function checkKnownFields(problems: Problems, path: string, name: string, value: unknown, known: Record<string, unknown>, example: string, label = name): value is Record<string, unknown> {
  if (value === undefined) return false;
  if (!isPlainObject(value)) {
    problems.add({ path, field: name, value: describeType(value), message: `is ${describeType(value)}, not an object`, fix: `give any of ${Object.keys(known).join(', ')}, e.g. ${example}` });
    return false;
  }
  for (const k of Object.keys(value)) {
    if (!(k in known)) problems.add({ path, field: `${name}.${k}`, value: value[k], message: `is not a field of ${label}`, fix: `use ${Object.keys(known).join(', ')}` });
  }
  return true;
}

/** A quota's values (counts and quantities); `all` when every field must be there (a preset's). */
function checkQuotaValues(problems: Problems, path: string, name: string, quota: Record<string, unknown>, all: boolean): void {
  for (const [k, kind] of Object.entries(QUOTA_FIELDS)) {
    const v = quota[k];
    if (v === undefined && !all) continue;
    if (kind === 'count') problems.addIf(checkCount(v as number, k === 'pods' ? 1 : 0, { path, field: `${name}.${k}` }));
    else problems.addIf(Quantity.check(v, kind, { path, field: `${name}.${k}` }));
  }
}

/** The step defaults a platform's runner takes: its preset's (its own, else its environment's) with its own over them. */
function platformStepDefaults(props: PlatformProps): Record<string, unknown> | undefined {
  const known = (Object.values(EnvironmentName) as unknown[]).includes(props.environment ?? EnvironmentName.SANDBOX);
  const own = isPlainObject(props.preset) && isPlainObject(props.preset.stepDefaults) ? props.preset : undefined;
  const preset = own ?? (known ? environmentPreset(props.environment ?? EnvironmentName.SANDBOX) : undefined);
  return preset ? { ...preset.stepDefaults, ...(isPlainObject(props.stepDefaults) ? props.stepDefaults : {}) } : undefined;
}

/** The pipeline quota and step defaults a user sets over the preset: known fields, quantities, and defaults that fit. */
function checkSizing(problems: Problems, path: string, props: PlatformProps): void {
  const known = (Object.values(EnvironmentName) as unknown[]).includes(props.environment ?? EnvironmentName.SANDBOX);
  const own = isPlainObject(props.preset) && isPlainObject(props.preset.stepDefaults) ? props.preset : undefined;
  const preset = own ?? (known ? environmentPreset(props.environment ?? EnvironmentName.SANDBOX) : undefined);
  const quota: unknown = props.pipelineQuota;
  if (checkKnownFields(problems, path, 'pipelineQuota', quota, QUOTA_FIELDS, '{ cpu: "32", gpus: 4 }')) checkQuotaValues(problems, path, 'pipelineQuota', quota, false);
  const defaults: unknown = props.stepDefaults;
  if (checkKnownFields(problems, path, 'stepDefaults', defaults, STEP_DEFAULT_FIELDS, '{ cpu: "500m", memory: "1Gi", memoryLimit: "2Gi" }') && preset) {
    // checked as the runner will see them: the preset's with the user's over them (a limit below the request is refused)
    checkResources(problems, { ...preset.stepDefaults, ...(defaults as Partial<ContainerResources>) }, path, 'stepDefaults');
  }
  // a step that takes the defaults must fit in the whole quota, or no such step is ever admitted
  if (preset && (quota !== undefined || defaults !== undefined) && isPlainObject(preset.pipelineQuota) && isPlainObject(preset.stepDefaults)) {
    const q = { ...preset.pipelineQuota, ...(isPlainObject(quota) ? quota : {}) } as Record<string, unknown>;
    const d = { ...preset.stepDefaults, ...(isPlainObject(defaults) ? defaults : {}) } as Record<string, unknown>;
    for (const k of ['cpu', 'memory', 'memoryLimit']) {
      const total = Quantity.tryParse(q[k]);
      const step = Quantity.tryParse(d[k]);
      if (!total || !step || step.value <= total.value) continue;
      const userQuota = isPlainObject(quota) && quota[k] !== undefined;
      problems.add(userQuota
        ? { path, field: `pipelineQuota.${k}`, value: q[k], message: `is below a single step's default ${k} (${String(d[k])}), so no step that takes the defaults would be admitted`, fix: `give at least "${String(d[k])}", or lower stepDefaults.${k}` }
        : { path, field: `stepDefaults.${k}`, value: d[k], message: `exceeds the pipeline namespace's whole quota (${String(q[k])}), so no step that takes the defaults would be admitted`, fix: `give at most "${String(q[k])}", or raise pipelineQuota.${k}` });
    }
  }
}

const NAMESPACE_FIELDS = ['namespace', 'workflowNamespace', 'pipelineNamespace'];

/** The pipeline domains: names that fit what they name, known settings, namespaces of their own, quantities and users that pass. */
function checkDomains(problems: Problems, path: string, props: PlatformProps, platformNamespaces: readonly string[]): void {
  const domains: unknown = props.pipelineDomains;
  if (domains === undefined || domains === null) return; // null is reported with the other nulls
  if (!isPlainObject(domains)) {
    problems.add({ path, field: 'pipelineDomains', value: describeType(domains), message: `is ${describeType(domains)}, not pipeline domains by name`, fix: 'give an object of domains by name, e.g. { dev: {}, staging: {}, prod: {} }' });
    return;
  }
  const taken = new Map<string, string>(platformNamespaces.map((n) => [n, 'a namespace of the platform']));
  const users = new Map<string, string>([['pipelines', 'the platform pipelines\' MLflow user'], ['admin', 'MLflow\'s admin']]);
  const instanceBase = props.workflowInstanceId ?? 'cd4ml';
  for (const [name, d] of Object.entries(domains)) {
    const field = `pipelineDomains.${name}`;
    if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > MAX_DOMAIN_NAME) {
      problems.add({ path, field, value: name, message: `is not a domain name (a DNS label of at most ${MAX_DOMAIN_NAME} characters, starting with a letter)`, fix: `name it like "${suggestName(name).replace(/^[^a-z]+/, '').slice(0, MAX_DOMAIN_NAME).replace(/-+$/, '') || 'dev'}"` });
      continue;
    }
    // the caches (`<pipeline>-cache-<domain>`) and the controller's cache Role (`workflow-controller-<domain>-cache`)
    // are told apart by the word "cache": a domain name holding it could name another's
    if (/(^|-)cache(-|$)/.test(name)) {
      problems.add({ path, field, value: name, message: 'holds the word "cache", which separates a domain\'s name in its caches\' and cache Role\'s names', fix: `name it without it, e.g. "${name.split('-').filter((w) => w !== 'cache').join('-').replace(/^[^a-z]+/, '') || 'dev'}"` });
      continue;
    }
    if (`${instanceBase}-${name}`.length > 63) {
      const room = 63 - instanceBase.length - 1;
      problems.add({ path, field, value: name, message: `makes the Argo instance ID "${instanceBase}-${name}" longer than 63 characters`, fix: room >= 3 ? `give a shorter domain name, e.g. "${name.slice(0, room).replace(/-+$/, '')}", or a shorter workflowInstanceId` : 'give a shorter workflowInstanceId (the domains\' instance IDs are <workflowInstanceId>-<domain>)' });
    }
    if (!isPlainObject(d)) {
      problems.add({ path, field, value: describeType(d), message: `is ${describeType(d)}, not a domain's settings`, fix: 'give an object (empty for the defaults), e.g. { namespace: "ml-dev" }' });
      continue;
    }
    for (const k of Object.keys(d)) if (!DOMAIN_FIELDS.includes(k)) problems.add({ path, field: `${field}.${k}`, value: describeType(d[k]), message: 'is not a setting of a pipeline domain', fix: `use ${DOMAIN_FIELDS.join(', ')}` });
    const ns = d.namespace === undefined ? `ml-${name}` : d.namespace;
    const nsProblem = checkNamespace(ns, { path, field: `${field}.namespace` }, `ml-${name}`);
    if (nsProblem) problems.add(nsProblem);
    else if (taken.has(ns as string)) problems.add({ path, field: `${field}.namespace`, value: ns, message: `is already ${taken.get(ns as string)}`, fix: `give the domain a namespace of its own, e.g. "ml-${name}"` });
    else taken.set(ns as string, `the namespace of domain "${name}"`);
    if (checkKnownFields(problems, path, `${field}.quota`, d.quota, QUOTA_FIELDS, '{ cpu: "8" }', 'a quota')) checkQuotaValues(problems, path, `${field}.quota`, d.quota, false);
    if (checkKnownFields(problems, path, `${field}.stepDefaults`, d.stepDefaults, STEP_DEFAULT_FIELDS, '{ memory: "1Gi" }', 'step defaults')) {
      // checked as the domain's runner will take them: the platform's with the domain's over them
      const base = platformStepDefaults(props);
      if (base) checkResources(problems, { ...base, ...d.stepDefaults } as unknown as ContainerResources, path, `${field}.stepDefaults`);
    }
    if (d.trackingUser !== undefined) {
      const userProblem = checkDnsLabel(d.trackingUser as string, { path, field: `${field}.trackingUser` });
      if (userProblem) problems.add(userProblem);
      else if (users.has(d.trackingUser as string)) problems.add({ path, field: `${field}.trackingUser`, value: d.trackingUser, message: `is ${users.get(d.trackingUser as string)}`, fix: `give the domain a user of its own, e.g. "pipelines-${name}", or leave trackingUser out to share the pipelines' user` });
      else users.set(d.trackingUser as string, `the MLflow user of domain "${name}"`);
    }
  }
}

const BUCKET_ROLES = ['trackingArtifacts', 'workflowArtifacts', 'data', 'databaseBackups'] as const;
const DEFAULT_BUCKETS: Record<(typeof BUCKET_ROLES)[number], string> = { trackingArtifacts: 'mlflow-artifacts', workflowArtifacts: 'argo-artifacts', data: 'data', databaseBackups: 'db-backups' };

/** The platform's bucket names: known roles, valid S3 names, all different, and not clashing in the steps' variables. */
function checkBuckets(problems: Problems, path: string, buckets: unknown): void {
  if (buckets === undefined) return;
  if (!isPlainObject(buckets)) {
    problems.add({ path, field: 'buckets', value: buckets, message: `is ${describeType(buckets)}, not a map of bucket names`, fix: `give an object with any of ${BUCKET_ROLES.join(', ')}` });
    return;
  }
  for (const role of Object.keys(buckets)) {
    if (!(BUCKET_ROLES as readonly string[]).includes(role)) problems.add({ path, field: `buckets.${role}`, value: buckets[role], message: 'is not a bucket of the platform', fix: `use one of ${BUCKET_ROLES.join(', ')}` });
  }
  const names = BUCKET_ROLES.map((role) => ({ role, field: `buckets.${role}`, name: (buckets[role] === undefined ? DEFAULT_BUCKETS[role] : buckets[role]) as string }));
  for (const b of names) if (buckets[b.role] !== undefined) problems.addIf(checkBucketName(b.name, { path, field: b.field }));
  names.forEach((b, i) => {
    const first = names.slice(0, i).find((a) => a.name === b.name);
    if (first) problems.add({ path, field: b.field, value: b.name, message: `is also the name of ${first.field}`, fix: `give each bucket its own name, e.g. "${DEFAULT_BUCKETS[b.role] === b.name ? `${b.name}-2` : DEFAULT_BUCKETS[b.role]}"` });
  });
}

/** GPU scheduling: an extended resource name, node labels, tolerations as the API server reads them. */
function checkGpu(problems: Problems, path: string, gpu: unknown): void {
  if (!isPlainObject(gpu)) {
    problems.add({ path, field: 'gpu', value: gpu, message: `is ${describeType(gpu)}, not GPU scheduling`, fix: 'give { nodeSelector, tolerations } of the GPU node pool, or leave gpu out' });
    return;
  }
  if (gpu.resourceName !== undefined) problems.addIf(checkExtendedResourceName(gpu.resourceName, { path, field: 'gpu.resourceName' }));
  if (gpu.productLabel !== undefined) problems.addIf(checkLabelKey(gpu.productLabel, { path, field: 'gpu.productLabel' }, 'cloud.google.com/gke-accelerator'));
  if (gpu.nodeSelector !== undefined) checkLabels(gpu.nodeSelector, { path, field: 'gpu.nodeSelector' }).forEach((x) => problems.add(x));
  if (gpu.tolerations !== undefined) checkTolerations(gpu.tolerations, { path, field: 'gpu.tolerations' }).forEach((x) => problems.add(x));
}

/** Every ApiObject under a construct. */
export function apiObjectsOf(root: IConstruct): ApiObject[] {
  return root.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject);
}
