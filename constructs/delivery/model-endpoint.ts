import { ApiObject } from 'cdk8s';
import { IServiceAccount, k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  checkCount, checkDnsLabel, checkDnsSubdomain, checkImage, checkNoNulls, checkPort, checkPropsObject, checkResources, checkUid, ContainerResources, describeType,
  Endpoint, fail, isPlainObject, Problem, Problems, Quantity, QuantityKind, Scheme, snapshot, suggestName, withoutFields,
} from '../../lib';
import {
  checkPeers, componentLabels, Connections, emptyDirVolume, hardenedContainer, httpProbe, IConnectable, ISecret, namespacedAdmissionPolicy, NetworkPeer,
  secretEnv, selectorLabels, validateRenderedObjects,
} from '../k8s';
import { lazy } from '../k8s/lazy';
import { clusterIpService, containerPorts, deployment, serviceAccount } from '../k8s/workload';
import { MLFLOW_PASSWORD_KEY, MLFLOW_TELEMETRY_OFF, MLFLOW_USERNAME_KEY, Platform } from '../platform';

/**
 * The one environment variable of the endpoint's container that holds the registered model version it serves. The
 * container's args read it (`models:/<model>/$(CD4ML_MODEL_VERSION)`, expanded by the kubelet), so a deploy step rolls
 * the endpoint to another version by patching this one value, e.g.
 * `kubectl -n <namespace> set env deployment/<name> -c model CD4ML_MODEL_VERSION=4`; the Deployment controller then
 * replaces the pods one at a time.
 */
export const MODEL_VERSION_ENV = 'CD4ML_MODEL_VERSION';

/** Name of the endpoint's container (what `kubectl set env -c` names). */
export const MODEL_CONTAINER = 'model';

/**
 * Registered model names the endpoint accepts: they are written into a `models:/` URI and a container argument, where
 * `/`, `@`, `:`, spaces and `$(` would change what is loaded.
 */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/** An exact registered model version: MLflow numbers versions 1, 2, 3, ... (never an alias, a stage or `latest`). */
const VERSION = /^[1-9][0-9]{0,17}$/;

/** The longest endpoint name: its MLflow user, `endpoint-<name>`, must be a DNS label (63 characters). */
const MAX_NAME_LENGTH = 63 - 'endpoint-'.length;

/** Props of {@link ModelEndpoint}. */
export interface ModelEndpointProps {
  /**
   * The platform whose MLflow registry holds the model: the endpoint runs in the platform's namespace, beside MLflow,
   * signs in to MLflow as a user of its own, and the platform's pipeline steps may call it.
   */
  readonly platform: Platform;
  /** The registered model's name in MLflow's registry (letters, digits, `.`, `_`, `-`), e.g. `sklearn-random-forest`. */
  readonly model: string;
  /**
   * The exact registered version to serve, a string of digits (`"3"`): never an alias (`champion`), a stage or
   * `latest`, which would change what is served without a rollout. It lives in {@link MODEL_VERSION_ENV} only: a
   * deploy step rolls the endpoint by patching that one value ({@link ModelEndpoint.grantRollout}). It is the version
   * the endpoint starts with: Pulumi (`ignoreChanges`) and cd4ml's Argo CD Applications (`ignoreDifferences`) leave
   * the served version to the delivery afterwards, so a later change here takes effect only on a new endpoint.
   */
  readonly version: string;
  /**
   * The image that serves the model, pinned by tag or digest: it must hold MLflow (the `mlflow` CLI, with uvicorn) and
   * the libraries the model loads with, since the model is served in the image's own Python (`--env-manager local`).
   * For the seed's model, the examples image (`examples/Dockerfile`).
   */
  readonly image: string;
  /**
   * Name of the Deployment, Service, ServiceAccount and NetworkPolicy, and so the endpoint's DNS name
   * (`<name>.<namespace>.svc.cluster.local`); at most 54 characters, since the MLflow user is `endpoint-<name>`.
   * @default - the construct id
   */
  readonly name?: string;
  /** Replicas; more than one also gets a PodDisruptionBudget that lets one pod go at a time. @default 1 */
  readonly replicas?: number;
  /**
   * Requests and limits of the model server.
   * @default - the platform preset's step defaults (sandbox: 250m / 512Mi, limit 1Gi)
   */
  readonly resources?: ContainerResources;
  /**
   * Port the scoring server listens on (and the Service's).
   * @default 8080
   * @see https://mlflow.org/docs/latest/ml/deployment/deploy-model-locally/
   */
  readonly port?: number;
  /** uid/gid the pod runs as. @default 1000 (the examples image's user, as pipeline steps run) */
  readonly uid?: number;
  /** Size of the `/tmp` emptyDir (HOME and TMPDIR), where MLflow downloads the model before serving it. @default '2Gi' */
  readonly scratchSize?: string;
  /**
   * Further peers allowed to call the endpoint on its port (an ingress controller, a team's namespace), beside the
   * platform's pipeline steps. The scoring server has no authentication of its own: these policies are its only gate.
   * @default []
   */
  readonly ingressFrom?: NetworkPeer[];
}

/** The endpoints declared on each platform, by name: one MLflow user each, so a name is taken once. */
const ENDPOINTS = new WeakMap<Platform, Set<string>>();

/**
 * Serves one registered model version from the platform's MLflow registry over HTTP: a Deployment running
 * `mlflow models serve -m models:/<model>/$(CD4ML_MODEL_VERSION) --env-manager local --host 0.0.0.0 --port 8080` and a
 * ClusterIP Service, addressed at `http://<name>.<namespace>.svc.cluster.local:8080` in every environment (see
 * {@link ModelEndpoint.url}). The scoring server answers `GET /ping` (the probes), `GET /version` and
 * `POST /invocations`.
 *
 * The pod signs in to MLflow as its own user (`endpoint-<name>`, generated in the cluster, READ on the registry's
 * models through the tracking server's default permission) and downloads the model through MLflow's artifact proxy,
 * so it holds no S3 key. It runs hardened (restricted, read-only root, `/tmp` on an emptyDir as HOME), with no API
 * token; its NetworkPolicy admits the platform's pipeline steps (and `ingressFrom`) on its port and lets it reach only
 * MLflow (DNS through the namespace's own policy). {@link ModelEndpoint.grantRollout} lets a service account roll it
 * to another version and do nothing else.
 */
export class ModelEndpoint extends Construct implements IConnectable {
  /** Name of the Deployment, Service and ServiceAccount. */
  public readonly name: string;
  /** Namespace: the platform's (MLflow's). */
  public readonly namespace: string;
  /** The registered model's name. */
  public readonly model: string;
  /** The version rendered in {@link MODEL_VERSION_ENV} (a deploy step may have rolled the cluster's since). */
  public readonly version: string;
  /** Replicas. */
  public readonly replicas: number;
  /** Requests and limits of the model server. */
  public readonly resources: ContainerResources;
  /** Where the endpoint answers in the cluster: `http://<name>.<namespace>.svc.cluster.local:<port>`. */
  public readonly endpoint: Endpoint;
  /** The endpoint's MLflow user (keys `MLFLOW_TRACKING_USERNAME`, `MLFLOW_TRACKING_PASSWORD`), in its namespace. */
  public readonly trackingCredentials: ISecret;
  /** The endpoint's network flows (its NetworkPolicy): `endpoint.connections.allowFrom(workload, port)` admits another caller. */
  public readonly connections: Connections;
  /** The Deployment (escape hatch). */
  public readonly deployment: ApiObject;
  private readonly labels: Record<string, string>;
  /** Service accounts allowed to roll the endpoint, by `system:serviceaccount:<namespace>:<name>`. */
  private readonly rollers = new Map<string, { readonly name: string; readonly namespace: string }>();
  private readonly platform: Platform;

  public constructor(scope: Construct, id: string, props: ModelEndpointProps) {
    super(scope, id);
    const path = this.node.path;
    const notProps = checkPropsObject(props, { path, field: 'props' }, '{ platform, model: "churn", version: "3", image: "registry.example/team/churn:1.0.0" }');
    if (notProps) fail(notProps, this);
    const given: ModelEndpointProps = snapshot(props);
    // without a platform there is nothing to serve from: that stops here (with what the app deferred before)
    if (!(given.platform instanceof Platform)) {
      fail({ path, field: 'platform', value: describeType(given.platform), message: 'is not a Platform', fix: 'pass the platform whose MLflow registry holds the model: { platform }' }, this);
    }
    this.platform = given.platform;
    const taken = ENDPOINTS.get(this.platform) ?? new Set<string>();
    ENDPOINTS.set(this.platform, taken);

    // The rest is reported with the app's other problems; the endpoint is built on safe values in their place, so
    // what is declared after it is checked in the same synth (one report).
    const problems = ModelEndpoint.checkProps(path, id, given, taken);
    const p = problems.deferIfAny(this) ? withoutFields(given, problems.list) : given;
    const refused = (field: string) => problems.list.some((x) => x.field === field);
    const wanted = given.name ?? id;
    this.name = refused('name') ? uniqueName(suggestName(wanted).slice(0, MAX_NAME_LENGTH - 8).replace(/-+$/, ''), taken) : (p.name ?? id);
    taken.add(this.name);
    this.model = refused('model') ? 'refused-model' : p.model;
    this.version = refused('version') ? '1' : p.version;
    const image = refused('image') ? 'refused.invalid/model-endpoint:0' : p.image;
    this.replicas = p.replicas ?? 1;
    this.resources = p.resources ?? this.platform.preset.stepDefaults;
    const port = p.port ?? 8080;
    const uid = p.uid ?? 1000;
    const scratch = p.scratchSize ?? '2Gi';

    const tracking = this.platform.trackingServer;
    this.namespace = tracking.namespace;
    this.endpoint = Endpoint.ofService(this.name, this.namespace, port, Scheme.HTTP);
    this.labels = componentLabels('model-endpoint', this.name, 'model-endpoint');
    const selector = selectorLabels('model-endpoint', this.name);
    // collisions with the platform's own objects in its namespace (a Service named "mlflow") are one more report
    validateRenderedObjects(this);

    // The namespace is the platform's: it exists before the endpoint, denies by default, opens DNS, and holds the
    // first copy of every generated Secret. Not the pipeline namespace: its runner's NetworkPolicy selects every pod
    // there (the object store, the API server) and its quota is the pipelines'.
    this.connections = new Connections(this, 'Connections', { name: this.name, namespace: this.namespace, podSelector: selector, labels: this.labels });
    // its own MLflow user: READ on others' models (the tracking server's default permission), never the pipelines'
    // user, which manages the models it registered; the grant also opens egress to MLflow (and MLflow's ingress)
    this.trackingCredentials = tracking.grantUser(this, `endpoint-${this.name}`);
    // a deploy step smoke-tests what it rolled out
    this.connections.allowFrom(this.platform.pipelineRunner, port);
    for (const peer of p.ingressFrom ?? []) this.connections.allowIngress(peer, port);

    const env: k8s.EnvVar[] = [
      { name: MODEL_VERSION_ENV, value: this.version },
      // models:/ URIs resolve against the registry (the tracking server unless MLFLOW_REGISTRY_URI says otherwise) to
      // the model's mlflow-artifacts:/ location, which the client downloads through the server's artifact proxy,
      // /api/2.0/mlflow-artifacts/artifacts, with these credentials (mlflow/store/artifact/mlflow_artifacts_repo.py):
      // no S3 key in the pod
      { name: 'MLFLOW_TRACKING_URI', value: tracking.endpoint.url() },
      secretEnv(MLFLOW_USERNAME_KEY, this.trackingCredentials, MLFLOW_USERNAME_KEY),
      secretEnv(MLFLOW_PASSWORD_KEY, this.trackingCredentials, MLFLOW_PASSWORD_KEY),
      ...Object.entries(MLFLOW_TELEMETRY_OFF).map(([name, value]) => ({ name, value })),
      // the model is downloaded to a temporary directory (tempfile, so TMPDIR) before the server starts
      { name: 'HOME', value: '/tmp' },
      { name: 'TMPDIR', value: '/tmp' },
      { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
      { name: 'PYTHONUNBUFFERED', value: '1' },
    ];
    serviceAccount(this, 'ServiceAccount', { name: this.name, namespace: this.namespace, labels: this.labels });
    clusterIpService(this, 'Service', { name: this.name, namespace: this.namespace, labels: this.labels, selector, ports: [{ name: 'http', port }] });
    this.deployment = deployment(this, 'Deployment', {
      name: this.name,
      namespace: this.namespace,
      labels: this.labels,
      selector,
      replicas: this.replicas,
      serviceAccountName: this.name,
      automountToken: false,
      uid,
      containers: [
        hardenedContainer({
          name: MODEL_CONTAINER,
          image,
          resources: this.resources,
          // mlflow 3.17 mlflow/models/cli.py `serve` and mlflow/utils/cli_args.py: --env-manager defaults to
          // virtualenv, which would build an environment from the model's requirements at every start (pip, with no
          // egress but MLflow's): `local` serves in the image's Python. --host defaults to 127.0.0.1, which the kubelet's
          // probes and the Service cannot reach. `serve` downloads the model, then runs `uvicorn
          // mlflow.pyfunc.scoring_server.app:app` (mlflow/pyfunc/backend.py, scoring_server/__init__.py get_cmd).
          // `mlflow` stays PID 1 and installs no SIGTERM handler, so it ignores the kubelet's SIGTERM: an old pod keeps
          // serving until its grace period (30 s) ends, while the Service has already stopped sending to it.
          command: ['mlflow'],
          args: ['models', 'serve', '-m', `models:/${this.model}/$(${MODEL_VERSION_ENV})`, '--env-manager', 'local', '--host', '0.0.0.0', '--port', String(port)],
          env,
          ports: containerPorts([{ name: 'http', port }]),
          volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
          // The app loads the model when uvicorn imports it, before it listens (scoring_server/app.py), and /ping
          // answers 200 once the model is loaded (scoring_server/__init__.py `init`): nothing answers during the
          // download, so the startup probe allows ten minutes for it.
          startupProbe: httpProbe('/ping', 'http', { periodSeconds: 5, failureThreshold: 120 }),
          readinessProbe: httpProbe('/ping', 'http', { periodSeconds: 10 }),
          // /health is the same handler; liveness asks it on its own, slower timing, so a long prediction (run in a
          // worker thread, off the event loop) never restarts the pod
          livenessProbe: httpProbe('/health', 'http', { periodSeconds: 20, failureThreshold: 6, timeoutSeconds: 5 }),
        }),
      ],
      volumes: [emptyDirVolume('tmp', scratch)],
    });
  }

  /** Every problem of the endpoint's props, each naming the field, the value and the fix. */
  private static checkProps(path: string, id: string, props: ModelEndpointProps, taken: ReadonlySet<string>): Problems {
    const problems = new Problems();
    checkNoNulls(props, path, ['model', 'version', 'image']).forEach((x) => problems.add(x));
    problems.addIf(checkModelName(props.model, { path, field: 'model' }));
    problems.addIf(checkModelVersion(props.version, { path, field: 'version' }));
    problems.addIf(checkImage(props.image, { path, field: 'image' }));
    const name = props.name ?? id;
    const nameProblem = checkDnsLabel(name, { path, field: 'name' });
    if (nameProblem) problems.add(nameProblem);
    else if (name.length > MAX_NAME_LENGTH) problems.add({ path, field: 'name', value: name, message: `is ${name.length} characters: its MLflow user, "endpoint-<name>", may have at most 63`, fix: `shorten it to at most ${MAX_NAME_LENGTH} characters, e.g. "${name.slice(0, MAX_NAME_LENGTH).replace(/-+$/, '')}"` });
    else if (taken.has(name)) problems.add({ path, field: 'name', value: name, message: 'is the name of another model endpoint of this platform', fix: `give each endpoint its own name, e.g. "${name.slice(0, MAX_NAME_LENGTH - 2)}-2"` });
    if (props.replicas != null) problems.addIf(checkCount(props.replicas, 1, { path, field: 'replicas' }));
    if (props.resources != null) checkResources(problems, props.resources, path, 'resources');
    if (props.port != null) problems.addIf(checkPort(props.port, { path, field: 'port' }));
    if (props.uid != null) problems.addIf(checkUid(props.uid, { path, field: 'uid' }));
    if (props.scratchSize != null) problems.addIf(Quantity.check(props.scratchSize, QuantityKind.BYTES, { path, field: 'scratchSize' }));
    if (props.ingressFrom != null) checkPeers(props.ingressFrom, { path, field: 'ingressFrom' }).forEach((x) => problems.add(x));
    return problems;
  }

  /** The endpoint's URL in the cluster, plus an optional path: `http://<name>.<namespace>.svc.cluster.local:8080/invocations`. */
  public url(path = ''): string {
    return this.endpoint.url(path);
  }

  /**
   * Lets `serviceAccount` roll the endpoint to another model version, and do nothing else: a Role and RoleBinding
   * (`<name>-rollout`) allow `get` and `patch` on exactly this Deployment, and `list`/`watch` of it by name (what
   * `kubectl rollout status` asks: a watch with the field selector `metadata.name=<name>`, which RBAC authorizes by
   * resource name). A Deployment's pod template can name any Secret or service account of its namespace, so RBAC
   * alone would hand the account the platform's credentials; a ValidatingAdmissionPolicy (`<name>-rollout.<namespace>`)
   * therefore admits the account's updates of the Deployment only when nothing but the value of
   * {@link MODEL_VERSION_ENV} changed, and only to a string of digits: no other env, image, command, volume, service
   * account, pod label or replica count. The caller needs a token and egress to the API server of its own.
   * @param serviceAccount the deploy step's service account (`ServiceAccount.fromServiceAccountName(scope, id, name,
   * { namespaceName })` for one that exists); not the pipeline runner's or the Argo executor's, which every step holds
   * @see https://kubernetes.io/docs/concepts/security/rbac-good-practices/#workload-creation
   * @see https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources
   */
  public grantRollout(serviceAccount: IServiceAccount): void {
    const path = this.node.path;
    const field = 'grantRollout(serviceAccount)';
    const subject = subjectOf(serviceAccount);
    const fix = 'pass a service account: new ServiceAccount(scope, id, { metadata: { name, namespace } }) or ServiceAccount.fromServiceAccountName(scope, id, name, { namespaceName })';
    if (!subject) fail({ path, field, value: describeType(serviceAccount), message: 'is not a service account', fix }, this);
    const problems = new Problems();
    if (subject.kind !== 'ServiceAccount') problems.add({ path, field, value: subject.kind, message: 'is not a service account (Kubernetes grants rollouts to service accounts here)', fix });
    problems.addIf(checkDnsSubdomain(subject.name, { path, field: `${field}.name` }));
    if (subject.namespace === undefined) problems.add({ path, field: `${field}.namespace`, value: undefined, message: 'is missing: the RoleBinding must name the account\'s namespace', fix: 'give the service account a namespace, e.g. { metadata: { namespace: "ml-pipelines" } }' });
    else problems.addIf(checkDnsLabel(subject.namespace, { path, field: `${field}.namespace` }));
    // the platform's runner and each pipeline domain's: their step and executor accounts run every step there
    const runners = [this.platform.pipelineRunner, ...[...this.platform.domains.values()].map((d) => d.runner)];
    if (runners.some((runner) => subject.namespace === runner.namespace && [runner.serviceAccountName, runner.executorServiceAccountName].includes(subject.name))) {
      problems.add({
        path, field, value: `${subject.namespace}/${subject.name}`,
        message: 'is a service account every pipeline step runs as or holds the token of, so every step could roll the endpoint',
        fix: 'give the deploy step a service account of its own (the Pipeline\'s serviceAccountName) and grant that one',
      });
    }
    const user = `system:serviceaccount:${subject.namespace}:${subject.name}`;
    if (this.rollers.has(user)) problems.add({ path, field, value: `${subject.namespace}/${subject.name}`, message: 'is granted twice', fix: 'grant each service account once' });
    problems.throwIfAny(this);
    if (this.rollers.size === 0) this.renderRollout();
    this.rollers.set(user, { name: subject.name, namespace: subject.namespace! });
  }

  /** The Role, its RoleBinding (subjects added by later grants) and the admission policy, rendered at the first grant. */
  private renderRollout(): void {
    const name = `${this.name}-rollout`;
    const labels = { ...this.labels, 'app.kubernetes.io/component': 'model-endpoint-rollout' };
    new k8s.KubeRole(this, 'RolloutRole', {
      metadata: { name, namespace: this.namespace, labels },
      rules: [{ apiGroups: ['apps'], resources: ['deployments'], resourceNames: [this.name], verbs: ['get', 'list', 'watch', 'patch'] }],
    });
    new k8s.KubeRoleBinding(this, 'RolloutRoleBinding', {
      metadata: { name, namespace: this.namespace, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: lazy(() => [...this.rollers.values()].map((s) => ({ kind: 'ServiceAccount', name: s.name, namespace: s.namespace }))),
    });
    const who = `the service accounts that roll model endpoint ${this.namespace}/${this.name}`;
    namespacedAdmissionPolicy(this, 'RolloutPolicy', {
      name: `${name}.${this.namespace}`,
      namespace: this.namespace,
      labels,
      rules: [{ apiGroups: ['apps'], resources: ['deployments'], operations: ['UPDATE'] }],
      matchConditions: [
        { name: 'requested-by-a-rollout-account', expression: lazy(() => `request.userInfo.username in ${JSON.stringify([...this.rollers.keys()].sort())}`) },
        { name: 'this-endpoint', expression: `object.metadata.name == ${JSON.stringify(this.name)}` },
      ],
      validations: rolloutValidations(who),
    });
  }
}

/** Checks a registered model name as the endpoint writes it into `models:/<model>/<version>`. */
function checkModelName(value: unknown, site: { readonly path: string; readonly field: string }): Problem | undefined {
  const fix = 'give the registered model\'s name, e.g. "sklearn-random-forest" (letters, digits, ".", "_" and "-")';
  if (value === undefined || value === '') return { ...site, value, message: 'is missing', fix };
  if (typeof value !== 'string') return { ...site, value, message: `is ${describeType(value)}, not a model name`, fix };
  if (!MODEL_NAME.test(value)) return { ...site, value, message: 'is not a model name the endpoint can load: it is written into a models:/ URI and a container argument, where "/", "@", ":", spaces and "$(" change what is loaded', fix };
  return undefined;
}

/** Checks an exact registered model version: a string of digits, never an alias, a stage or `latest`. */
function checkModelVersion(value: unknown, site: { readonly path: string; readonly field: string }): Problem | undefined {
  const fix = 'give the version number the registry assigned, as a string, e.g. "3" (a pipeline step reads it from mlflow.register_model(...).version)';
  if (value === undefined || value === '') return { ...site, value, message: 'is missing', fix };
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return { ...site, value, message: 'is a number, not a string of digits', fix: `give it as a string: "${value}"` };
  if (typeof value !== 'string') return { ...site, value, message: `is ${describeType(value)}, not a version`, fix };
  if (VERSION.test(value)) return undefined;
  if (/^\s*[1-9][0-9]*\s*$/.test(value)) return { ...site, value, message: 'has spaces around it', fix: `give "${value.trim()}"` };
  const moving = /^@|^(latest|champion|challenger|production|staging|archived|none)$/i.test(value) || /[A-Za-z]/.test(value);
  return {
    ...site, value,
    message: moving ? 'is not an exact version: an alias or a stage moves to another version without a rollout' : 'is not a version number (1, 2, 3, ...)',
    fix: moving ? 'resolve it once, in the step that deploys (MlflowClient().get_model_version_by_alias(name, alias).version), and give that number, e.g. "3"' : fix,
  };
}

/** A name not taken yet, from `base`: `base`, `base-2`, `base-3`, ... */
function uniqueName(base: string, taken: ReadonlySet<string>): string {
  const root = base === '' ? 'endpoint' : base;
  for (let i = 1; ; i++) {
    const candidate = i === 1 ? root : `${root}-${i}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/** The RBAC subject of a service account given from TypeScript or JavaScript; undefined when it is not one. */
function subjectOf(value: unknown): { kind: string; name: string; namespace?: string } | undefined {
  const toSubject = (value as Partial<IServiceAccount> | null | undefined)?.toSubjectConfiguration;
  if (typeof toSubject !== 'function') return undefined;
  const s: unknown = toSubject.call(value);
  if (!isPlainObject(s) || typeof s.kind !== 'string' || typeof s.name !== 'string') return undefined;
  return { kind: s.kind, name: s.name, namespace: typeof s.namespace === 'string' ? s.namespace : undefined };
}

/**
 * The fields of a pod spec and of a container (Kubernetes 1.30, the first release with ValidatingAdmissionPolicy GA)
 * that a rollout must leave as they are. A field added by a later release is not compared: give the rollout account
 * nothing else to do in the namespace.
 */
const POD_FIELDS = [
  'activeDeadlineSeconds', 'affinity', 'automountServiceAccountToken', 'dnsConfig', 'dnsPolicy', 'enableServiceLinks', 'ephemeralContainers',
  'hostAliases', 'hostIPC', 'hostNetwork', 'hostPID', 'hostUsers', 'hostname', 'imagePullSecrets', 'initContainers', 'nodeName', 'nodeSelector', 'os',
  'overhead', 'preemptionPolicy', 'priority', 'priorityClassName', 'readinessGates', 'resourceClaims', 'restartPolicy', 'runtimeClassName',
  'schedulerName', 'schedulingGates', 'securityContext', 'serviceAccount', 'serviceAccountName', 'setHostnameAsFQDN', 'shareProcessNamespace',
  'subdomain', 'terminationGracePeriodSeconds', 'tolerations', 'topologySpreadConstraints', 'volumes',
];
const CONTAINER_FIELDS = [
  'args', 'command', 'envFrom', 'image', 'imagePullPolicy', 'lifecycle', 'livenessProbe', 'ports', 'readinessProbe', 'resizePolicy', 'resources',
  'restartPolicy', 'securityContext', 'startupProbe', 'stdin', 'stdinOnce', 'terminationMessagePath', 'terminationMessagePolicy', 'tty',
  'volumeDevices', 'volumeMounts', 'workingDir',
];

/** CEL: `field` is present in both or neither of `a` and `b`, and equal where present. */
function same(a: string, b: string, field: string): string {
  return `(has(${a}.${field}) == has(${b}.${field}) && (!has(${a}.${field}) || ${a}.${field} == ${b}.${field}))`;
}

/**
 * What the admission policy holds a rollout account's update of the Deployment to: everything as it was but the value
 * of {@link MODEL_VERSION_ENV}, which must stay a plain value of digits. Each rule is its own expression (each has its
 * own cost budget) and message; none echoes a value of the request.
 */
function rolloutValidations(who: string): Array<{ expression: string; message: string }> {
  const pod = 'object.spec.template.spec';
  const old = 'oldObject.spec.template.spec';
  const v = JSON.stringify(MODEL_VERSION_ENV);
  const envOthers = (c: string) => `${c}.env.filter(e, e.name != ${v})`;
  return [
    {
      expression: `${same('object.spec', 'oldObject.spec', 'replicas')} && ${same('object.spec.template', 'oldObject.spec.template', 'metadata')}`,
      message: `${who} may not scale it or change its pods' labels and annotations (labels select NetworkPolicies)`,
    },
    {
      expression: POD_FIELDS.map((f) => same(pod, old, f)).join(' && '),
      message: `${who} may not change its pods' service account, volumes, security context, placement or any other pod setting`,
    },
    {
      expression: `${pod}.containers.size() == ${old}.containers.size() && ${pod}.containers.all(c, ${old}.containers.exists(o, o.name == c.name && `
        + `${CONTAINER_FIELDS.map((f) => same('c', 'o', f)).join(' && ')} && has(c.env) == has(o.env) && (!has(c.env) || ${envOthers('c')} == ${envOthers('o')})))`,
      message: `${who} may change nothing of its containers but the value of ${MODEL_VERSION_ENV}: not the image, command, args, other env or mounts`,
    },
    {
      expression: `${pod}.containers.all(c, !has(c.env) || c.env.all(e, e.name != ${v} || (has(e.value) && !has(e.valueFrom) && e.value.matches('^[1-9][0-9]{0,17}$')))) `
        + `&& ${old}.containers.all(o, !has(o.env) || !o.env.exists(e, e.name == ${v}) || ${pod}.containers.exists(c, c.name == o.name && has(c.env) && c.env.exists_one(e, e.name == ${v})))`,
      message: `${who} may set ${MODEL_VERSION_ENV} only to an exact registered version, a string of digits (not an alias, not a reference), and may not remove it`,
    },
  ];
}
