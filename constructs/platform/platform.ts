import { ApiObject } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { checkDnsLabel, checkDnsSubdomain, checkEnvironmentName, checkImage, EnvironmentName, environmentPreset, EnvironmentPreset, fail, Problems } from '../../lib';
import { ArgoCrds } from './argo-crds';
import { CredentialsGenerator } from './credentials-generator';
import { ExternalPostgresDatabase, ExternalPostgresDatabaseProps, IPostgresDatabase, PostgresServer } from './database';
import { DefaultImages } from '../k8s/images';
import { PlatformNamespace } from '../k8s/namespace';
import { KubeApiAccess, NetworkPeer } from '../k8s/network';
import { Bucket, ExternalObjectStore, ExternalObjectStoreProps, IObjectStore, MinioObjectStore } from './object-store';
import { GpuScheduling, PipelineRunner } from './pipeline-runner';
import { SeaweedObjectStore } from './seaweedfs';
import { TrackingServer } from './tracking-server';
import { ArgoAuthMode, WorkflowEngine } from './workflow-engine';

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
  /** StorageClass of the object store's and Postgres' volumes. @default - the cluster's default StorageClass */
  readonly storageClassName?: string;
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
   * Host names MLflow is reached by from outside the cluster (an Ingress host), added to its `--allowed-hosts`.
   * @default [] (in-cluster names and `kubectl port-forward` only)
   */
  readonly trackingServerHosts?: string[];
  /** Peers (an ingress controller) allowed to reach the MLflow and Argo UIs. @default [] (use `kubectl port-forward`) */
  readonly uiIngressFrom?: NetworkPeer[];
  /**
   * How the workloads that call the Kubernetes API (the credentials Job, the Argo controller and server, the Argo
   * executor in pipeline pods) reach it: set `cidr` to your API server endpoints' addresses
   * (`kubectl get endpoints kubernetes -n default`).
   * @default - see {@link KubeApiAccess} (172.16.0.0/12, a k3d sandbox's Docker network, on ports 443 and 6443)
   */
  readonly kubeApi?: KubeApiAccess;
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
  public readonly argoCrds: ArgoCrds;
  /** The generator of in-cluster credentials; absent when both stores are external. */
  public readonly credentials?: CredentialsGenerator;
  /** The platform's namespaces, in order: platform, workflows, pipelines. */
  public readonly namespaces: readonly string[];

  public constructor(scope: Construct, id: string, props: PlatformProps = {}) {
    super(scope, id);
    const path = this.node.path;
    const environment = props.environment ?? EnvironmentName.SANDBOX;
    const problems = new Problems();
    problems.addIf(checkEnvironmentName(environment, { path, field: 'environment' }));
    const namespace = props.namespace ?? 'cd4ml';
    const workflowNamespace = props.workflowNamespace ?? 'argo';
    const pipelineNamespace = props.pipelineNamespace ?? 'ml-pipelines';
    problems.addIf(checkDnsLabel(namespace, { path, field: 'namespace' }));
    problems.addIf(checkDnsLabel(workflowNamespace, { path, field: 'workflowNamespace' }));
    problems.addIf(checkDnsLabel(pipelineNamespace, { path, field: 'pipelineNamespace' }));
    if (new Set([namespace, workflowNamespace, pipelineNamespace]).size < 3) {
      problems.add({ path, field: 'namespace, workflowNamespace, pipelineNamespace', value: [namespace, workflowNamespace, pipelineNamespace], message: 'are not all different', fix: 'give each its own namespace: their NetworkPolicies and secrets differ' });
    }
    if (props.storageClassName !== undefined) problems.addIf(checkDnsSubdomain(props.storageClassName, { path, field: 'storageClassName' }));
    for (const [name, image] of Object.entries(props.images ?? {})) {
      if (!IMAGE_KEYS.includes(name)) problems.add({ path, field: `images.${name}`, value: image, message: 'is not a component image', fix: `use one of ${IMAGE_KEYS.join(', ')}` });
      else problems.addIf(checkImage(image, { path, field: `images.${name}` }));
    }
    problems.throwIfAny();

    this.preset = environmentPreset(environment);
    this.namespaces = [namespace, workflowNamespace, pipelineNamespace];
    const p = this.preset;
    const images = props.images ?? {};
    // the stores' volumes live here: GitOps never prunes it
    const platformNs = new PlatformNamespace(this, 'Namespace', { name: namespace, holdsData: true });
    const workflowNs = new PlatformNamespace(this, 'WorkflowNamespace', { name: workflowNamespace });

    const storeChoice = props.objectStore ?? ObjectStoreChoice.inCluster();
    const dbChoice = props.database ?? DatabaseChoice.inCluster();
    // Only in-cluster stores need generated credentials; external ones come with the user's Secrets.
    const credentials = storeChoice.external && dbChoice.external ? undefined : new CredentialsGenerator(this, 'Credentials', {
      namespace,
      image: images.python ?? DefaultImages.PYTHON,
      resources: p.setupJob,
      kubeApi: props.kubeApi,
    });
    this.credentials = credentials;

    const storeCommon = {
      namespace,
      resources: p.objectStore.resources,
      setupResources: p.setupJob,
      storage: props.objectStoreStorage ?? p.objectStore.storage,
      storageClassName: props.storageClassName,
    };
    if (storeChoice.external || !credentials) this.objectStore = new ExternalObjectStore(this, 'ObjectStore', storeChoice.external!);
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
    if (dbChoice.external || !credentials) {
      trackingDb = new ExternalPostgresDatabase(this, 'TrackingDatabase', dbChoice.external!.trackingServer);
      archiveDb = new ExternalPostgresDatabase(this, 'ArchiveDatabase', dbChoice.external!.workflowArchive);
    } else {
      this.postgres = new PostgresServer(this, 'Database', {
        namespace,
        credentials,
        image: images.postgres,
        resources: p.database.resources,
        setupResources: p.setupJob,
        storage: props.databaseStorage ?? p.database.storage,
        storageClassName: props.storageClassName,
      });
      trackingDb = this.postgres.addDatabase('mlflow');
      archiveDb = this.postgres.addDatabase('argo');
      if (props.databaseBackups ?? true) {
        this.postgres.enableBackups({ bucket: this.objectStore.addBucket(bucketNames.databaseBackups ?? 'db-backups'), clientImage: images.python });
      }
    }

    this.trackingServer = new TrackingServer(this, 'TrackingServer', {
      namespace,
      database: trackingDb,
      artifactBucket: this.trackingArtifacts,
      image: images.mlflow,
      replicas: props.trackingServerReplicas ?? p.trackingServer.replicas,
      workers: p.trackingServer.workers,
      resources: p.trackingServer.resources,
      ingressFrom: props.uiIngressFrom,
      extraAllowedHosts: props.trackingServerHosts,
    });

    this.pipelineRunner = new PipelineRunner(this, 'PipelineRunner', {
      namespace: pipelineNamespace,
      objectStore: this.objectStore,
      buckets: [this.workflowArtifacts, this.dataBucket],
      trackingServer: this.trackingServer,
      quota: props.gpu ? { ...p.pipelineQuota, gpus: Math.max(p.pipelineQuota.gpus, 1) } : p.pipelineQuota,
      stepDefaults: p.stepDefaults,
      gpu: props.gpu,
      kubeApi: props.kubeApi,
    });

    this.argoCrds = new ArgoCrds(this, 'ArgoCrds');
    this.workflowEngine = new WorkflowEngine(this, 'WorkflowEngine', {
      namespace: workflowNamespace,
      runner: this.pipelineRunner,
      artifactBucket: this.workflowArtifacts,
      archive: archiveDb,
      authMode: props.workflowAuthMode,
      controllerImage: images.argoController,
      serverImage: images.argoServer,
      executorImage: images.argoExecutor,
      controllerResources: p.workflowController.resources,
      serverResources: p.workflowServer.resources,
      serverReplicas: props.workflowServerReplicas ?? p.workflowServer.replicas,
      kubeApi: props.kubeApi,
      ingressFrom: props.uiIngressFrom,
    });

    // Namespaces and CRDs before everything that lives in them or uses them.
    const namespaceObjects = new Map<string, ApiObject>([
      [namespace, platformNs.resource],
      [workflowNamespace, workflowNs.resource],
      [pipelineNamespace, this.pipelineRunner.namespaceResource.resource],
    ]);
    for (const obj of apiObjectsOf(this)) {
      const ns = obj.metadata.namespace;
      const nsObject = ns === undefined ? undefined : namespaceObjects.get(ns);
      if (nsObject && nsObject !== obj) obj.node.addDependency(nsObject);
    }
    for (const obj of apiObjectsOf(this.workflowEngine)) for (const crd of this.argoCrds.resources) obj.node.addDependency(crd);
  }
}

/** Every ApiObject under a construct. */
export function apiObjectsOf(root: IConstruct): ApiObject[] {
  return root.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject);
}
