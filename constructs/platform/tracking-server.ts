import { checkPodSettings, PodSettings } from '../k8s/pod-settings';
import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  checkCount, checkDnsLabel, checkHostPattern, checkImage, checkNamespace, checkNoNulls, checkPort, checkResources, checkUid, ContainerResources, describeType, Endpoint, EnvironmentName,
  environmentPreset, fail, Problems, Scheme, snapshot,
} from '../../lib';
import { IPostgresDatabase, PG_PASSWORD_KEY, PG_USERNAME_KEY, postgresCaFiles, PostgresSslMode } from './database';
import { DefaultImages } from '../k8s/images';
import { componentLabels, selectorLabels } from '../k8s/labels';
import { checkGrantee, checkPeers, Connections, IConnectable, NetworkPeer } from '../k8s/network';
import { CredentialsGenerator, SecretValue } from './credentials-generator';
import { lazy } from '../k8s/lazy';
import { Bucket, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } from './object-store';
import { emptyDirVolume, hardenedContainer, httpProbe } from '../k8s/pod-security';
import { readScript } from '../k8s/script';
import { ISecret, secretEnv } from '../k8s/secret';
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

/** The Secret keys of an MLflow user's credentials: the names the MLflow client reads from its environment. */
export const MLFLOW_USERNAME_KEY = 'MLFLOW_TRACKING_USERNAME';
/** @see MLFLOW_USERNAME_KEY */
export const MLFLOW_PASSWORD_KEY = 'MLFLOW_TRACKING_PASSWORD';

/** Props of {@link TrackingServer}. */
export interface TrackingServerProps {
  /** Namespace to run in. */
  readonly namespace: string;
  /** The Postgres database that holds runs and the model registry (the backend store). */
  readonly database: IPostgresDatabase;
  /** The bucket that holds artifacts; the server proxies it, so clients need no S3 credentials. */
  readonly artifactBucket: Bucket;
  /**
   * Generates the credentials of MLflow's built-in authentication (`--app-name basic-auth`) inside the cluster: the
   * admin's, the Flask session key, and one user per {@link TrackingServer.grantUser}. Required: the server never
   * serves without authentication.
   */
  readonly credentials: CredentialsGenerator;
  /**
   * What a signed-in user may do with experiments and models it did not create (its own it manages).
   * @default 'READ'
   * @see https://mlflow.org/docs/latest/self-hosting/security/basic-http-auth/
   */
  readonly defaultPermission?: 'READ' | 'USE' | 'EDIT' | 'MANAGE' | 'NO_PERMISSIONS';
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
  /** Placement, priority, pod metadata, extra args and env, and the Service's type and annotations. @default - none */
  readonly pod?: PodSettings;
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
  /**
   * The admin's credentials (keys {@link MLFLOW_USERNAME_KEY}, {@link MLFLOW_PASSWORD_KEY}), in the server's
   * namespace: what a person or a client config uses to sign in and manage users.
   */
  public readonly adminCredentials: ISecret;
  private readonly users = new Map<string, ISecret>();
  private readonly generator: CredentialsGenerator;

  public constructor(scope: Construct, id: string, props: TrackingServerProps) {
    super(scope, id);
    props = snapshot(props ?? ({} as TrackingServerProps));
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
    checkNoNulls(props, path, ['namespace', 'database', 'artifactBucket', 'credentials']).forEach((p) => problems.add(p));
    problems.addIf(checkNamespace(this.namespace, { path, field: 'namespace' }));
    problems.addIf(checkImage(props.image ?? DefaultImages.MLFLOW, { path, field: 'image' }));
    if (!(props.artifactBucket instanceof Bucket)) problems.add({ path, field: 'artifactBucket', value: describeType(props.artifactBucket), message: 'is not a Bucket', fix: 'pass a bucket from the object store\'s addBucket()' });
    if (typeof props.database?.grantConnect !== 'function') problems.add({ path, field: 'database', value: describeType(props.database), message: 'is not a Postgres database', fix: 'pass a database from PostgresServer.addDatabase() or an ExternalPostgresDatabase' });
    if (props.ingressFrom !== undefined) checkPeers(props.ingressFrom, { path, field: 'ingressFrom' }).forEach((p) => problems.add(p));
    problems.addIf(checkDnsLabel(this.name, { path, field: 'name' }));
    problems.addIf(checkPort(port, { path, field: 'port' }));
    checkResources(problems, resources, path, 'resources');
    problems.addIf(checkCount(replicas, 1, { path, field: 'replicas' }));
    problems.addIf(checkCount(workers, 1, { path, field: 'workers' }));
    problems.addIf(checkUid(uid, { path, field: 'uid' }));
    if (!Array.isArray(extraHosts)) problems.add({ path, field: 'extraAllowedHosts', value: extraHosts, message: `is ${describeType(extraHosts)}, not a list of host names`, fix: 'give a list, e.g. ["mlflow.example.com"]' });
    else extraHosts.forEach((h, i) => problems.addIf(checkHostPattern(h, { path, field: `extraAllowedHosts[${i}]` })));
    const defaultPermission = props.defaultPermission ?? 'READ';
    const permissions = ['READ', 'USE', 'EDIT', 'MANAGE', 'NO_PERMISSIONS'];
    if (!permissions.includes(defaultPermission)) problems.add({ path, field: 'defaultPermission', value: defaultPermission, message: 'is not an MLflow permission', fix: `use one of ${permissions.join(', ')} (READ is the default)` });
    if (!(props.credentials instanceof CredentialsGenerator)) problems.add({ path, field: 'credentials', value: props.credentials === undefined ? undefined : typeof props.credentials, message: 'is not a CredentialsGenerator: the server never serves without authentication', fix: 'pass the platform\'s CredentialsGenerator (new CredentialsGenerator(scope, "Credentials", { namespace }))' });
    checkPodSettings(problems, path, 'pod', props.pod);
    problems.throwIfAny(this);
    this.generator = props.credentials;

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
    // certificate against the image's CA roots, a mounted bundle against the database's own CA.
    const ca = postgresCaFiles(db);
    const tls = db.sslMode === PostgresSslMode.VERIFY_CA || db.sslMode === PostgresSslMode.VERIFY_FULL ? `&sslrootcert=${ca.path ?? 'system'}` : '';
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
    // MLflow's basic-auth app: users in the same database (their own alembic_version_auth), the admin's and every
    // user's password from generated Secrets (the migrate init container keeps them in line), the Flask session key
    // likewise. Only /health (and static files) answer without credentials (mlflow/server/auth/__init__.py).
    this.adminCredentials = props.credentials.addSecret(`${this.name}-admin`, {
      [MLFLOW_USERNAME_KEY]: SecretValue.literal('admin'),
      [MLFLOW_PASSWORD_KEY]: SecretValue.random(32),
    });
    const flaskKey = props.credentials.addSecret(`${this.name}-flask-secret-key`, { MLFLOW_FLASK_SERVER_SECRET_KEY: SecretValue.random(64) });
    // the server reads both here, whatever namespace the generator runs in
    this.adminCredentials.availableIn(this.namespace);
    flaskKey.availableIn(this.namespace);
    env.push(
      { name: 'MLFLOW_AUTH_CONFIG_PATH', value: '/auth/basic_auth.ini' },
      secretEnv('MLFLOW_AUTH_ADMIN_USERNAME', this.adminCredentials, MLFLOW_USERNAME_KEY),
      secretEnv('MLFLOW_AUTH_ADMIN_PASSWORD', this.adminCredentials, MLFLOW_PASSWORD_KEY),
    );
    new k8s.KubeConfigMap(this, 'Auth', {
      metadata: { name: `${this.name}-auth`, namespace: this.namespace, labels },
      data: {
        'basic_auth.ini': [
          '[mlflow]',
          `default_permission = ${defaultPermission}`,
          `database_uri = ${backendUri}`,
          'admin_username = admin',
          'authorization_function = mlflow.server.auth:authenticate_request_basic_auth',
          'grant_default_workspace_access = false',
        ].join('\n') + '\n',
      },
    });
    const mounts = [{ name: 'tmp', mountPath: '/tmp' }, { name: 'work', mountPath: '/mlflow' }, { name: 'auth', mountPath: '/auth', readOnly: true }, ...ca.mounts];
    const image = props.image ?? DefaultImages.MLFLOW;

    new k8s.KubeConfigMap(this, 'Migrate', {
      metadata: { name: `${this.name}-migrate`, namespace: this.namespace, labels },
      data: { 'migrate.py': readScript(__dirname, 'mlflow-migrate.py') },
    });
    serviceAccount(this, 'ServiceAccount', { name: this.name, namespace: this.namespace, labels });
    clusterIpService(this, 'Service', { name: this.name, namespace: this.namespace, labels, selector, ports, service: props.pod?.service });
    this.deployment = deployment(this, 'Deployment', {
      pod: props.pod,
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
          // only the migration holds the users' passwords: it brings them in line with their Secrets
          env: lazy(() => [...env, ...this.userEnv()]),
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
            '--app-name', 'basic-auth',
          ],
          env: [...env, secretEnv('MLFLOW_FLASK_SERVER_SECRET_KEY', flaskKey, 'MLFLOW_FLASK_SERVER_SECRET_KEY')],
          workingDir: '/mlflow',
          ports: containerPorts(ports),
          volumeMounts: mounts,
          startupProbe: httpProbe('/health', 'http', { periodSeconds: 5, failureThreshold: 60 }),
          readinessProbe: httpProbe('/health', 'http', { periodSeconds: 10 }),
          // /version needs credentials under basic-auth: liveness asks /health too, on its own timing
          livenessProbe: httpProbe('/health', 'http', { periodSeconds: 20, failureThreshold: 6, timeoutSeconds: 5 }),
        }),
      ],
      volumes: [
        emptyDirVolume('tmp', '1Gi'),
        emptyDirVolume('work', '256Mi'),
        { name: 'scripts', configMap: { name: `${this.name}-migrate` } },
        { name: 'auth', configMap: { name: `${this.name}-auth` } },
        ...ca.volumes,
      ],
    });
  }

  /**
   * Gives `grantee` its own MLflow user: returns the Secret it should read (keys {@link MLFLOW_USERNAME_KEY},
   * {@link MLFLOW_PASSWORD_KEY}, in its namespace) and opens the network flow. The user may create experiments
   * and models (and manages what it creates); others' it may use as `defaultPermission` says.
   * @param user the user's name in MLflow (a DNS-1123 label; `admin` is taken)
   */
  public grantUser(grantee: IConnectable, user: string): ISecret {
    const path = this.node.path;
    checkGrantee(grantee, { path, field: 'grantUser(grantee)' }, this);
    const problem = checkDnsLabel(user, { path, field: 'grantUser(user)' });
    if (problem) fail(problem, this);
    if (user === 'admin' || this.users.has(user)) fail({ path, field: 'grantUser(user)', value: user, message: user === 'admin' ? 'is the admin\'s name' : 'is granted twice', fix: `grant each user once, under its own name, e.g. "${user}-2"` }, this);
    const secret = this.generator.addSecret(`${this.name}-user-${user}`, {
      [MLFLOW_USERNAME_KEY]: SecretValue.literal(user),
      [MLFLOW_PASSWORD_KEY]: SecretValue.random(32),
    });
    secret.availableIn(grantee.connections.namespace);
    secret.availableIn(this.namespace); // the migrate container creates the user from it
    this.users.set(user, secret);
    grantee.connections.allowTo(this, this.endpoint.port);
    return secret;
  }

  /** The migration's view of the users: which env variables hold each one's name and password. */
  private userEnv(): k8s.EnvVar[] {
    const all: Array<[ISecret, boolean]> = [[this.adminCredentials, true], ...[...this.users.values()].map((s): [ISecret, boolean] => [s, false])];
    const spec = all.map((_, i) => ({ usernameEnv: `CD4ML_USER${i}_USERNAME`, passwordEnv: `CD4ML_USER${i}_PASSWORD`, admin: all[i][1] }));
    return [
      { name: 'CD4ML_AUTH_USERS', value: JSON.stringify(spec) },
      ...all.flatMap(([s], i) => [secretEnv(`CD4ML_USER${i}_USERNAME`, s, MLFLOW_USERNAME_KEY), secretEnv(`CD4ML_USER${i}_PASSWORD`, s, MLFLOW_PASSWORD_KEY)]),
    ];
  }
}
