import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  checkDnsLabel, checkDnsSubdomain, checkEnvName, checkImage, checkNamespace, checkResources, ContainerResources, describeType, EnvironmentName, environmentPreset, fail, isPlainObject, Problems, addSynthCheck, checkNoNulls, snapshot,
} from '../../lib';
import { DefaultImages } from '../k8s/images';
import { componentLabels, selectorLabels } from '../k8s/labels';
import { namespacedAdmissionPolicy, requestedByServiceAccount } from '../k8s/admission';
import { Connections, IConnectable, KubeApiAccess } from '../k8s/network';
import { emptyDirVolume, hardenedContainer, NOBODY, restrictedPodSecurityContext } from '../k8s/pod-security';
import { lazy } from '../k8s/lazy';
import { readScript } from '../k8s/script';
import { boundRole, HASHED_JOB_BASE_MAX_LENGTH, HashNamedJob } from '../k8s/workload';
import { ISecret } from '../k8s/secret';

/** How the generator fills one key of a Secret. */
export class SecretValue {
  /** A random alphanumeric string of `length` characters, drawn in the cluster. */
  public static random(length = 32): SecretValue {
    if (!Number.isInteger(length) || length < 16 || length > 256) {
      fail({ path: 'SecretValue.random', field: 'length', value: length, message: 'is not a whole number from 16 to 256', fix: 'use at least 16 characters (the default is 32)' });
    }
    return new SecretValue({ random: length });
  }

  /** A fixed value that is not itself a credential (a user name, say). */
  public static literal(value: string): SecretValue {
    return new SecretValue({ literal: value });
  }

  private constructor(public readonly spec: { readonly random?: number; readonly literal?: string }) {}
}

/** Props of {@link CredentialsGenerator}. */
export interface CredentialsGeneratorProps {
  /** Namespace the Job runs in; every generated Secret's first copy lives here. */
  readonly namespace: string;
  /** Image with Python 3 (standard library only), pinned. @default - {@link DefaultImages.PYTHON} */
  readonly image?: string;
  /** Container resources. @default - the sandbox preset's setup Job resources (50m / 64Mi, limit 128Mi) */
  readonly resources?: ContainerResources;
  /** How to reach the Kubernetes API. @default - see {@link KubeApiAccess} (172.16.0.0/12 on ports 443 and 6443) */
  readonly kubeApi?: KubeApiAccess;
  /** Name of the Job, ServiceAccount, Roles, admission policies (`<name>.<namespace>`) and ConfigMap. @default 'cd4ml-credentials' */
  readonly name?: string;
}

/**
 * Produces the platform's credentials inside the cluster at deploy time, so no value is ever rendered:
 * a Job (Python standard library, the pod's own token) creates each Secret with random values unless it
 * exists, and keeps its copies in other namespaces in line. Its Roles allow `create` on Secrets and
 * `get`/`update` only on the Secrets it manages, in only the namespaces it writes to. RBAC cannot limit `create`
 * by name, so in each of those namespaces a ValidatingAdmissionPolicy admits the generator's creates and updates
 * only for the Secrets it manages there, of type `Opaque`, bound to no service account: its token cannot mint a
 * token Secret for another account, nor write any other Secret.
 */
export class CredentialsGenerator extends Construct implements IConnectable {
  /** Name of the Job and its objects. */
  public readonly name: string;
  /** Namespace of the Job. */
  public readonly namespace: string;
  /** The generator's network flows (it talks to the Kubernetes API only). */
  public readonly connections: Connections;
  private readonly secrets = new Map<string, GeneratedSecret>();
  private readonly roles = new Map<string, Set<string>>();
  private readonly job: ApiObject;

  public constructor(scope: Construct, id: string, props: CredentialsGeneratorProps) {
    super(scope, id);
    props = snapshot(props ?? ({} as CredentialsGeneratorProps));
    const path = this.node.path;
    this.name = props.name ?? 'cd4ml-credentials';
    this.namespace = props.namespace;
    const problems = new Problems();
    checkNoNulls(props, path, ['namespace']).forEach((p) => problems.add(p));
    problems.addIf(checkNamespace(this.namespace, { path, field: 'namespace' }));
    problems.addIf(checkDnsLabel(this.name, { path, field: 'name' }));
    // the Job is named `<name>-<8 hex digits>`, a DNS label of at most 63 characters
    if (typeof this.name === 'string' && this.name.length > HASHED_JOB_BASE_MAX_LENGTH) problems.add({ path, field: 'name', value: this.name, message: `is longer than ${HASHED_JOB_BASE_MAX_LENGTH} characters (the Job appends a 9-character hash)`, fix: 'use a name like "cd4ml-credentials"' });
    problems.addIf(checkImage(props.image ?? DefaultImages.PYTHON, { path, field: 'image' }));
    if (props.resources !== undefined) checkResources(problems, props.resources, path, 'resources');
    problems.throwIfAny(this);
    const labels = componentLabels(this.name, this.name, 'credentials');
    const selector = selectorLabels(this.name, this.name);

    new k8s.KubeConfigMap(this, 'Config', {
      metadata: { name: this.name, namespace: this.namespace, labels },
      data: {
        'generate-credentials.py': readScript(__dirname, 'generate-credentials.py'),
        // Secrets are added after construction: the spec (names, keys, namespaces; never values) is produced at synth.
        'secrets.json': lazy(() => JSON.stringify(this.spec(), null, 2)),
      },
    });

    new k8s.KubeServiceAccount(this, 'ServiceAccount', {
      metadata: { name: this.name, namespace: this.namespace, labels },
      automountServiceAccountToken: true,
    });

    // Named after its pod template and its ConfigMap (script and secrets.json), so declaring another secret or copying
    // one to another namespace makes a new Job that runs once; an unchanged one stays completed, with no TTL, so GitOps
    // never re-creates it (see HashNamedJob).
    this.job = new HashNamedJob(this, 'Job', {
      metadata: { name: this.name, namespace: this.namespace, labels },
      spec: {
        backoffLimit: 6,
        activeDeadlineSeconds: 600,
        template: {
          metadata: { labels: { ...labels, ...selector } },
          spec: {
            serviceAccountName: this.name,
            automountServiceAccountToken: true,
            restartPolicy: 'OnFailure',
            securityContext: restrictedPodSecurityContext(NOBODY),
            containers: [
              hardenedContainer({
                name: 'generate',
                image: props.image ?? DefaultImages.PYTHON,
                resources: props.resources ?? environmentPreset(EnvironmentName.SANDBOX).setupJob,
                command: ['python3', '/config/generate-credentials.py'],
                env: [{ name: 'PYTHONDONTWRITEBYTECODE', value: '1' }],
                volumeMounts: [
                  { name: 'config', mountPath: '/config', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              }),
            ],
            volumes: [{ name: 'config', configMap: { name: this.name } }, emptyDirVolume('tmp', '16Mi')],
          },
        },
      },
    });

    this.connections = new Connections(this, 'Connections', { name: this.name, namespace: this.namespace, podSelector: selector });
    this.connections.allowToKubeApi(props.kubeApi);
    addSynthCheck(this, () => (this.secrets.size > 0 ? [] : [{ path: this.node.path, field: 'secrets', value: [], message: 'is empty: the generator has nothing to create', fix: 'add a secret with addSecret(), or remove the generator' }]));
  }

  /**
   * Declares a Secret for the generator to create. Refuses a name declared before.
   * @returns the Secret, to be consumed by reference
   */
  public addSecret(name: string, keys: Record<string, SecretValue>): GeneratedSecret {
    const problems = new Problems();
    const path = `${this.node.path}/${name}`;
    problems.addIf(checkDnsSubdomain(name, { path, field: 'name' }));
    if (this.secrets.has(name)) {
      problems.add({ path, field: 'name', value: name, message: 'is declared twice', fix: 'give each secret its own name' });
    }
    if (!isPlainObject(keys)) {
      problems.add({ path, field: 'keys', value: describeType(keys), message: `is ${describeType(keys)}, not a map of keys to values`, fix: 'give { password: SecretValue.random() }' });
      problems.throwIfAny(this);
    }
    if (Object.keys(keys).length === 0) problems.add({ path, field: 'keys', value: keys, message: 'is empty', fix: 'declare at least one key' });
    for (const [k, v] of Object.entries(keys)) {
      problems.addIf(checkEnvName(k, { path, field: `keys.${k}` }));
      if (!(v instanceof SecretValue)) problems.add({ path, field: `keys.${k}`, value: describeType(v), message: 'is not a SecretValue', fix: 'use SecretValue.random() or SecretValue.literal("name")' });
    }
    problems.throwIfAny(this);
    const secret = new GeneratedSecret(this, name, keys);
    this.secrets.set(name, secret);
    secret.availableIn(this.namespace);
    return secret;
  }

  /**
   * Called by a GeneratedSecret when it must exist in `namespace`: grants the generator there (a Role, and the
   * admission policy that limits its `create` to the Secrets it manages).
   */
  public grantIn(namespace: string, secretName: string): void {
    let names = this.roles.get(namespace);
    if (!names) {
      names = new Set<string>();
      this.roles.set(namespace, names);
      this.createRole(namespace, names);
      this.limitWrites(namespace, names);
    }
    names.add(secretName);
  }

  private createRole(namespace: string, names: Set<string>): void {
    const labels = componentLabels(this.name, this.name, 'credentials');
    boundRole(this, namespace, {
      name: this.name,
      namespace,
      labels,
      rules: [
        // `create` cannot be limited by name (the name is not known when it is authorized): the policy below does.
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        { apiGroups: [''], resources: ['secrets'], resourceNames: lazy(() => [...names].sort()), verbs: ['get', 'update'] },
      ],
      subject: { name: this.name, namespace: this.namespace },
    });
  }

  /**
   * What RBAC cannot say: the generator's creates and updates of Secrets in `namespace` must name a Secret it manages
   * there, be `Opaque`, and carry no `kubernetes.io/service-account.name` annotation (so its token cannot have the
   * token controller fill a token of another service account). Requests of anyone else are not checked.
   */
  private limitWrites(namespace: string, names: Set<string>): void {
    const labels = componentLabels(this.name, this.name, 'credentials');
    const sorted = (): string[] => [...names].sort();
    const who = `the credentials generator (service account ${this.namespace}/${this.name})`;
    const { binding } = namespacedAdmissionPolicy(this, `${namespace}SecretsPolicy`, {
      name: `${this.name}.${namespace}`,
      namespace,
      labels,
      rules: [{ apiGroups: [''], resources: ['secrets'], operations: ['CREATE', 'UPDATE'] }],
      matchConditions: [requestedByServiceAccount(this.namespace, this.name)],
      validations: [
        {
          // names are DNS subdomains (checked in addSecret): JSON strings are CEL strings
          expression: lazy(() => `object.metadata.name in ${JSON.stringify(sorted())}`),
          message: lazy(() => `${who} may write only the Secrets it manages in ${namespace}: ${sorted().join(', ')}`),
        },
        {
          expression: 'has(object.type) && object.type == "Opaque"',
          message: `${who} may write only Secrets of type Opaque`,
        },
        {
          expression: '!has(object.metadata.annotations) || !("kubernetes.io/service-account.name" in object.metadata.annotations)',
          message: `${who} may not write a Secret bound to a service account (annotation kubernetes.io/service-account.name)`,
        },
      ],
    });
    // In force before the Job runs.
    this.job.addDependency(binding);
  }

  private spec(): Array<{ name: string; namespaces: string[]; keys: Record<string, { random?: number; literal?: string }> }> {
    return [...this.secrets.values()].map((s) => ({
      name: s.secretName,
      namespaces: [...s.requiredIn],
      keys: Object.fromEntries(Object.entries(s.values).map(([k, v]) => [k, v.spec])),
    }));
  }
}

/** A Secret that {@link CredentialsGenerator} creates in the cluster. */
export class GeneratedSecret extends Construct implements ISecret {
  /** The Secret's name. */
  public readonly secretName: string;
  private readonly namespaces: string[] = [];

  public constructor(private readonly generator: CredentialsGenerator, name: string, public readonly values: Readonly<Record<string, SecretValue>>) {
    super(generator, name);
    this.secretName = name;
  }

  public get keys(): readonly string[] {
    return Object.keys(this.values);
  }

  public availableIn(namespace: string): void {
    if (this.namespaces.includes(namespace)) return;
    this.namespaces.push(namespace);
    this.generator.grantIn(namespace, this.secretName);
  }

  public get requiredIn(): readonly string[] {
    return [...this.namespaces];
  }
}
