import { checkPodSettings, PodSettings } from '../k8s/pod-settings';
import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  checkBucketName, checkCidr, checkImage, checkNamespace, checkRegion, checkResources, checkUid, checkDnsLabel, checkDnsSubdomain, checkPort, ContainerResources,
  describeType, Endpoint, EnvironmentName, environmentPreset, fail, findCredential, isAwsHost, Problem, Problems, Quantity, QuantityKind, regionOfAwsHost, REDACTED, Scheme, checkNoNulls, snapshot,
} from '../../lib';
import { CredentialsGenerator, SecretValue } from './credentials-generator';
import { DefaultImages } from '../k8s/images';
import { componentLabels, selectorLabels } from '../k8s/labels';
import { checkGrantee, Connections, IConnectable, NetworkPeer } from '../k8s/network';
import { emptyDirVolume, hardenedContainer, httpProbe } from '../k8s/pod-security';
import { ISecret, secretEnv } from '../k8s/secret';
import { containerPorts, setupJob, statefulStore } from '../k8s/workload';

/** The Secret keys every S3 credential holds: the names boto3, MLflow and the AWS CLI read. */
export const S3_ACCESS_KEY_ID = 'AWS_ACCESS_KEY_ID';
/** @see S3_ACCESS_KEY_ID */
export const S3_SECRET_ACCESS_KEY = 'AWS_SECRET_ACCESS_KEY';

/** A bucket of an object store. */
export class Bucket {
  public constructor(
    /** The store holding it. */
    public readonly store: IObjectStore,
    /** Bucket name. */
    public readonly name: string,
  ) {}

  /** `s3://bucket/key`. */
  public s3Uri(key = ''): string {
    return `s3://${this.name}${key === '' ? '' : `/${key.replace(/^\/+/, '')}`}`;
  }
}

/**
 * An S3-compatible object store, as its consumers see it. MinIO in the cluster ({@link MinioObjectStore}) and an
 * external endpoint ({@link ExternalObjectStore}) both implement it, so consumers never know which one they use.
 */
export interface IObjectStore {
  /** The S3 API endpoint, as reached from inside the cluster. */
  readonly endpoint: Endpoint;
  /** The S3 region to sign requests for. */
  readonly region: string;
  /** The buckets declared so far (a copy). */
  readonly buckets: readonly Bucket[];
  /** Declares a bucket (created by the store's setup, or expected to exist). Refuses a name declared before. */
  addBucket(name: string): Bucket;
  /** The bucket declared under `name`; fails when there is none. */
  bucket(name: string): Bucket;
  /**
   * Gives `grantee` read-write access to `buckets`: returns the S3 credentials it should read (available in its
   * namespace, keys {@link S3_ACCESS_KEY_ID} and {@link S3_SECRET_ACCESS_KEY}) and opens the network flow.
   * @param user a name for the grantee's identity on the store (a DNS-1123 label)
   */
  grantReadWrite(grantee: IConnectable, user: string, buckets: readonly Bucket[]): ISecret;
  /** Opens the network flow from `peer` to the store only (for a workload that borrows another's credentials). */
  connectFrom(peer: IConnectable): void;
}

/** Shared bucket bookkeeping for every store. */
export abstract class BucketRegistry extends Construct {
  protected readonly bucketMap = new Map<string, Bucket>();

  public get buckets(): readonly Bucket[] {
    return [...this.bucketMap.values()];
  }

  public addBucket(name: string): Bucket {
    const path = this.node.path;
    const problem = checkBucketName(name, { path, field: 'bucket name' });
    if (problem) fail(problem, this);
    if (this.bucketMap.has(name)) {
      fail({ path, field: 'bucket name', value: name, message: 'is declared twice', fix: 'declare each bucket once and share the returned Bucket' }, this);
    }
    const b = new Bucket(this as unknown as IObjectStore, name);
    this.bucketMap.set(name, b);
    return b;
  }

  public bucket(name: string): Bucket {
    const b = this.bucketMap.get(name);
    if (!b) {
      fail({ path: this.node.path, field: 'bucket', value: name, message: 'is not a declared bucket', fix: `declare it with addBucket("${name}") or use one of ${[...this.bucketMap.keys()].join(', ') || '(none)'}` }, this);
    }
    return b;
  }

  /**
   * The checks every store makes of a grant: the user a DNS-1123 label not granted before (`taken`), at least one
   * bucket, and only this store's buckets. Fails with the field and the fix.
   */
  protected checkGrant(grantee: IConnectable, user: string, buckets: readonly Bucket[], taken: (user: string) => boolean): void {
    const path = this.node.path;
    checkGrantee(grantee, { path, field: 'grantReadWrite(grantee)' }, this);
    const problem = checkDnsLabel(user, { path, field: 'grantReadWrite(user)' });
    if (problem) fail(problem, this);
    if (taken(user)) fail({ path, field: 'grantReadWrite(user)', value: user, message: 'is granted twice (or is a name the store reserves)', fix: `grant each user once, with all of its buckets, e.g. "${user}-2"` }, this);
    if (!Array.isArray(buckets) || buckets.length === 0) fail({ path, field: 'grantReadWrite(buckets)', value: [], message: 'is empty', fix: 'grant at least one bucket' }, this);
    this.checkBuckets(buckets, 'grantReadWrite(buckets)');
  }

  protected checkBuckets(buckets: readonly Bucket[], field: string): void {
    for (const b of buckets) {
      if (this.bucketMap.get(b.name) !== b) {
        fail({ path: this.node.path, field, value: b.name, message: 'is a bucket of another store', fix: 'pass buckets returned by this store\'s addBucket()' }, this);
      }
    }
  }
}

/** Props of {@link MinioObjectStore}. */
export interface MinioObjectStoreProps {
  /** Namespace to run in. */
  readonly namespace: string;
  /** Generates the root credentials and one credential per grantee inside the cluster. */
  readonly credentials: CredentialsGenerator;
  /** Name of the Service, StatefulSet and ServiceAccount (also the DNS name consumers use). @default 'minio' */
  readonly name?: string;
  /** MinIO server image, pinned. @default - {@link DefaultImages.MINIO} */
  readonly image?: string;
  /** `mc` client image for the setup Job, pinned. @default - {@link DefaultImages.MINIO_CLIENT} */
  readonly clientImage?: string;
  /** Server resources. @default - the sandbox preset's (100m / 256Mi, limit 512Mi) */
  readonly resources?: ContainerResources;
  /** Setup Job resources. @default - the sandbox preset's (50m / 64Mi, limit 128Mi) */
  readonly setupResources?: ContainerResources;
  /** Size of the data volume. @default '10Gi' */
  readonly storage?: string;
  /** StorageClass of the data volume. @default - the cluster's default StorageClass */
  readonly storageClassName?: string;
  /**
   * S3 API port.
   * @default 9000
   * @see https://min.io/docs/minio/linux/reference/minio-server/minio-server.html
   */
  readonly apiPort?: number;
  /** Web console port. @default 9001 */
  readonly consolePort?: number;
  /** The region MinIO reports. @default 'us-east-1' */
  readonly region?: string;
  /** uid/gid the server runs as (the image has no user of its own). @default 10001 */
  readonly uid?: number;
  /** Placement, priority, pod metadata, extra args and env, and the Service's type and annotations. @default - none */
  readonly pod?: PodSettings;
}

/**
 * MinIO as a single-node StatefulSet whose data lives on a PersistentVolumeClaim that outlives redeploys,
 * with a readable Service (`minio`: S3 API and console). A setup Job creates the declared buckets and one
 * MinIO user per grantee with a policy limited to its buckets, idempotently on every deploy.
 */
export class MinioObjectStore extends BucketRegistry implements IObjectStore, IConnectable {
  public readonly endpoint: Endpoint;
  public readonly region: string;
  /** The console (web UI) endpoint. */
  public readonly consoleEndpoint: Endpoint;
  /** Name of the Service and StatefulSet. */
  public readonly name: string;
  /** Namespace. */
  public readonly namespace: string;
  /** The root credentials (keys `MINIO_ROOT_USER`, `MINIO_ROOT_PASSWORD`); used only by the server and its setup Job. */
  public readonly rootCredentials: ISecret;
  public readonly connections: Connections;
  /** The StatefulSet (escape hatch). */
  public readonly statefulSet: ApiObject;
  private readonly users = new Map<string, { secret: ISecret; buckets: readonly Bucket[] }>();
  private readonly generator: CredentialsGenerator;

  public constructor(scope: Construct, id: string, props: MinioObjectStoreProps) {
    super(scope, id);
    props = snapshot(props ?? ({} as MinioObjectStoreProps));
    const path = this.node.path;
    const preset = environmentPreset(EnvironmentName.SANDBOX);
    this.name = props.name ?? 'minio';
    this.namespace = props.namespace;
    this.region = props.region ?? 'us-east-1';
    const apiPort = props.apiPort ?? 9000;
    const consolePort = props.consolePort ?? 9001;
    const storage = props.storage ?? preset.objectStore.storage;
    const resources = props.resources ?? preset.objectStore.resources;
    const uid = props.uid ?? 10001;

    const problems = new Problems();
    checkNoNulls(props, path, ['namespace', 'credentials']).forEach((p) => problems.add(p));
    problems.addIf(checkDnsLabel(this.name, { path, field: 'name' }));
    problems.addIf(checkNamespace(this.namespace, { path, field: 'namespace' }));
    problems.addIf(checkGenerator(props.credentials, path));
    problems.addIf(checkImage(props.image ?? DefaultImages.MINIO, { path, field: 'image' }));
    problems.addIf(checkImage(props.clientImage ?? DefaultImages.MINIO_CLIENT, { path, field: 'clientImage' }));
    problems.addIf(checkRegion(this.region, { path, field: 'region' }));
    problems.addIf(checkPort(apiPort, { path, field: 'apiPort' }));
    problems.addIf(checkPort(consolePort, { path, field: 'consolePort' }));
    if (apiPort === consolePort) problems.add({ path, field: 'consolePort', value: consolePort, message: 'equals apiPort', fix: 'give the console its own port' });
    problems.addIf(Quantity.check(storage, QuantityKind.BYTES, { path, field: 'storage' }));
    checkResources(problems, resources, path, 'resources');
    if (props.setupResources !== undefined) checkResources(problems, props.setupResources, path, 'setupResources');
    if (props.storageClassName !== undefined) problems.addIf(checkDnsSubdomain(props.storageClassName, { path, field: 'storageClassName' }));
    problems.addIf(checkUid(uid, { path, field: 'uid' }));
    checkPodSettings(problems, path, 'pod', props.pod);
    problems.throwIfAny(this);

    this.generator = props.credentials;
    this.endpoint = Endpoint.ofService(this.name, this.namespace, apiPort, Scheme.HTTP);
    this.consoleEndpoint = Endpoint.ofService(this.name, this.namespace, consolePort, Scheme.HTTP);
    const labels = componentLabels('minio', this.name, 'object-store');
    const selector = selectorLabels('minio', this.name);
    const ports = [{ name: 's3', port: apiPort }, { name: 'console', port: consolePort }];

    this.rootCredentials = props.credentials.addSecret(`${this.name}-root`, {
      MINIO_ROOT_USER: SecretValue.random(16),
      MINIO_ROOT_PASSWORD: SecretValue.random(40),
    });
    this.rootCredentials.availableIn(this.namespace); // the server and its setup Job read it here

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
      dataFormat: 'minio',
      container: hardenedContainer({
        name: 'minio',
        image: props.image ?? DefaultImages.MINIO,
        resources,
        command: ['minio'],
        args: ['server', '/data', '--address', `:${apiPort}`, '--console-address', `:${consolePort}`],
        env: [
          secretEnv('MINIO_ROOT_USER', this.rootCredentials, 'MINIO_ROOT_USER'),
          secretEnv('MINIO_ROOT_PASSWORD', this.rootCredentials, 'MINIO_ROOT_PASSWORD'),
          { name: 'MINIO_REGION', value: this.region },
          // A uid without a passwd entry has HOME=/, where MinIO would create its config dir (minio/minio#14763).
          { name: 'HOME', value: '/tmp' },
        ],
        ports: containerPorts(ports),
        volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'tmp', mountPath: '/tmp' }],
        readinessProbe: httpProbe('/minio/health/ready', 's3', { periodSeconds: 10 }),
        livenessProbe: httpProbe('/minio/health/live', 's3', { periodSeconds: 20, failureThreshold: 3 }),
        startupProbe: httpProbe('/minio/health/live', 's3', { periodSeconds: 5, failureThreshold: 60 }),
      }),
      volumes: [emptyDirVolume('tmp', '256Mi')],
    });
    this.statefulSet = store.statefulSet;
    this.connections = store.connections;

    setupJob(this, 'Setup', {
      store: this,
      port: apiPort,
      component: 'minio-setup',
      role: 'object-store-setup',
      image: props.clientImage ?? DefaultImages.MINIO_CLIENT,
      runAs: { uid },
      resources: props.setupResources ?? preset.setupJob,
      entrypoint: 'setup.sh',
      files: () => this.setupFiles(),
      env: () => this.setupEnv(),
    });
  }

  public grantReadWrite(grantee: IConnectable, user: string, buckets: readonly Bucket[]): ISecret {
    this.checkGrant(grantee, user, buckets, (u) => this.users.has(u));
    // A random access key: a user's name would be one half of its credential known to everyone (issue 9).
    const secret = this.generator.addSecret(`${this.name}-${user}`, {
      [S3_ACCESS_KEY_ID]: SecretValue.random(20),
      [S3_SECRET_ACCESS_KEY]: SecretValue.random(40),
    });
    secret.availableIn(grantee.connections.namespace);
    secret.availableIn(this.namespace); // the setup Job creates the user from it
    this.users.set(user, { secret, buckets: [...buckets] });
    this.connectFrom(grantee);
    return secret;
  }

  public connectFrom(peer: IConnectable): void {
    peer.connections.allowTo(this, this.endpoint.port);
  }

  private setupEnv(): k8s.EnvVar[] {
    const env: k8s.EnvVar[] = [
      secretEnv('MINIO_ROOT_USER', this.rootCredentials, 'MINIO_ROOT_USER'),
      secretEnv('MINIO_ROOT_PASSWORD', this.rootCredentials, 'MINIO_ROOT_PASSWORD'),
      { name: 'S3_URL', value: this.endpoint.url() },
      { name: 'MC_CONFIG_DIR', value: '/tmp/.mc' },
    ];
    [...this.users.values()].forEach((u, i) => {
      env.push(secretEnv(`USER${i}_ACCESS_KEY`, u.secret, S3_ACCESS_KEY_ID), secretEnv(`USER${i}_SECRET_KEY`, u.secret, S3_SECRET_ACCESS_KEY));
    });
    return env;
  }

  private setupFiles(): Record<string, string> {
    const files: Record<string, string> = {};
    const lines = [
      '#!/bin/sh',
      '# Creates buckets, policies and users; safe to run again (every step is idempotent).',
      'set -eu',
      'i=0',
      'until mc alias set store "$S3_URL" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1; do',
      '  i=$((i + 1)); if [ "$i" -ge 60 ]; then echo "MinIO at $S3_URL did not answer in 5 minutes" >&2; exit 1; fi',
      '  sleep 5',
      'done',
    ];
    for (const b of this.buckets) lines.push(`mc mb --ignore-existing "store/${b.name}"`);
    [...this.users.entries()].forEach(([user, u], i) => {
      const policy = `cd4ml-${user}`;
      files[`policy-${user}.json`] = JSON.stringify(bucketPolicy(u.buckets), null, 2);
      lines.push(
        `mc admin policy create store ${policy} /config/policy-${user}.json`,
        `mc admin user add store "$USER${i}_ACCESS_KEY" "$USER${i}_SECRET_KEY" >/dev/null`,
        `out=$(mc admin policy attach store ${policy} --user "$USER${i}_ACCESS_KEY" 2>&1) || case "$out" in *"already"*) ;; *) echo "$out" >&2; exit 1 ;; esac`,
      );
    });
    lines.push('echo "buckets and users are in place"');
    files['setup.sh'] = lines.join('\n') + '\n';
    return files;
  }
}

/** A MinIO/IAM policy granting read-write on exactly these buckets. */
export function bucketPolicy(buckets: readonly Bucket[]): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'], Resource: buckets.map((b) => `arn:aws:s3:::${b.name}`) },
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        Resource: buckets.map((b) => `arn:aws:s3:::${b.name}/*`),
      },
    ],
  };
}

/** Props of {@link ExternalObjectStore}. */
export interface ExternalObjectStoreProps {
  /** The S3 endpoint URL, e.g. `https://s3.eu-central-1.amazonaws.com` or `http://minio.storage.svc:9000`. Required. */
  readonly endpoint: string;
  /**
   * One existing Secret per consumer, by the user name it is granted under (the platform grants `mlflow` its
   * artifact bucket, `workflows` Argo's artifact bucket, `pipelines` the data bucket, and `postgres-backup` the backup
   * bucket when Postgres runs in the cluster), each with keys `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` for a
   * key limited to those buckets. Each must exist in the namespaces its `requiredIn` lists after synthesis.
   * Give this or {@link sharedCredentials}.
   * @default - none
   */
  readonly credentials?: Readonly<Record<string, ISecret>>;
  /**
   * One Secret every consumer shares. Any pipeline step can then rewrite MLflow's artifacts and Argo's logs behind
   * their backs: only for a throwaway bucket. Give this or {@link credentials}.
   * @default - none
   */
  readonly sharedCredentials?: ISecret;
  /** The region to sign requests for. @default 'us-east-1' */
  readonly region?: string;
  /** Where the endpoint's addresses are, for egress NetworkPolicies. @default '0.0.0.0/0' */
  readonly egressCidr?: string;
}

/**
 * An S3 endpoint that runs outside the platform (AWS S3, a shared MinIO, Ceph RGW...). Buckets must exist; each
 * grantee reads its own credential Secret, which the user supplies (or, by explicit choice, one shared Secret).
 */
export class ExternalObjectStore extends BucketRegistry implements IObjectStore {
  public readonly endpoint: Endpoint;
  public readonly region: string;
  private readonly credentials: Readonly<Record<string, ISecret>>;
  private readonly sharedCredentials?: ISecret;
  private readonly egressCidr: string;

  public constructor(scope: Construct, id: string, props: ExternalObjectStoreProps) {
    super(scope, id);
    props = snapshot(props ?? ({} as ExternalObjectStoreProps));
    const path = this.node.path;
    const problems = new Problems();
    checkNoNulls(props, path, ['endpoint', 'credentials', 'sharedCredentials']).forEach((p) => problems.add(p));
    const url = checkEndpointUrl(props.endpoint, path, 'endpoint');
    if (!(url instanceof Endpoint)) problems.add(url);
    const perUser = props.credentials;
    const example = `{ mlflow: SecretRef.fromSecretName('s3-mlflow', ['${S3_ACCESS_KEY_ID}', '${S3_SECRET_ACCESS_KEY}']), workflows: ..., pipelines: ... }`;
    const checkKeys = (secret: unknown, field: string) => {
      const keys: unknown = (secret as Partial<ISecret> | undefined)?.keys;
      for (const key of [S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY]) {
        if (!Array.isArray(keys) || !keys.includes(key)) {
          problems.add({ path, field, value: (secret as Partial<ISecret> | undefined)?.secretName ?? describeType(secret), message: `lacks the key ${key}`, fix: `use a Secret with keys ${S3_ACCESS_KEY_ID} and ${S3_SECRET_ACCESS_KEY}` });
        }
      }
    };
    if ((perUser === undefined) === (props.sharedCredentials === undefined)) {
      problems.add({
        path, field: 'credentials', value: perUser === undefined ? undefined : '(and sharedCredentials)',
        message: perUser === undefined ? 'is missing: each consumer needs its own S3 key' : 'is given together with sharedCredentials',
        fix: `give one Secret per consumer, e.g. credentials: ${example}`,
      });
    } else if (perUser !== undefined) {
      if (typeof perUser !== 'object' || perUser === null || Array.isArray(perUser) || 'secretName' in perUser) {
        problems.add({ path, field: 'credentials', value: describeType(perUser), message: 'is not a map of Secrets by user (one Secret is sharedCredentials)', fix: `give one Secret per consumer, e.g. credentials: ${example}` });
      } else {
        for (const [user, secret] of Object.entries(perUser)) {
          problems.addIf(checkDnsLabel(user, { path, field: `credentials.${user}` }));
          checkKeys(secret, `credentials.${user}`);
        }
        const names = Object.values(perUser).map((s) => s?.secretName);
        const twice = names.find((n, i) => n !== undefined && names.indexOf(n) !== i);
        if (twice) problems.add({ path, field: 'credentials', value: twice, message: 'serves two consumers', fix: 'give each consumer its own Secret, with a key limited to its buckets (or say sharedCredentials)' });
      }
    } else {
      checkKeys(props.sharedCredentials, 'sharedCredentials');
    }
    this.egressCidr = props.egressCidr ?? '0.0.0.0/0';
    problems.addIf(checkCidr(this.egressCidr, { path, field: 'egressCidr' }));
    this.region = props.region ?? 'us-east-1';
    // AWS signs for a region: an AWS endpoint needs an AWS region, and the very one its host names
    const host = url instanceof Endpoint ? url.host : '';
    problems.addIf(checkRegion(this.region, { path, field: 'region' }, { aws: isAwsHost(host), expected: regionOfAwsHost(host) }));
    problems.throwIfAny(this);
    this.endpoint = url as Endpoint;
    this.credentials = { ...(perUser ?? {}) };
    this.sharedCredentials = props.sharedCredentials;
  }

  public grantReadWrite(grantee: IConnectable, user: string, buckets: readonly Bucket[]): ISecret {
    this.checkGrant(grantee, user, buckets, () => false);
    const secret = this.credentials[user] ?? this.sharedCredentials;
    if (!secret) {
      fail({
        path: this.node.path, field: `credentials.${user}`, value: undefined,
        message: `is missing: the platform grants "${user}" the buckets ${buckets.map((b) => b.name).join(', ')}`,
        fix: `add credentials.${user}: SecretRef.fromSecretName('s3-${user}', ['${S3_ACCESS_KEY_ID}', '${S3_SECRET_ACCESS_KEY}']), a key limited to those buckets`,
      }, this);
    }
    secret.availableIn(grantee.connections.namespace);
    this.connectFrom(grantee);
    return secret;
  }

  public connectFrom(peer: IConnectable): void {
    peer.connections.allowEgress(NetworkPeer.cidr(this.egressCidr), this.endpoint.port);
  }
}

/** Parses an http(s) URL into an endpoint, failing with the construct path and field. */
export function parseUrl(value: string | undefined, path: string, field: string): Endpoint {
  const result = checkEndpointUrl(value, path, field);
  if (!(result instanceof Endpoint)) fail(result);
  return result;
}

/**
 * Reads an http(s) URL into an endpoint, or says what is wrong with it. A URL that holds a credential (a user and
 * password, a token in its query) is refused and never shown.
 */
export function checkEndpointUrl(value: unknown, path: string, field: string): Endpoint | Problem {
  if (value === undefined || value === null || value === '') {
    return { path, field, value, message: 'is required', fix: 'give the full URL, e.g. "https://s3.eu-central-1.amazonaws.com"' };
  }
  if (typeof value !== 'string') return { path, field, value, message: `is ${describeType(value)}, not a URL`, fix: 'give the full URL as a string, e.g. "https://s3.example.com"' };
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    if (findCredential(value)) return { path, field, value: REDACTED, message: 'holds credentials', fix: 'pass credentials as a Secret, never inside the URL' };
    return { path, field, value, message: 'is not a URL', fix: 'give the full URL with scheme, e.g. "https://s3.example.com"' };
  }
  if (u.username || u.password || findCredential(value)) return { path, field, value: REDACTED, message: 'holds credentials', fix: 'pass credentials as a Secret, never inside the URL' };
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { path, field, value, message: 'is not an http(s) URL', fix: 'use http:// or https://, e.g. "https://s3.example.com"' };
  const scheme = u.protocol === 'https:' ? Scheme.HTTPS : Scheme.HTTP;
  const port = u.port === '' ? (scheme === Scheme.HTTPS ? 443 : 80) : Number(u.port);
  return new Endpoint(u.hostname, port, scheme);
}

/** Checks that a required `credentials` prop is a {@link CredentialsGenerator} (JavaScript callers can pass anything). */
export function checkGenerator(value: unknown, path: string): Problem | undefined {
  if (value instanceof CredentialsGenerator) return undefined;
  return { path, field: 'credentials', value: value === undefined || value === null ? value : describeType(value), message: 'is not a CredentialsGenerator', fix: 'pass the CredentialsGenerator that creates the store\'s Secrets (new CredentialsGenerator(scope, id, { namespace }))' };
}
