import { checkPodSettings, PodSettings } from '../k8s/pod-settings';
import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  checkDnsLabel, checkDnsSubdomain, checkImage, checkNamespace, checkPort, checkRegion, checkResources, checkUid, ContainerResources, Endpoint, EnvironmentName,
  environmentPreset, Problems, Quantity, QuantityKind, Scheme, checkNoNulls, snapshot,
} from '../../lib';
import { CredentialsGenerator, SecretValue } from './credentials-generator';
import { DefaultImages } from '../k8s/images';
import { componentLabels, selectorLabels } from '../k8s/labels';
import { lazy } from '../k8s/lazy';
import { Connections, IConnectable } from '../k8s/network';
import { emptyDirVolume, hardenedContainer, httpProbe, NOBODY } from '../k8s/pod-security';
import { readScript } from '../k8s/script';
import { ISecret, secretEnv } from '../k8s/secret';
import { containerPorts, setupJob, statefulStore } from '../k8s/workload';
import { Bucket, BucketRegistry, checkGenerator, IObjectStore, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } from './object-store';

/** Props of {@link SeaweedObjectStore}. */
export interface SeaweedObjectStoreProps {
  /** Namespace to run in. */
  readonly namespace: string;
  /** Generates the admin identity and one identity per grantee inside the cluster. */
  readonly credentials: CredentialsGenerator;
  /** Name of the Service, StatefulSet and ServiceAccount (also the DNS name consumers use). @default 'seaweedfs' */
  readonly name?: string;
  /** SeaweedFS image, pinned. @default - {@link DefaultImages.SEAWEEDFS} */
  readonly image?: string;
  /** Python image (standard library only) that renders the identities file and runs the bucket setup Job, pinned. @default - {@link DefaultImages.PYTHON} */
  readonly setupImage?: string;
  /** Server resources. @default - the sandbox preset's (100m / 256Mi, limit 512Mi) */
  readonly resources?: ContainerResources;
  /** Setup Job and config renderer resources. @default - the sandbox preset's (50m / 64Mi, limit 128Mi) */
  readonly setupResources?: ContainerResources;
  /** Size of the data volume. @default '10Gi' */
  readonly storage?: string;
  /** StorageClass of the data volume. @default - the cluster's default StorageClass */
  readonly storageClassName?: string;
  /**
   * S3 API port (the only port the Service exposes; master, volume and filer listen on the pod's loopback only).
   * @default 8333
   */
  readonly apiPort?: number;
  /** The region clients sign for (SeaweedFS accepts any). @default 'us-east-1' */
  readonly region?: string;
  /** uid/gid the server runs as: the image's `seaweed` user. @default 1000 */
  readonly uid?: number;
  /** Placement, priority, pod metadata, extra args and env, and the Service's type and annotations. @default - none */
  readonly pod?: PodSettings;
}

/** One S3 identity of the store: its Secret and the actions SeaweedFS allows it. */
interface Identity {
  readonly name: string;
  readonly secret: ISecret;
  readonly actions: readonly string[];
}

/**
 * SeaweedFS (Apache-2.0, maintained) as a single-node StatefulSet: master, volume server, filer and S3 gateway in one
 * `weed server` process, data on a PersistentVolumeClaim that outlives redeploys, every port but S3's (HTTP 8333 and its gRPC 18333, which the NetworkPolicy does not admit) bound to the
 * pod's loopback. Each grantee gets its own identity with random keys generated in the cluster, limited to its
 * buckets (`Read`/`Write`/`List` scoped by bucket); an init container writes the identities file from those
 * Secrets into memory before the server starts, and a setup Job creates the buckets as the admin identity.
 * @see https://github.com/seaweedfs/seaweedfs/wiki/Amazon-S3-API
 */
export class SeaweedObjectStore extends BucketRegistry implements IObjectStore, IConnectable {
  public readonly endpoint: Endpoint;
  public readonly region: string;
  /** Name of the Service and StatefulSet. */
  public readonly name: string;
  /** Namespace. */
  public readonly namespace: string;
  /** The admin identity's keys (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`); used only by the bucket setup Job. */
  public readonly adminCredentials: ISecret;
  public readonly connections: Connections;
  /** The StatefulSet (escape hatch). */
  public readonly statefulSet: ApiObject;
  private readonly identities = new Map<string, Identity>();
  private readonly generator: CredentialsGenerator;

  public constructor(scope: Construct, id: string, props: SeaweedObjectStoreProps) {
    super(scope, id);
    props = snapshot(props ?? ({} as SeaweedObjectStoreProps));
    const path = this.node.path;
    const preset = environmentPreset(EnvironmentName.SANDBOX);
    this.name = props.name ?? 'seaweedfs';
    this.namespace = props.namespace;
    this.region = props.region ?? 'us-east-1';
    const apiPort = props.apiPort ?? 8333;
    const storage = props.storage ?? preset.objectStore.storage;
    const resources = props.resources ?? preset.objectStore.resources;
    const setupResources = props.setupResources ?? preset.setupJob;
    const uid = props.uid ?? 1000;
    const setupImage = props.setupImage ?? DefaultImages.PYTHON;

    const problems = new Problems();
    checkNoNulls(props, path, ['namespace', 'credentials']).forEach((p) => problems.add(p));
    problems.addIf(checkDnsLabel(this.name, { path, field: 'name' }));
    problems.addIf(checkNamespace(this.namespace, { path, field: 'namespace' }));
    problems.addIf(checkGenerator(props.credentials, path));
    problems.addIf(checkImage(props.image ?? DefaultImages.SEAWEEDFS, { path, field: 'image' }));
    problems.addIf(checkImage(setupImage, { path, field: 'setupImage' }));
    problems.addIf(checkRegion(this.region, { path, field: 'region' }));
    problems.addIf(checkPort(apiPort, { path, field: 'apiPort' }));
    if (INTERNAL_PORTS.includes(apiPort)) {
      problems.add({ path, field: 'apiPort', value: apiPort, message: `is one of the ports SeaweedFS uses inside the pod (${INTERNAL_PORTS.join(', ')})`, fix: 'use 8333' });
    }
    problems.addIf(Quantity.check(storage, QuantityKind.BYTES, { path, field: 'storage' }));
    checkResources(problems, resources, path, 'resources');
    checkResources(problems, setupResources, path, 'setupResources');
    if (props.storageClassName !== undefined) problems.addIf(checkDnsSubdomain(props.storageClassName, { path, field: 'storageClassName' }));
    problems.addIf(checkUid(uid, { path, field: 'uid' }));
    checkPodSettings(problems, path, 'pod', props.pod);
    problems.throwIfAny(this);

    this.generator = props.credentials;
    this.endpoint = Endpoint.ofService(this.name, this.namespace, apiPort, Scheme.HTTP);
    const labels = componentLabels('seaweedfs', this.name, 'object-store');
    const selector = selectorLabels('seaweedfs', this.name);
    const ports = [{ name: 's3', port: apiPort }];

    this.adminCredentials = props.credentials.addSecret(`${this.name}-admin`, {
      [S3_ACCESS_KEY_ID]: SecretValue.random(20),
      [S3_SECRET_ACCESS_KEY]: SecretValue.random(40),
    });
    this.adminCredentials.availableIn(this.namespace); // the init container and the setup Job read it here
    this.identities.set('admin', { name: 'admin', secret: this.adminCredentials, actions: ['Admin'] });

    const configName = `${this.name}-config`;
    new k8s.KubeConfigMap(this, 'Config', {
      metadata: { name: configName, namespace: this.namespace, labels },
      data: {
        'seaweedfs-config.py': readScript(__dirname, 'seaweedfs-config.py'),
        // Identities are added by grants after construction: names, env names and actions only, never a key.
        'identities.json': lazy(() => JSON.stringify(this.identitySpec(), null, 2)),
      },
    });

    // Volumes grow up to a 64th of the claim each, at most 64 of them, so the store never plans past its disk
    // (the defaults, 8 volumes of 30 GB, would outgrow a small claim and cap a large one).
    const volumeSizeMb = Math.max(64, Math.min(30000, Math.floor(Quantity.parse(storage).value / 2 ** 20 / 64)));
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
      // SeaweedFS keeps its on-disk format across releases; another server could not read this volume
      dataFormat: 'seaweedfs',
      initContainers: [hardenedContainer({
        name: 'identities',
        image: setupImage,
        resources: setupResources,
        command: ['python3', '/config/seaweedfs-config.py'],
        env: lazy(() => [{ name: 'PYTHONDONTWRITEBYTECODE', value: '1' }, ...this.identityEnv()]),
        volumeMounts: [{ name: 'config', mountPath: '/config', readOnly: true }, { name: 'identities', mountPath: '/run/seaweedfs' }],
      })],
      container: hardenedContainer({
        name: 'seaweedfs',
        image: props.image ?? DefaultImages.SEAWEEDFS,
        resources,
        // The image's entrypoint switches users as root; we start the binary directly as its user instead.
        command: ['weed'],
        args: [
          'server', '-dir=/data', '-ip=127.0.0.1', '-ip.bind=127.0.0.1', '-s3', `-s3.port=${apiPort}`, '-s3.ip.bind=0.0.0.0',
          '-s3.config=/run/seaweedfs/s3.json', '-s3.iam=false', '-master.telemetry=false', `-master.volumeSizeLimitMB=${volumeSizeMb}`,
          '-volume.max=64',
        ],
        env: [{ name: 'HOME', value: '/tmp' }],
        ports: containerPorts(ports),
        volumeMounts: [
          { name: 'data', mountPath: '/data' },
          { name: 'identities', mountPath: '/run/seaweedfs', readOnly: true },
          { name: 'tmp', mountPath: '/tmp' },
        ],
        readinessProbe: httpProbe('/healthz', 's3', { periodSeconds: 10 }),
        livenessProbe: httpProbe('/healthz', 's3', { periodSeconds: 20, failureThreshold: 3 }),
        startupProbe: httpProbe('/healthz', 's3', { periodSeconds: 5, failureThreshold: 60 }),
      }),
      volumes: [
        { name: 'config', configMap: { name: configName } },
        // keys only in memory, never on a node's disk
        { name: 'identities', emptyDir: { medium: 'Memory', sizeLimit: k8s.Quantity.fromString('1Mi') } },
        emptyDirVolume('tmp', '256Mi'),
      ],
    });
    this.statefulSet = store.statefulSet;
    this.connections = store.connections;

    setupJob(this, 'Setup', {
      store: this,
      port: apiPort,
      component: 'seaweedfs-setup',
      role: 'object-store-setup',
      image: setupImage,
      runAs: NOBODY,
      resources: setupResources,
      entrypoint: 'setup.sh',
      files: () => ({
        's3-client.py': readScript(__dirname, 's3-client.py'),
        'setup.sh': [
          '#!/bin/sh',
          '# Creates the declared buckets as the admin identity; safe to run again. Users live in the server\'s identities file.',
          'set -eu',
          `exec python3 /config/s3-client.py create-buckets ${this.buckets.map((b) => b.name).join(' ')}`,
        ].join('\n') + '\n',
      }),
      env: () => [
        { name: 'S3_URL', value: this.endpoint.url() },
        { name: 'AWS_REGION', value: this.region },
        { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
        secretEnv('AWS_ACCESS_KEY_ID', this.adminCredentials, S3_ACCESS_KEY_ID),
        secretEnv('AWS_SECRET_ACCESS_KEY', this.adminCredentials, S3_SECRET_ACCESS_KEY),
      ],
    });
  }

  public grantReadWrite(grantee: IConnectable, user: string, buckets: readonly Bucket[]): ISecret {
    this.checkGrant(grantee, user, buckets, (u) => this.identities.has(u));
    const secret = this.generator.addSecret(`${this.name}-${user}`, {
      [S3_ACCESS_KEY_ID]: SecretValue.random(20),
      [S3_SECRET_ACCESS_KEY]: SecretValue.random(40),
    });
    secret.availableIn(grantee.connections.namespace);
    secret.availableIn(this.namespace); // the init container writes the identity from it
    this.identities.set(user, { name: user, secret, actions: bucketActions(buckets) });
    this.connectFrom(grantee);
    return secret;
  }

  public connectFrom(peer: IConnectable): void {
    peer.connections.allowTo(this, this.endpoint.port);
  }

  private identitySpec(): { identities: Array<{ name: string; accessKeyEnv: string; secretKeyEnv: string; actions: readonly string[] }> } {
    return { identities: [...this.identities.values()].map((i, n) => ({ name: i.name, accessKeyEnv: `IDENTITY${n}_ACCESS_KEY`, secretKeyEnv: `IDENTITY${n}_SECRET_KEY`, actions: i.actions })) };
  }

  private identityEnv(): k8s.EnvVar[] {
    return [...this.identities.values()].flatMap((i, n) => [
      secretEnv(`IDENTITY${n}_ACCESS_KEY`, i.secret, S3_ACCESS_KEY_ID),
      secretEnv(`IDENTITY${n}_SECRET_KEY`, i.secret, S3_SECRET_ACCESS_KEY),
    ]);
  }
}

/** The ports `weed server` listens on inside the pod (master, volume, filer and their gRPC ports, S3 gRPC). */
const INTERNAL_PORTS = [9333, 19333, 8080, 18080, 8888, 18888, 18333];

/**
 * The SeaweedFS actions that let an identity read, write, delete and list objects in exactly these buckets, and
 * nothing else (no bucket creation, no other bucket, no admin API).
 * @see https://github.com/seaweedfs/seaweedfs/wiki/Amazon-S3-API#static-configuration
 */
export function bucketActions(buckets: readonly Bucket[]): string[] {
  return buckets.flatMap((b) => [`Read:${b.name}`, `Write:${b.name}`, `List:${b.name}`]);
}
