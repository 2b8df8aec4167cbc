import { checkPodSettings, PodSettings } from '../k8s/pod-settings';
import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  checkCidr, checkCount, checkCron, checkDnsLabel, checkDnsSubdomain, checkHost, checkImage, checkNamespace, checkPort, checkPostgresIdentifier, checkResources, checkUid,
  ContainerResources, Endpoint, EnvironmentName, environmentPreset, fail, postgresMajor, Problems, Quantity, QuantityKind, Scheme, checkNoNulls, snapshot, checkPropsObject, describeType, isPlainObject,
} from '../../lib';
import { CredentialsGenerator, SecretValue } from './credentials-generator';
import { DefaultImages } from '../k8s/images';
import { componentLabels, selectorLabels } from '../k8s/labels';
import { checkGrantee, Connections, IConnectable, NetworkPeer } from '../k8s/network';
import { emptyDirVolume, execProbe, hardenedContainer, restrictedPodSecurityContext } from '../k8s/pod-security';
import { ISecret, secretEnv } from '../k8s/secret';
import { containerPorts, serviceAccount, setupJob, statefulStore } from '../k8s/workload';
import { lazy } from '../k8s/lazy';
import { readScript } from '../k8s/script';
import { Bucket, checkGenerator, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } from './object-store';

/** The Secret key holding a database role's name. */
export const PG_USERNAME_KEY = 'username';
/** The Secret key holding a database role's password. */
export const PG_PASSWORD_KEY = 'password';

/**
 * How a client protects its connection to Postgres (libpq's `sslmode`, which MLflow's psycopg2 and Argo's pgx
 * driver both take).
 * @see https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-PROTECTION
 */
export enum PostgresSslMode {
  /** No TLS: only for a server inside the platform's namespace, behind its NetworkPolicy. */
  DISABLE = 'disable',
  /** TLS, the server's certificate not checked. */
  REQUIRE = 'require',
  /** TLS with a certificate signed by a trusted CA (the system's roots). */
  VERIFY_CA = 'verify-ca',
  /** TLS with a trusted certificate whose name matches the host. */
  VERIFY_FULL = 'verify-full',
}

/** A CA bundle (PEM) in a key of a Secret, that clients verify a server's certificate with. */
export interface CaCertificate {
  /** The Secret (made available in every consumer's namespace). */
  readonly secret: ISecret;
  /** The key holding the PEM bundle, e.g. `ca.crt`. */
  readonly key: string;
}

/** Where a database's CA bundle is mounted in its clients. */
export const POSTGRES_CA_DIR = '/etc/cd4ml/postgres-ca';

/**
 * The volume, mount and file path of a database's CA bundle in a client pod (none when the database has no CA of its
 * own, and clients verify against their image's system roots).
 */
export function postgresCaFiles(db: IPostgresDatabase): { volumes: k8s.Volume[]; mounts: k8s.VolumeMount[]; path?: string } {
  const ca = db.caCertificate;
  if (!ca) return { volumes: [], mounts: [] };
  return {
    volumes: [{ name: 'postgres-ca', secret: { secretName: ca.secret.secretName, items: [{ key: ca.key, path: ca.key }] } }],
    mounts: [{ name: 'postgres-ca', mountPath: POSTGRES_CA_DIR, readOnly: true }],
    path: `${POSTGRES_CA_DIR}/${ca.key}`,
  };
}

/** One Postgres database and the role that owns it, as a consumer sees it. */
export interface IPostgresDatabase {
  /** Where the server answers. */
  readonly endpoint: Endpoint;
  /** How clients protect the connection. */
  readonly sslMode: PostgresSslMode;
  /** The CA bundle clients verify the server's certificate with. @default - the clients' system roots */
  readonly caCertificate?: CaCertificate;
  /** Database name. */
  readonly databaseName: string;
  /** The role's credentials (keys {@link PG_USERNAME_KEY} and {@link PG_PASSWORD_KEY}). */
  readonly credentials: ISecret;
  /** Lets `grantee` connect: opens the network flow and makes the credentials available in its namespace. */
  grantConnect(grantee: IConnectable): void;
}

/** Props of {@link PostgresServer}. */
export interface PostgresServerProps {
  /** Namespace to run in. */
  readonly namespace: string;
  /** Generates the superuser's and every database role's password inside the cluster. */
  readonly credentials: CredentialsGenerator;
  /** Name of the Service, StatefulSet and ServiceAccount (also the DNS name consumers use). @default 'postgres' */
  readonly name?: string;
  /**
   * Postgres image, pinned; an Alpine variant of the official image (uid 70) unless `uid` says otherwise.
   * @default - {@link DefaultImages.POSTGRES}
   */
  readonly image?: string;
  /** uid/gid of the `postgres` user in the image (70 on Alpine, 999 on Debian). @default 70 */
  readonly uid?: number;
  /** Server resources. @default - the sandbox preset's (100m / 256Mi, limit 512Mi) */
  readonly resources?: ContainerResources;
  /** Setup Job resources. @default - the sandbox preset's (50m / 64Mi, limit 128Mi) */
  readonly setupResources?: ContainerResources;
  /** Size of the data volume. @default '5Gi' */
  readonly storage?: string;
  /** StorageClass of the data volume. @default - the cluster's default StorageClass */
  readonly storageClassName?: string;
  /**
   * Port.
   * @default 5432
   * @see https://www.postgresql.org/docs/current/runtime-config-connection.html
   */
  readonly port?: number;
  /** Placement, priority, pod metadata, extra args and env, and the Service's type and annotations. @default - none */
  readonly pod?: PodSettings;
}

/**
 * Postgres as a StatefulSet running as its non-root uid, data on a PersistentVolumeClaim that outlives
 * redeploys, runtime directories on emptyDir, `pg_isready` probes, and Service `postgres`. `addDatabase()`
 * declares one database and owning role per consumer; a setup Job creates them idempotently on every deploy.
 */
export class PostgresServer extends Construct implements IConnectable {
  /** Where the server answers. */
  public readonly endpoint: Endpoint;
  /** Name of the Service and StatefulSet. */
  public readonly name: string;
  /** Namespace. */
  public readonly namespace: string;
  public readonly connections: Connections;
  /** The superuser's credentials; used only by the server and its setup Job. */
  public readonly superuserCredentials: ISecret;
  /** The StatefulSet (escape hatch). */
  public readonly statefulSet: ApiObject;
  private readonly databases = new Map<string, PostgresDatabase>();
  private readonly generator: CredentialsGenerator;
  private readonly image: string;
  private readonly uid: number;

  public constructor(scope: Construct, id: string, props: PostgresServerProps) {
    super(scope, id);
    props = snapshot(props ?? ({} as PostgresServerProps));
    const path = this.node.path;
    const preset = environmentPreset(EnvironmentName.SANDBOX);
    this.name = props.name ?? 'postgres';
    this.namespace = props.namespace;
    const port = props.port ?? 5432;
    const storage = props.storage ?? preset.database.storage;
    const resources = props.resources ?? preset.database.resources;
    const uid = props.uid ?? 70;

    const problems = new Problems();
    checkNoNulls(props, path, ['namespace', 'credentials']).forEach((p) => problems.add(p));
    problems.addIf(checkDnsLabel(this.name, { path, field: 'name' }));
    problems.addIf(checkNamespace(this.namespace, { path, field: 'namespace' }));
    problems.addIf(checkGenerator(props.credentials, path));
    problems.addIf(checkImage(props.image ?? DefaultImages.POSTGRES, { path, field: 'image' }));
    problems.addIf(checkPort(port, { path, field: 'port' }));
    problems.addIf(Quantity.check(storage, QuantityKind.BYTES, { path, field: 'storage' }));
    checkResources(problems, resources, path, 'resources');
    if (props.setupResources !== undefined) checkResources(problems, props.setupResources, path, 'setupResources');
    if (props.storageClassName !== undefined) problems.addIf(checkDnsSubdomain(props.storageClassName, { path, field: 'storageClassName' }));
    problems.addIf(checkUid(uid, { path, field: 'uid' }));
    checkPodSettings(problems, path, 'pod', props.pod);
    problems.throwIfAny(this);

    this.generator = props.credentials;
    this.image = props.image ?? DefaultImages.POSTGRES;
    this.uid = uid;
    this.endpoint = Endpoint.ofService(this.name, this.namespace, port, Scheme.POSTGRES);
    const labels = componentLabels('postgres', this.name, 'database');
    const selector = selectorLabels('postgres', this.name);
    const ports = [{ name: 'postgres', port }];
    this.superuserCredentials = props.credentials.addSecret(`${this.name}-superuser`, {
      [PG_USERNAME_KEY]: SecretValue.literal('postgres'),
      [PG_PASSWORD_KEY]: SecretValue.random(32),
    });
    // the server and its Jobs read it here, whatever namespace the generator runs in
    this.superuserCredentials.availableIn(this.namespace);
    // pg_isready only asks whether the server accepts connections; the user name does not need to exist.
    const isReady = ['pg_isready', '-q', '-h', '127.0.0.1', '-p', String(port)];

    const store = statefulStore(this, {
      pod: props.pod,
      name: this.name,
      namespace: this.namespace,
      labels,
      selector,
      uid,
      ports,
      storage,
      storageClassName: props.storageClassName,
      // a major version reads only its own data directory: changing it needs a dump and restore
      // (an image pinned by digest alone says no major version: then no format is checked, rather than every bump refused)
      dataFormat: postgresMajor(this.image) ? `postgres ${postgresMajor(this.image)}` : 'postgres',
      terminationGracePeriodSeconds: 60,
      container: hardenedContainer({
        name: 'postgres',
        image: props.image ?? DefaultImages.POSTGRES,
        resources,
        args: ['-c', `port=${port}`],
        env: [
          secretEnv('POSTGRES_USER', this.superuserCredentials, PG_USERNAME_KEY),
          secretEnv('POSTGRES_PASSWORD', this.superuserCredentials, PG_PASSWORD_KEY),
          // initdb refuses a mount point that holds lost+found: keep the cluster in a subdirectory.
          { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
        ],
        ports: containerPorts(ports),
        volumeMounts: [
          { name: 'data', mountPath: '/var/lib/postgresql/data' },
          { name: 'run', mountPath: '/var/run/postgresql' },
          { name: 'tmp', mountPath: '/tmp' },
        ],
        startupProbe: execProbe(isReady, { periodSeconds: 5, failureThreshold: 60, timeoutSeconds: 5 }),
        readinessProbe: execProbe(isReady, { periodSeconds: 10, timeoutSeconds: 5 }),
        livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('postgres') }, periodSeconds: 20, failureThreshold: 6, timeoutSeconds: 5 },
      }),
      volumes: [emptyDirVolume('run', '16Mi'), emptyDirVolume('tmp', '256Mi')],
    });
    this.statefulSet = store.statefulSet;
    this.connections = store.connections;

    setupJob(this, 'Setup', {
      store: this,
      port,
      component: 'postgres-setup',
      role: 'database-setup',
      image: props.image ?? DefaultImages.POSTGRES,
      runAs: { uid },
      resources: props.setupResources ?? preset.setupJob,
      entrypoint: 'setup.sh',
      files: () => ({ 'setup.sh': this.setupScript() }),
      env: () => this.setupEnv(),
    });
  }

  /**
   * Declares a database and a role of the same name that owns it, with a password generated in the cluster.
   * Refuses a name declared before.
   */
  public addDatabase(name: string): PostgresDatabase {
    const path = this.node.path;
    const problem = checkPostgresIdentifier(name, { path, field: 'addDatabase(name)' });
    if (problem) fail(problem, this);
    if (name === 'postgres' || name.startsWith('pg_')) {
      fail({ path, field: 'addDatabase(name)', value: name, message: 'is reserved by Postgres', fix: 'name the database after its consumer, e.g. "mlflow"' }, this);
    }
    if (this.databases.has(name)) fail({ path, field: 'addDatabase(name)', value: name, message: 'is declared twice', fix: 'declare each database once and share the returned object' }, this);
    const credentials = this.generator.addSecret(`${this.name}-${name.replace(/_/g, '-')}`, {
      [PG_USERNAME_KEY]: SecretValue.literal(name),
      [PG_PASSWORD_KEY]: SecretValue.random(32),
    });
    credentials.availableIn(this.namespace); // the setup Job creates the role from it, here
    const db = new PostgresDatabase(this, name, credentials);
    this.databases.set(name, db);
    return db;
  }

  /**
   * Dumps every declared database on a schedule (`pg_dump -Fc`, one file per database) and uploads the dumps to a
   * bucket, away from the data volume; dumps older than `retainDays` are pruned. Call once.
   * Restore: `pg_restore --clean --if-exists -d <database> <dump>` (see the README).
   * @returns the CronJob
   */
  public enableBackups(props: PostgresBackupProps): ApiObject {
    const path = this.node.path;
    const notProps = checkPropsObject(props, { path, field: 'enableBackups(props)' }, '{ bucket: store.addBucket("db-backups") }');
    if (notProps) fail(notProps, this);
    props = snapshot(props);
    const problems = new Problems();
    if (this.node.tryFindChild('Backup')) problems.add({ path, field: 'enableBackups', value: true, message: 'is called twice', fix: 'enable backups once' });
    const schedule = props.schedule ?? '0 2 * * *';
    problems.addIf(checkCron(schedule, { path, field: 'backup.schedule' }));
    problems.addIf(checkImage(props.clientImage ?? DefaultImages.PYTHON, { path, field: 'backup.clientImage' }));
    if (!(props.bucket instanceof Bucket)) problems.add({ path, field: 'backup.bucket', value: props.bucket, message: 'is not a Bucket', fix: 'pass a bucket from an object store\'s addBucket()' });
    const retainDays = props.retainDays ?? 30;
    problems.addIf(checkCount(retainDays, 1, { path, field: 'backup.retainDays' }));
    const prefix = props.prefix ?? this.name;
    if (typeof prefix !== 'string' || !/^[a-z0-9][a-z0-9._-]{0,62}(\/[a-z0-9][a-z0-9._-]{0,62})*$/.test(prefix)) {
      problems.add({ path, field: 'backup.prefix', value: prefix, message: 'is not a key prefix of lowercase path segments', fix: `use a prefix like "${this.name}" or "backups/${this.name}"` });
    }
    problems.throwIfAny(this);

    const name = `${this.name}-backup`;
    const labels = componentLabels('postgres-backup', name, 'database-backup');
    const selector = selectorLabels('postgres-backup', name);
    const connections = new Connections(this, 'BackupConnections', { name, namespace: this.namespace, podSelector: selector, labels });
    connections.allowTo(this, this.endpoint.port);
    const store = props.bucket.store;
    const s3 = store.grantReadWrite({ connections }, name, [props.bucket]);
    const preset = environmentPreset(EnvironmentName.SANDBOX);
    const dir = { name: 'backup', mountPath: '/backup' };
    serviceAccount(this, 'BackupServiceAccount', { name, namespace: this.namespace, labels });
    new k8s.KubeConfigMap(this, 'BackupScripts', {
      metadata: { name, namespace: this.namespace, labels },
      data: lazy(() => ({ 'dump.sh': this.dumpScript(), 'upload.sh': uploadScript(props.bucket.name, prefix, retainDays), 's3-client.py': readScript(__dirname, 's3-client.py') })),
    });
    return new k8s.KubeCronJob(this, 'Backup', {
      metadata: { name, namespace: this.namespace, labels },
      spec: {
        schedule,
        timeZone: props.timezone ?? 'UTC',
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 600,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          spec: {
            backoffLimit: 2,
            activeDeadlineSeconds: 3600,
            template: {
              metadata: { labels: { ...labels, ...selector } },
              spec: {
                serviceAccountName: name,
                automountServiceAccountToken: false,
                restartPolicy: 'OnFailure',
                securityContext: restrictedPodSecurityContext({ uid: this.uid }),
                initContainers: [hardenedContainer({
                  name: 'dump',
                  image: this.image,
                  resources: preset.setupJob,
                  command: ['sh', '/scripts/dump.sh'],
                  env: [
                    { name: 'PGHOST', value: this.endpoint.host },
                    { name: 'PGPORT', value: String(this.endpoint.port) },
                    secretEnv('PGUSER', this.superuserCredentials, PG_USERNAME_KEY),
                    secretEnv('PGPASSWORD', this.superuserCredentials, PG_PASSWORD_KEY),
                  ],
                  volumeMounts: [dir, { name: 'scripts', mountPath: '/scripts', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }],
                })],
                containers: [hardenedContainer({
                  name: 'upload',
                  image: props.clientImage ?? DefaultImages.PYTHON,
                  resources: preset.setupJob,
                  command: ['sh', '/scripts/upload.sh'],
                  env: [
                    { name: 'S3_URL', value: store.endpoint.url() },
                    { name: 'AWS_REGION', value: store.region },
                    secretEnv('AWS_ACCESS_KEY_ID', s3, S3_ACCESS_KEY_ID),
                    secretEnv('AWS_SECRET_ACCESS_KEY', s3, S3_SECRET_ACCESS_KEY),
                    { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
                  ],
                  volumeMounts: [dir, { name: 'scripts', mountPath: '/scripts', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }],
                })],
                volumes: [emptyDirVolume('backup', '20Gi'), emptyDirVolume('tmp', '64Mi'), { name: 'scripts', configMap: { name } }],
              },
            },
          },
        },
      },
    });
  }

  private dumpScript(): string {
    const lines = [
      '#!/bin/sh',
      '# Dumps every database in the custom format (restore with pg_restore); fails the Job on any error.',
      'set -eu',
      'out="${BACKUP_DIR:-/backup}/$(date -u +%Y%m%dT%H%M%SZ)"',
      'mkdir -p "$out"',
    ];
    for (const db of this.databaseList) lines.push(`pg_dump -Fc --no-owner -d "${db.databaseName}" -f "$out/${db.databaseName}.dump"`);
    lines.push('ls -l "$out"');
    return lines.join('\n') + '\n';
  }

  /** The databases declared so far (a copy). */
  public get databaseList(): readonly PostgresDatabase[] {
    return [...this.databases.values()];
  }

  private setupEnv(): k8s.EnvVar[] {
    const env: k8s.EnvVar[] = [
      { name: 'PGHOST', value: this.endpoint.host },
      { name: 'PGPORT', value: String(this.endpoint.port) },
      { name: 'PGDATABASE', value: 'postgres' },
      secretEnv('PGUSER', this.superuserCredentials, PG_USERNAME_KEY),
      secretEnv('PGPASSWORD', this.superuserCredentials, PG_PASSWORD_KEY),
    ];
    this.databaseList.forEach((db, i) => env.push(
      secretEnv(`DB${i}_USERNAME`, db.credentials, PG_USERNAME_KEY),
      secretEnv(`DB${i}_PASSWORD`, db.credentials, PG_PASSWORD_KEY),
    ));
    return env;
  }

  private setupScript(): string {
    const lines = [
      '#!/bin/sh',
      '# Creates one role and one database per consumer; safe to run again. Role names and passwords come from',
      '# env (Secret refs), so Secrets supplied by the user may name the roles as they like.',
      'set -eu',
      'i=0',
      'until pg_isready -q; do',
      '  i=$((i + 1)); if [ "$i" -ge 60 ]; then echo "Postgres at $PGHOST:$PGPORT did not answer in 5 minutes" >&2; exit 1; fi',
      '  sleep 5',
      'done',
      "psql -v ON_ERROR_STOP=1 -q <<'SQL'",
    ];
    this.databaseList.forEach((db, i) => {
      const n = db.databaseName; // a checked identifier: safe to inline; role names are quoted by format(%I)
      lines.push(
        `\\getenv u DB${i}_USERNAME`,
        `\\getenv pw DB${i}_PASSWORD`,
        `SELECT format('CREATE ROLE %I LOGIN', :'u') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'u')\\gexec`,
        `SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'u', :'pw')\\gexec`,
        `SELECT format('CREATE DATABASE %I OWNER %I', '${n}', :'u') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${n}')\\gexec`,
        `SELECT format('ALTER DATABASE %I OWNER TO %I', '${n}', :'u')\\gexec`,
        `REVOKE ALL ON DATABASE "${n}" FROM PUBLIC;`,
        `SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', '${n}', :'u')\\gexec`,
      );
    });
    lines.push('SQL', 'echo "databases and roles are in place"');
    return lines.join('\n') + '\n';
  }
}

/** Where and when {@link PostgresServer.enableBackups} dumps the databases. */
export interface PostgresBackupProps {
  /** The bucket the dumps go to (an object store other than the data volume; an external one survives the cluster). */
  readonly bucket: Bucket;
  /** Cron schedule. @default '0 2 * * *' (02:00 every day) */
  readonly schedule?: string;
  /** Time zone of the schedule. @default 'UTC' */
  readonly timezone?: string;
  /** Days a dump is kept. @default 30 */
  readonly retainDays?: number;
  /** Python image (standard library) for the upload, pinned. @default - {@link DefaultImages.PYTHON} */
  readonly clientImage?: string;
  /**
   * Key prefix of the dumps in the bucket: uploads go to `<prefix>/<time>/<database>.dump`, and pruning deletes only
   * keys of that shape under it, so the bucket can be shared.
   * @default - the server's name, e.g. 'postgres'
   */
  readonly prefix?: string;
}

/** Uploads a dump directory under its prefix, then prunes only this server's dumps older than the retention window. */
function uploadScript(bucket: string, prefix: string, retainDays: number): string {
  return [
    '#!/bin/sh',
    '# Uploads the dumps the dump step wrote to <prefix>/<time>/, then removes this server\'s dumps older than the',
    '# retention window (judged by the <time> in their keys; nothing else in the bucket is touched).',
    'set -eu',
    `python3 /scripts/s3-client.py upload /backup "${bucket}" "${prefix}"`,
    `python3 /scripts/s3-client.py prune "${bucket}" "${prefix}" ${retainDays}`,
  ].join('\n') + '\n';
}

/** A database on a {@link PostgresServer}, owned by a role of the same name. */
export class PostgresDatabase implements IPostgresDatabase {
  public readonly endpoint: Endpoint;
  /** The in-cluster server has no certificate; its traffic stays behind the namespace's NetworkPolicy. */
  public readonly sslMode = PostgresSslMode.DISABLE;

  public constructor(private readonly server: PostgresServer, public readonly databaseName: string, public readonly credentials: ISecret) {
    this.endpoint = server.endpoint;
  }

  public grantConnect(grantee: IConnectable): void {
    checkGrantee(grantee, { path: `${this.server.node.path}/${this.databaseName}`, field: 'grantConnect(grantee)' }, this.server);
    this.credentials.availableIn(grantee.connections.namespace);
    grantee.connections.allowTo(this.server, this.endpoint.port);
  }
}

/** Props of {@link ExternalPostgresDatabase}. */
export interface ExternalPostgresDatabaseProps {
  /** Host name of the server (a managed database, say). Required. */
  readonly host: string;
  /** Port. @default 5432 */
  readonly port?: number;
  /** Database name. Required. */
  readonly databaseName: string;
  /** An existing Secret with keys `username` and `password`, in every namespace its `requiredIn` lists. */
  readonly credentials: ISecret;
  /** Where the server's addresses are, for egress NetworkPolicies. @default '0.0.0.0/0' */
  readonly egressCidr?: string;
  /**
   * How clients protect the connection: a verified certificate by default, so the password never crosses the
   * network in clear and a server that requires TLS is not refused.
   * @default PostgresSslMode.VERIFY_FULL
   */
  readonly sslMode?: PostgresSslMode;
  /**
   * The CA bundle that signed the server's certificate (a cloud's regional bundle, a company CA), from a Secret, for
   * `verify-ca` and `verify-full`. MLflow reads it as libpq's `sslrootcert`, Argo's controller and server as
   * `PGSSLROOTCERT` (pgx reads it from the environment).
   * @default - the clients' system roots (enough for a server whose certificate a public CA signed)
   */
  readonly caCertificate?: CaCertificate;
}

/** A database on a Postgres server outside the platform. */
export class ExternalPostgresDatabase extends Construct implements IPostgresDatabase {
  public readonly endpoint: Endpoint;
  public readonly sslMode: PostgresSslMode;
  public readonly caCertificate?: CaCertificate;
  public readonly databaseName: string;
  public readonly credentials: ISecret;
  private readonly egressCidr: string;

  public constructor(scope: Construct, id: string, props: ExternalPostgresDatabaseProps) {
    super(scope, id);
    props = snapshot(props ?? ({} as ExternalPostgresDatabaseProps));
    const path = this.node.path;
    const problems = new Problems();
    const port = props.port ?? 5432;
    checkNoNulls(props, path, ['host', 'credentials', 'databaseName']).forEach((p) => problems.add(p));
    problems.addIf(checkHost(props.host, { path, field: 'host' }));
    problems.addIf(checkPort(port, { path, field: 'port' }));
    problems.addIf(checkPostgresIdentifier(props.databaseName, { path, field: 'databaseName' }));
    if (props.egressCidr !== undefined) problems.addIf(checkCidr(props.egressCidr, { path, field: 'egressCidr' }));
    const modes = Object.values(PostgresSslMode) as string[];
    if (props.sslMode !== undefined && !modes.includes(props.sslMode)) problems.add({ path, field: 'sslMode', value: props.sslMode, message: 'is not a libpq sslmode cd4ml supports', fix: `use one of ${modes.join(', ')} (PostgresSslMode)` });
    const keys: unknown = (props.credentials as Partial<ISecret> | undefined)?.keys;
    for (const key of [PG_USERNAME_KEY, PG_PASSWORD_KEY]) {
      if (!Array.isArray(keys) || !keys.includes(key)) problems.add({ path, field: 'credentials', value: props.credentials?.secretName, message: `lacks the key ${key}`, fix: `use a Secret with keys ${PG_USERNAME_KEY} and ${PG_PASSWORD_KEY}` });
    }
    const ca: unknown = props.caCertificate;
    if (ca !== undefined) {
      const secret: unknown = isPlainObject(ca) ? ca.secret : undefined;
      const declared: unknown = typeof secret === 'object' && secret !== null ? (secret as ISecret).keys : undefined;
      if (!isPlainObject(ca) || !Array.isArray(declared) || typeof (secret as ISecret).availableIn !== 'function') {
        problems.add({ path, field: 'caCertificate', value: describeType(ca), message: 'is not a Secret key reference', fix: 'give { secret, key }, e.g. { secret: SecretRef.fromSecretName("rds-ca", ["ca.crt"]), key: "ca.crt" }' });
      } else if (typeof ca.key !== 'string' || !declared.includes(ca.key)) {
        problems.add({ path, field: 'caCertificate.key', value: ca.key, message: `is not a key of the Secret ${(secret as ISecret).secretName}`, fix: `use one of ${declared.map((k) => `"${String(k)}"`).join(', ') || '(none)'}` });
      }
      const mode = props.sslMode ?? PostgresSslMode.VERIFY_FULL;
      if (mode !== PostgresSslMode.VERIFY_CA && mode !== PostgresSslMode.VERIFY_FULL) {
        problems.add({ path, field: 'sslMode', value: mode, message: 'does not verify the server\'s certificate, so the CA bundle given would go unused', fix: `use "${PostgresSslMode.VERIFY_FULL}" (PostgresSslMode.VERIFY_FULL), or drop caCertificate` });
      }
    }
    problems.throwIfAny(this);
    this.caCertificate = props.caCertificate;
    this.endpoint = new Endpoint(props.host, port, Scheme.POSTGRES);
    this.databaseName = props.databaseName;
    this.credentials = props.credentials;
    this.egressCidr = props.egressCidr ?? '0.0.0.0/0';
    this.sslMode = props.sslMode ?? PostgresSslMode.VERIFY_FULL;
  }

  public grantConnect(grantee: IConnectable): void {
    checkGrantee(grantee, { path: this.node.path, field: 'grantConnect(grantee)' }, this);
    this.credentials.availableIn(grantee.connections.namespace);
    this.caCertificate?.secret.availableIn(grantee.connections.namespace);
    grantee.connections.allowEgress(NetworkPeer.cidr(this.egressCidr), this.endpoint.port);
  }
}
