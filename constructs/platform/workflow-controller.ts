import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { checkDnsLabel, checkImage, checkLabelValue, checkNamespace, checkNoNulls, checkResources, ContainerResources, describeType, Problems, Scheme, snapshot } from '../../lib';
import { ARGO_GROUP } from './argo-crds';
import { lazy } from '../k8s/lazy';
import { IPostgresDatabase, PG_PASSWORD_KEY, PG_USERNAME_KEY, postgresCaFiles } from './database';
import { componentLabels, selectorLabels } from '../k8s/labels';
import { Connections, IConnectable, KubeApiAccess } from '../k8s/network';
import { checkSharedSecret, ISecret } from '../k8s/secret';
import { checkPodSettings, PodSettings } from '../k8s/pod-settings';
import { Bucket, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } from './object-store';
import { PipelineRunner } from './pipeline-runner';
import { ARGO_UID, CONTROLLER_CONFIGMAP } from './argo-internal';
import { hardenedContainer, httpProbe, restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../k8s/pod-security';
import { boundRole, containerPorts, deployment, serviceAccount } from '../k8s/workload';

/**
 * When Argo deletes a workflow's pods.
 * @see https://argo-workflows.readthedocs.io/en/latest/fields/#podgc
 */
export enum PodGcStrategy {
  /** Each pod when it completes. */
  ON_POD_COMPLETION = 'OnPodCompletion',
  /** Each pod when it succeeds; failed pods stay. */
  ON_POD_SUCCESS = 'OnPodSuccess',
  /** All pods when the workflow completes. */
  ON_WORKFLOW_COMPLETION = 'OnWorkflowCompletion',
  /** All pods when the workflow succeeds. */
  ON_WORKFLOW_SUCCESS = 'OnWorkflowSuccess',
}

/** Defaults applied to every workflow in the managed namespace. */
export interface WorkflowDefaults {
  /** Deadline of a whole workflow, in seconds. @default 86400 (one day) */
  readonly activeDeadlineSeconds?: number;
  /** Seconds a finished workflow object is kept before it is deleted (its record stays in the archive). @default 604800 (seven days) */
  readonly ttlSecondsAfterCompletion?: number;
  /**
   * When to delete a workflow's pods (logs are archived to the artifact repository first).
   * @default PodGcStrategy.ON_POD_SUCCESS (failed pods stay for debugging until the workflow is deleted)
   */
  readonly podGcStrategy?: PodGcStrategy;
  /** uid/gid workflow pods run as. @default 1000 */
  readonly runAsUser?: number;
}

/** The Secret of CA certificates the controller mounts into agent pods, when it exists (workflow/common/common.go `CACertificatesVolumeMountName`). */
const AGENT_CA_SECRET = 'argo-workflows-agent-ca-certificates';

/**
 * What a {@link WorkflowController} is built from. The {@link WorkflowEngine} and the Platform's pipeline domains build
 * theirs from props they check and report under their own names.
 */
export interface WorkflowControllerProps {
  /** Namespace the controller runs in (the platform's workflow namespace). */
  readonly namespace: string;
  /** The runner whose namespace the controller manages, exactly that one (`--namespaced --managed-namespace`). */
  readonly runner: PipelineRunner;
  /** Bucket of the default artifact repository, granted to the controller's own S3 user. */
  readonly artifactBucket: Bucket;
  /** Database of the workflow archive. @default - no archive */
  readonly archive?: IPostgresDatabase;
  /** Name of the Deployment, service account and Roles. @default 'workflow-controller' */
  readonly name?: string;
  /** Name of its ConfigMap. @default 'workflow-controller-configmap' */
  readonly configMapName?: string;
  /** The object store user of the artifact repository. Excludes {@link artifactCredentials}. @default 'workflows' */
  readonly artifactUser?: string;
  /**
   * The artifact repository's S3 credentials granted elsewhere (another controller's), shared: required in the managed
   * namespace too. For an external store, whose keys the team issues. Excludes {@link artifactUser}.
   * @default - a user of the controller's own ({@link artifactUser})
   */
  readonly artifactCredentials?: ISecret;
  /** workflow-controller image, pinned. */
  readonly image: string;
  /** Executor image, pinned and non-root. */
  readonly executorImage: string;
  /** Controller resources. */
  readonly resources: ContainerResources;
  /** Resources of the executor containers in every workflow pod. */
  readonly executorResources: ContainerResources;
  /** Defaults for every workflow. @default - see {@link WorkflowDefaults} */
  readonly workflowDefaults?: WorkflowDefaults;
  /** How the controller reaches the Kubernetes API. @default - see {@link KubeApiAccess} */
  readonly kubeApi?: KubeApiAccess;
  /**
   * Argo's instance ID. It also names the controller's leader-election Lease (`workflow-controller-<id>`, in its own
   * namespace), so two controllers in one namespace need different IDs. @default - none
   */
  readonly instanceId?: string;
  /** Placement, priority, pod metadata, extra args and env. @default - none */
  readonly pod?: PodSettings;
}

/**
 * One Argo workflow-controller, namespace-scoped: it runs in the workflow namespace and manages exactly one pipeline
 * runner's namespace, with Roles only. Its ConfigMap points the artifact repository at the object store (with an S3
 * user of its own, granted the artifact bucket only), the archive at Postgres, and gives every workflow restricted,
 * resource-bounded defaults and the runner's step environment.
 */
export class WorkflowController extends Construct implements IConnectable {
  /** Name of the Deployment, service account and Roles. */
  public readonly name: string;
  /** Name of the ConfigMap. */
  public readonly configMapName: string;
  /** The runner it manages. */
  public readonly runner: PipelineRunner;
  /** The artifact repository's S3 credentials, in the managed namespace (mounted by the executor, never by a step). */
  public readonly artifactCredentials: ISecret;
  /** The Deployment (escape hatch). */
  public readonly deployment: ApiObject;
  /** The Lease its replicas elect a leader on, in its namespace: `workflow-controller`, or `workflow-controller-<instanceId>`. */
  public readonly leaseName: string;
  public readonly connections: Connections;

  public constructor(scope: Construct, id: string, props: WorkflowControllerProps) {
    super(scope, id);
    props = snapshot(props ?? ({} as WorkflowControllerProps));
    checkControllerProps(this.node.path, props).throwIfAny(this);
    const runner = props.runner;
    const managed = runner.namespace;
    const defaults = props.workflowDefaults ?? {};
    this.runner = runner;
    this.name = props.name ?? 'workflow-controller';
    this.configMapName = props.configMapName ?? CONTROLLER_CONFIGMAP;
    const controllerName = this.name;
    runner.attachWorkflowController(props.namespace, this.node.path, props.instanceId, controllerName);
    // Argo's own S3 identity, limited to its artifact bucket: steps hold the pipelines' key, which cannot rewrite
    // the logs and artifacts Argo archives (the Secret lives in the pipeline namespace, where pods mount it).
    if (props.artifactCredentials) {
      this.artifactCredentials = props.artifactCredentials;
      this.artifactCredentials.availableIn(managed);
      props.artifactBucket.store.connectFrom(runner);
    } else {
      this.artifactCredentials = props.artifactBucket.store.grantReadWrite(runner, props.artifactUser ?? 'workflows', [props.artifactBucket]);
    }

    const labels = componentLabels('argo-workflows', controllerName, 'workflow-controller');
    const selector = selectorLabels('argo-workflows', controllerName);
    this.connections = new Connections(this, 'ControllerConnections', { name: controllerName, namespace: props.namespace, podSelector: selector, labels });
    this.connections.allowToKubeApi(props.kubeApi);
    if (props.archive) props.archive.grantConnect(this);

    // --- the configuration ---------------------------------------------------------------------------------
    const store = runner.objectStore;
    const config: Record<string, unknown> = {
      ...(props.instanceId !== undefined ? { instanceID: props.instanceId } : {}),
      executor: {
        image: props.executorImage,
        imagePullPolicy: 'IfNotPresent',
        resources: plainResources(props.executorResources),
        securityContext: restrictedContainerSecurityContext(),
      },
      // Merged into every step's main container: the runner's defaults (tracking URI, S3 endpoint, credentials by
      // reference, MLflow telemetry off), a writable /tmp as HOME under the read-only root, default resources,
      // restricted context. Argo merges these under the template's container, env by name (workflow/controller/
      // workflowpod.go, strategic merge patch).
      mainContainer: {
        imagePullPolicy: 'IfNotPresent',
        env: [...runner.stepEnv(), ...runner.telemetryEnv(), { name: 'HOME', value: '/tmp' }],
        resources: plainResources(runner.stepDefaults),
        securityContext: restrictedContainerSecurityContext(),
        volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
      },
      artifactRepository: {
        archiveLogs: true,
        s3: {
          endpoint: store.endpoint.hostPort,
          bucket: props.artifactBucket.name,
          region: store.region,
          insecure: store.endpoint.scheme === Scheme.HTTP,
          keyFormat: '{{workflow.namespace}}/{{workflow.name}}/{{pod.name}}',
          accessKeySecret: { name: this.artifactCredentials.secretName, key: S3_ACCESS_KEY_ID },
          secretKeySecret: { name: this.artifactCredentials.secretName, key: S3_SECRET_ACCESS_KEY },
        },
      },
      workflowDefaults: {
        spec: {
          serviceAccountName: runner.serviceAccountName,
          automountServiceAccountToken: false,
          executor: { serviceAccountName: runner.executorServiceAccountName },
          securityContext: restrictedPodSecurityContext({ uid: defaults.runAsUser ?? 1000 }),
          activeDeadlineSeconds: defaults.activeDeadlineSeconds ?? 86400,
          ttlStrategy: { secondsAfterCompletion: defaults.ttlSecondsAfterCompletion ?? 604800 },
          podGC: { strategy: defaults.podGcStrategy ?? PodGcStrategy.ON_POD_SUCCESS },
          volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '2Gi' } }],
        },
      },
    };
    if (props.archive) {
      config.persistence = {
        archive: true,
        postgresql: {
          host: props.archive.endpoint.host,
          port: props.archive.endpoint.port,
          database: props.archive.databaseName,
          tableName: 'argo_workflows',
          userNameSecret: { name: props.archive.credentials.secretName, key: PG_USERNAME_KEY },
          passwordSecret: { name: props.archive.credentials.secretName, key: PG_PASSWORD_KEY },
          // Always explicit: with `ssl: false` Argo passes no sslmode and its pgx driver falls back to `prefer`
          // (unverified, downgradable). `ssl: true` makes it pass sslMode as given (util/sqldb/sqldb.go, v4.0.5).
          ssl: true,
          sslMode: props.archive.sslMode,
        },
      };
    }
    new k8s.KubeConfigMap(this, 'ControllerConfig', {
      metadata: { name: this.configMapName, namespace: props.namespace, labels },
      // Each top-level key holds a YAML document; JSON is YAML. Once events may submit pipelines, workflows must
      // reference a template and may not override it, so an event token cannot run arbitrary pods.
      data: lazy(() => Object.fromEntries(Object.entries({
        ...config,
        ...(runner.eventTriggersEnabled ? { workflowRestrictions: { templateReferencing: 'Secure' } } : {}),
      }).map(([k, v]) => [k, JSON.stringify(v, null, 2)]))),
    });

    // --- RBAC: Roles only, in the two namespaces -------------------------------------------------------------
    serviceAccount(this, 'ControllerServiceAccount', { name: controllerName, namespace: props.namespace, labels, automountToken: true });
    // Leader election on its own Lease only (`workflow-controller[-<instanceID>]`, cmd/workflow-controller/main.go):
    // several controllers share the workflow namespace (the platform's and each pipeline domain's), and none may take
    // over another's. `create` cannot be limited by name.
    this.leaseName = props.instanceId === undefined ? 'workflow-controller' : `workflow-controller-${props.instanceId}`;
    boundRole(this, 'ControllerOwn', { name: controllerName, namespace: props.namespace, labels, rules: [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [this.leaseName], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'watch', 'list'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      ...(props.archive ? [{ apiGroups: [''], resources: ['secrets'], resourceNames: [props.archive.credentials.secretName], verbs: ['get'] }] : []),
    ] });
    // Upstream's namespace-install controller Role (manifests/namespace-install/workflow-controller-rbac), in the managed namespace.
    boundRole(this, 'ControllerManaged', { name: controllerName, namespace: managed, labels, subject: { name: controllerName, namespace: props.namespace }, rules: [
      { apiGroups: [''], resources: ['pods', 'pods/exec'], verbs: ['create', 'get', 'list', 'watch', 'update', 'patch', 'delete'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'watch', 'list'] },
      { apiGroups: [''], resources: ['persistentvolumeclaims', 'persistentvolumeclaims/finalizers'], verbs: ['create', 'update', 'delete', 'get'] },
      { apiGroups: [ARGO_GROUP], resources: ['workflows', 'workflows/finalizers', 'workflowtasksets', 'workflowtasksets/finalizers', 'workflowartifactgctasks'], verbs: ['get', 'list', 'watch', 'update', 'patch', 'delete', 'create'] },
      { apiGroups: [ARGO_GROUP], resources: ['workflowtemplates', 'workflowtemplates/finalizers'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [ARGO_GROUP], resources: ['workflowtaskresults'], verbs: ['list', 'watch', 'deletecollection'] },
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list'] },
      // Upstream grants `get` on every Secret here, but the controller reads none in a workflow's namespace: artifact
      // and executor-token Secrets are mounted into pods by name and read by the executor from files. Its one GET is
      // the CA bundle of HTTP and plugin (agent) templates (argo-workflows v4.0.5 workflow/controller/agent.go
      // `secretExists`), the name upstream's cluster role limits it to.
      { apiGroups: [''], resources: ['secrets'], resourceNames: [AGENT_CA_SECRET], verbs: ['get'] },
      { apiGroups: [ARGO_GROUP], resources: ['cronworkflows', 'cronworkflows/finalizers'], verbs: ['get', 'list', 'watch', 'update', 'patch', 'delete'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['create', 'get', 'delete'] },
    ] });
    // Memoization: the controller keeps caches in its own namespace (workflow/controller/controller.go
    // NewCacheFactory); the pipelines render them there, and the controller may update those and no other.
    boundRole(this, 'ControllerCache', {
      name: `${controllerName}-cache`,
      namespace: props.namespace,
      labels,
      rules: lazy(() => (runner.cacheConfigMaps.length === 0 ? [] : [{ apiGroups: [''], resources: ['configmaps'], resourceNames: [...runner.cacheConfigMaps], verbs: ['get', 'update', 'patch'] }])),
      subject: { name: controllerName, namespace: props.namespace },
    });

    // The archive's own CA bundle, when it has one: Argo builds the archive's DSN without sslrootcert
    // (util/sqldb/sqldb.go, v4.0.5), and pgx reads PGSSLROOTCERT from the environment (pgconn/config.go).
    const archiveCa = props.archive ? postgresCaFiles(props.archive) : { volumes: [], mounts: [] };
    const archiveCaEnv = archiveCa.path ? [{ name: 'PGSSLROOTCERT', value: archiveCa.path }] : [];

    // --- the controller ------------------------------------------------------------------------------------
    this.deployment = deployment(this, 'Controller', {
      pod: props.pod,
      name: controllerName,
      namespace: props.namespace,
      labels,
      selector,
      replicas: 1,
      serviceAccountName: controllerName,
      automountToken: true,
      uid: ARGO_UID,
      containers: [
        hardenedContainer({
          name: 'workflow-controller',
          image: props.image,
          resources: props.resources,
          command: ['workflow-controller'],
          args: ['--configmap', this.configMapName, '--namespaced', '--managed-namespace', managed, '--loglevel', 'info'],
          env: [{ name: 'LEADER_ELECTION_IDENTITY', valueFrom: { fieldRef: { fieldPath: 'metadata.name', apiVersion: 'v1' } } }, ...archiveCaEnv],
          volumeMounts: archiveCa.mounts.length ? archiveCa.mounts : undefined,
          ports: containerPorts([{ name: 'metrics', port: 9090 }, { name: 'healthz', port: 6060 }]),
          readinessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('metrics') }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 3 },
          livenessProbe: httpProbe('/healthz', 'healthz', { initialDelaySeconds: 90, periodSeconds: 60, timeoutSeconds: 30 }),
        }),
      ],
      volumes: archiveCa.volumes.length ? archiveCa.volumes : undefined,
    });
  }
}

/** A controller's props as a JavaScript caller may pass them: present, of the right kinds, names that fit. */
function checkControllerProps(path: string, props: WorkflowControllerProps): Problems {
  const problems = new Problems();
  checkNoNulls(props, path, ['namespace', 'runner', 'artifactBucket', 'image', 'executorImage', 'resources', 'executorResources']).forEach((p) => problems.add(p));
  problems.addIf(checkNamespace(props.namespace, { path, field: 'namespace' }, 'argo'));
  if (!(props.runner instanceof PipelineRunner)) problems.add({ path, field: 'runner', value: describeType(props.runner), message: 'is not a PipelineRunner', fix: 'pass the PipelineRunner whose namespace the controller manages' });
  else if (props.runner.namespace === props.namespace) problems.add({ path, field: 'namespace', value: props.namespace, message: 'equals the runner\'s namespace', fix: 'run the controller in the workflow namespace: workflows could mount its Secrets' });
  if (!(props.artifactBucket instanceof Bucket)) problems.add({ path, field: 'artifactBucket', value: describeType(props.artifactBucket), message: 'is not a Bucket', fix: 'pass a bucket of the runner\'s object store, from its addBucket()' });
  else if (props.runner instanceof PipelineRunner && props.artifactBucket.store !== props.runner.objectStore) problems.add({ path, field: 'artifactBucket', value: props.artifactBucket.name, message: 'belongs to another object store than the runner\'s', fix: 'use a bucket of the store the runner was granted' });
  for (const field of ['name', 'configMapName', 'artifactUser'] as const) if (props[field] !== undefined) problems.addIf(checkDnsLabel(props[field], { path, field }));
  if (props.artifactUser !== undefined && props.artifactCredentials !== undefined) problems.add({ path, field: 'artifactCredentials', value: props.artifactCredentials?.secretName, message: `is given together with artifactUser "${props.artifactUser}"`, fix: 'give one: artifactUser for a user of the controller\'s own, or artifactCredentials to share one granted elsewhere' });
  problems.addIf(checkSharedSecret(props.artifactCredentials, { path, field: 'artifactCredentials' }, 'S3 credentials', 'pass another controller\'s artifactCredentials, or leave it out for a user of the controller\'s own'));
  problems.addIf(checkImage(props.image, { path, field: 'image' }));
  problems.addIf(checkImage(props.executorImage, { path, field: 'executorImage' }));
  for (const field of ['resources', 'executorResources'] as const) {
    if (props[field] === undefined || props[field] === null || typeof props[field] !== 'object') problems.add({ path, field, value: describeType(props[field]), message: 'is not requests and limits', fix: 'give { cpu, memory, memoryLimit }, e.g. { cpu: "100m", memory: "128Mi", memoryLimit: "512Mi" }' });
    else checkResources(problems, props[field], path, field);
  }
  if (props.instanceId !== undefined) problems.addIf(checkLabelValue(props.instanceId, { path, field: 'instanceId' }, 'ml-platform'));
  checkPodSettings(problems, path, 'pod', props.pod);
  return problems;
}

/** Requests and limits as plain JSON (for the controller ConfigMap, which is not an L1 object). */
function plainResources(r: ContainerResources): Record<string, Record<string, string>> {
  return {
    requests: { cpu: r.cpu, memory: r.memory },
    limits: { memory: r.memoryLimit, ...(r.cpuLimit !== undefined ? { cpu: r.cpuLimit } : {}) },
  };
}
