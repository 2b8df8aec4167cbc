import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  checkCount, checkDnsLabel, checkHostPattern, checkPort, checkResources, checkUid, ContainerResources, Endpoint, EnvironmentName, environmentPreset, Problems, Scheme,
} from '../../lib';
import { IPostgresDatabase, PG_PASSWORD_KEY, PG_USERNAME_KEY, PostgresSslMode } from './database';
import { DefaultImages } from '../k8s/images';
import { componentLabels, selectorLabels } from '../k8s/labels';
import { Connections, IConnectable, NetworkPeer } from '../k8s/network';
import { Bucket, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } from './object-store';
import { emptyDirVolume, hardenedContainer, httpProbe } from '../k8s/pod-security';
import { readScript } from '../k8s/script';
import { secretEnv } from '../k8s/secret';
import { clusterIpService, containerPorts, deployment, serviceAccount } from '../k8s/workload';

/**
 * Turns MLflow's usage telemetry off in every process that sets it (the tracking server, and the MLflow client in
 * every step): `MLFLOW_DISABLE_TELEMETRY` is MLflow's own switch; `DO_NOT_TRACK` is the cross-tool convention, which
 * MLflow honours only when it reads `true` (case aside: `1` or `yes` do not count; mlflow 3.17
 * mlflow/telemetry/utils.py `is_telemetry_disabled`).
 * @see https://mlflow.org/docs/latest/community/usage-tracking/
 */
export const MLFLOW_TELEMETRY_OFF: Readonly<Record<string, string>> = {
  MLFLOW_DISABLE_TELEMETRY: 'true',
  DO_NOT_TRACK: 'true',
};

/** Props of {@link TrackingServer}. */
export interface TrackingServerProps {
  /** Namespace to run in. */
  readonly namespace: string;
  /** The Postgres database that holds runs and the model registry (the backend store). */
  readonly database: IPostgresDatabase;
  /** The bucket that holds artifacts; the server proxies it, so clients need no S3 credentials. */
  readonly artifactBucket: Bucket;
  /** Name of the Service, Deployment and ServiceAccount (also the DNS name clients use). @default 'mlflow' */
  readonly name?: string;
  /**
   * MLflow image, pinned. It must contain psycopg2 and boto3, which the plain official image lacks (mlflow/mlflow#9513).
   * @default - {@link DefaultImages.MLFLOW} (the official `-full` variant)
   */
  readonly image?: string;
  /** uid/gid to run as (the official image has no user of its own). @default 10001 */
  readonly uid?: number;
  /** Port. @default 5000 */
  readonly port?: number;
  /** Replicas. @default 1 */
  readonly replicas?: number;
  /**
   * uvicorn worker processes per replica (MLflow's own default is 4, too many for a laptop).
   * @default 1
   * @see https://mlflow.org/docs/latest/self-hosting/
   */
  readonly workers?: number;
  /** Resources. @default - the sandbox preset's (100m / 512Mi, limit 1Gi) */
  readonly resources?: ContainerResources;
  /**
   * Further Host headers to accept (an Ingress host, say), beyond the Service's in-cluster names and
   * localhost for `kubectl port-forward`: `host`, `host:port`, `host:*` or `*.domain.tld`; broader wildcards are refused.
   * @default []
   * @see https://mlflow.org/docs/latest/ml/tracking/server/security/configuration
   */
  readonly extraAllowedHosts?: string[];
  /** Peers allowed to reach the UI and API besides the platform's own workloads (an ingress controller). @default [] */
  readonly ingressFrom?: NetworkPeer[];
}

/**
 * The MLflow tracking server and model registry: backend store in Postgres, artifacts in the object store
 * through MLflow's artifact proxy (`--artifacts-destination`, server-side S3 credentials), the schema
 * migrated before serving, `--allowed-hosts` derived from the Service's names, usage telemetry off
 * ({@link MLFLOW_TELEMETRY_OFF}), no API token and no API egress, and Service `mlflow`.
 */
export class TrackingServer extends Construct implements IConnectable {
  /** The in-cluster endpoint: what `MLFLOW_TRACKING_URI` points at. */
  public readonly endpoint: Endpoint;
  /** Name of the Service and Deployment. */
  public readonly name: string;
  /** Namespace. */
  public readonly namespace: string;
  /** The Host headers the server accepts. */
  public readonly allowedHosts: readonly string[];
  public readonly connections: Connections;
  /** The Deployment (escape hatch). */
  public readonly deployment: ApiObject;

  public constructor(scope: Construct, id: string, props: TrackingServerProps) {
    super(scope, id);
    const path = this.node.path;
    const preset = environmentPreset(EnvironmentName.SANDBOX);
    this.name = props.name ?? 'mlflow';
    this.namespace = props.namespace;
    const port = props.port ?? 5000;
    const replicas = props.replicas ?? preset.trackingServer.replicas;
    const workers = props.workers ?? preset.trackingServer.workers;
    const resources = props.resources ?? preset.trackingServer.resources;
    const uid = props.uid ?? 10001;
    const extraHosts = props.extraAllowedHosts ?? [];

    const problems = new Problems();
    problems.addIf(checkDnsLabel(this.name, { path, field: 'name' }));
    problems.addIf(checkPort(port, { path, field: 'port' }));
    checkResources(problems, resources, path, 'resources');
    problems.addIf(checkCount(replicas, 1, { path, field: 'replicas' }));
    problems.addIf(checkCount(workers, 1, { path, field: 'workers' }));
    problems.addIf(checkUid(uid, { path, field: 'uid' }));
    extraHosts.forEach((h, i) => problems.addIf(checkHostPattern(h, { path, field: `extraAllowedHosts[${i}]` })));
    problems.throwIfAny();

    this.endpoint = Endpoint.ofService(this.name, this.namespace, port, Scheme.HTTP);
    const short = [this.name, `${this.name}.${this.namespace}`, `${this.name}.${this.namespace}.svc`, this.endpoint.host];
    this.allowedHosts = [...short.flatMap((h) => [h, `${h}:${port}`]), 'localhost:*', '127.0.0.1:*', ...extraHosts];
    const labels = componentLabels('mlflow', this.name, 'tracking-server');
    const selector = selectorLabels('mlflow', this.name);
    const ports = [{ name: 'http', port }];
    this.connections = new Connections(this, 'Connections', { name: this.name, namespace: this.namespace, podSelector: selector, labels });

    const store = props.artifactBucket.store;
    const s3 = store.grantReadWrite(this, this.name, [props.artifactBucket]);
    props.database.grantConnect(this);
    for (const peer of props.ingressFrom ?? []) this.connections.allowIngress(peer, port);

    const db = props.database;
    // libpq takes sslmode from the URI; `sslrootcert=system` (libpq 16+, as psycopg2-binary bundles) checks the
    // certificate against the image's CA roots.
    const tls = db.sslMode === PostgresSslMode.VERIFY_CA || db.sslMode === PostgresSslMode.VERIFY_FULL ? '&sslrootcert=system' : '';
    const backendUri = `postgresql+psycopg2://${db.endpoint.hostPort}/${db.databaseName}?sslmode=${db.sslMode}${tls}`;
    const env: k8s.EnvVar[] = [
      { name: 'MLFLOW_BACKEND_STORE_URI', value: backendUri },
      // libpq reads the role and password from these: the URI holds no credential.
      secretEnv('PGUSER', db.credentials, PG_USERNAME_KEY),
      secretEnv('PGPASSWORD', db.credentials, PG_PASSWORD_KEY),
      { name: 'MLFLOW_S3_ENDPOINT_URL', value: store.endpoint.url() },
      { name: 'AWS_DEFAULT_REGION', value: store.region },
      secretEnv('AWS_ACCESS_KEY_ID', s3, S3_ACCESS_KEY_ID),
      secretEnv('AWS_SECRET_ACCESS_KEY', s3, S3_SECRET_ACCESS_KEY),
      // Background job execution runs job code inside the tracking server: off for a shared server.
      { name: 'MLFLOW_SERVER_ENABLE_JOB_EXECUTION', value: 'false' },
      // Usage telemetry off (the server and the migration both import mlflow).
      ...Object.entries(MLFLOW_TELEMETRY_OFF).map(([name, value]) => ({ name, value })),
      { name: 'HOME', value: '/tmp' },
      { name: 'TMPDIR', value: '/tmp' },
      { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
    ];
    const mounts = [{ name: 'tmp', mountPath: '/tmp' }, { name: 'work', mountPath: '/mlflow' }];
    const image = props.image ?? DefaultImages.MLFLOW;

    new k8s.KubeConfigMap(this, 'Migrate', {
      metadata: { name: `${this.name}-migrate`, namespace: this.namespace, labels },
      data: { 'migrate.py': readScript(__dirname, 'mlflow-migrate.py') },
    });
    serviceAccount(this, 'ServiceAccount', { name: this.name, namespace: this.namespace, labels });
    clusterIpService(this, 'Service', { name: this.name, namespace: this.namespace, labels, selector, ports });
    this.deployment = deployment(this, 'Deployment', {
      name: this.name,
      namespace: this.namespace,
      labels,
      selector,
      replicas,
      serviceAccountName: this.name,
      automountToken: false,
      uid,
      initContainers: [
        hardenedContainer({
          name: 'migrate',
          image,
          resources,
          command: ['python', '/scripts/migrate.py'],
          env,
          workingDir: '/mlflow',
          volumeMounts: [...mounts, { name: 'scripts', mountPath: '/scripts', readOnly: true }],
        }),
      ],
      containers: [
        hardenedContainer({
          name: 'mlflow',
          image,
          resources,
          command: ['mlflow'],
          args: [
            'server',
            '--host', '0.0.0.0',
            '--port', String(port),
            '--workers', String(workers),
            '--backend-store-uri', backendUri,
            '--serve-artifacts',
            '--artifacts-destination', props.artifactBucket.s3Uri(),
            '--allowed-hosts', this.allowedHosts.join(','),
          ],
          env,
          workingDir: '/mlflow',
          ports: containerPorts(ports),
          volumeMounts: mounts,
          startupProbe: httpProbe('/health', 'http', { periodSeconds: 5, failureThreshold: 60 }),
          readinessProbe: httpProbe('/health', 'http', { periodSeconds: 10 }),
          livenessProbe: httpProbe('/version', 'http', { periodSeconds: 20, failureThreshold: 6, timeoutSeconds: 5 }),
        }),
      ],
      volumes: [
        emptyDirVolume('tmp', '1Gi'),
        emptyDirVolume('work', '256Mi'),
        { name: 'scripts', configMap: { name: `${this.name}-migrate` } },
      ],
    });
  }
}
