import { checkPodSettings, PodSettings } from '../k8s/pod-settings';
import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  checkCount, checkImage, checkNamespace, checkResources, checkUid, ContainerResources, Endpoint, EnvironmentName, environmentPreset, Problems, Scheme, checkNoNulls, snapshot, checkLabelValue,
} from '../../lib';
import { ARGO_GROUP } from './argo-crds';
import { lazy } from '../k8s/lazy';
import { IPostgresDatabase, PG_PASSWORD_KEY, PG_USERNAME_KEY, postgresCaFiles } from './database';
import { DefaultImages } from '../k8s/images';
import { componentLabels, selectorLabels } from '../k8s/labels';
import { checkPeers, Connections, IConnectable, KubeApiAccess, NetworkPeer } from '../k8s/network';
import { ISecret } from '../k8s/secret';
import { Bucket, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } from './object-store';
import { PipelineRunner } from './pipeline-runner';
import { emptyDirVolume, hardenedContainer, httpProbe, restrictedContainerSecurityContext, restrictedPodSecurityContext } from '../k8s/pod-security';
import { boundRole, clusterIpService, containerPorts, deployment, serviceAccount } from '../k8s/workload';

/**
 * How argo-server authenticates API and UI calls.
 * @see https://argo-workflows.readthedocs.io/en/latest/argo-server-auth-mode/
 */
export enum ArgoAuthMode {
  /** Calls carry the caller's own Kubernetes bearer token (the default, and the safe one). SSO needs an OIDC configuration cd4ml does not render yet. */
  CLIENT = 'client',
  /** Every call runs as argo-server's service account, unauthenticated: only for a throwaway sandbox. */
  SERVER = 'server',
}

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

/** Props of {@link WorkflowEngine}. */
export interface WorkflowEngineProps {
  /** Namespace of the controller and server (created by the caller). */
  readonly namespace: string;
  /** The namespace where workflows run; the engine manages exactly that namespace. */
  readonly runner: PipelineRunner;
  /** Bucket of the default artifact repository (logs, artifacts), read and written with the runner's S3 credentials. */
  readonly artifactBucket: Bucket;
  /** Database of the workflow archive. @default - no archive */
  readonly archive?: IPostgresDatabase;
  /** argo-server's auth mode. `SERVER` only by explicit opt-in for a throwaway sandbox. @default ArgoAuthMode.CLIENT */
  readonly authMode?: ArgoAuthMode;
  /** workflow-controller image, pinned. @default - {@link DefaultImages.ARGO_CONTROLLER} */
  readonly controllerImage?: string;
  /** argo-server image, pinned. @default - {@link DefaultImages.ARGO_SERVER} */
  readonly serverImage?: string;
  /** Executor image, pinned and non-root. @default - {@link DefaultImages.ARGO_EXECUTOR} */
  readonly executorImage?: string;
  /** Controller resources. @default - the sandbox preset's (100m / 128Mi, limit 512Mi) */
  readonly controllerResources?: ContainerResources;
  /** Server resources. @default - the sandbox preset's (50m / 96Mi, limit 256Mi) */
  readonly serverResources?: ContainerResources;
  /** Resources of the executor containers in every workflow pod. @default 10m / 64Mi, limit 256Mi */
  readonly executorResources?: ContainerResources;
  /** argo-server replicas. @default 1 */
  readonly serverReplicas?: number;
  /** Defaults for every workflow. @default - see {@link WorkflowDefaults} */
  readonly workflowDefaults?: WorkflowDefaults;
  /** How the controller and argo-server reach the Kubernetes API. @default - see {@link KubeApiAccess} (172.16.0.0/12 on ports 443 and 6443) */
  readonly kubeApi?: KubeApiAccess;
  /** Peers allowed to reach the UI besides port-forwarding (an ingress controller). @default [] */
  readonly ingressFrom?: NetworkPeer[];
  /**
   * Argo's instance ID (a label value): the controller and argo-server handle only objects labelled
   * `workflows.argoproj.io/controller-instanceid` with it; the runner's pipelines are labelled so.
   * @default - none: every workflow of the managed namespace
   */
  readonly instanceId?: string;
  /** The controller's placement, priority, pod metadata, extra args and env. @default - none */
  readonly controllerPod?: PodSettings;
  /** argo-server's placement, priority, pod metadata, extra args and env, and its Service's type and annotations. @default - none */
  readonly serverPod?: PodSettings;
}

const ARGO_UID = 8737;
const CONFIGMAP = 'workflow-controller-configmap';
/** The Secret of CA certificates the controller mounts into agent pods, when it exists (workflow/common/common.go `CACertificatesVolumeMountName`). */
const AGENT_CA_SECRET = 'argo-workflows-agent-ca-certificates';

/**
 * Argo Workflows, namespace-scoped: the workflow-controller and argo-server run in their own namespace and
 * manage exactly the pipeline runner's namespace (`--namespaced --managed-namespace`), so no ClusterRole is
 * needed. The controller ConfigMap points the artifact repository at the object store (secret selectors, no
 * inline keys), the archive at Postgres, and gives every workflow restricted, resource-bounded defaults.
 */
export class WorkflowEngine extends Construct {
  /** The UI and API endpoint (HTTPS, self-signed). */
  public readonly serverEndpoint: Endpoint;
  /**
   * The artifact repository's S3 credentials (Argo's own identity, granted only its artifact bucket), in the pipeline
   * namespace: the executor reads them from a mount in the wait container, never in the step's own container.
   */
  public readonly artifactCredentials: ISecret;
  /** Namespace of the controller and server. */
  public readonly namespace: string;
  /** argo-server's auth mode. */
  public readonly authMode: ArgoAuthMode;
  /** Name of the service account people use for tokens in `client` auth mode (`kubectl create token`). */
  public readonly userServiceAccountName = 'argo-user';
  /** The controller's network flows. */
  public readonly controller: IConnectable;
  /** The server's network flows. */
  public readonly server: IConnectable;
  /** The Argo executor image every workflow pod's init and wait containers run. */
  public readonly executorImage: string;
  /** The workflow controller's image. */
  public readonly controllerImage: string;
  /** The controller Deployment (escape hatch). */
  public readonly controllerDeployment: ApiObject;
  /** The server Deployment (escape hatch). */
  public readonly serverDeployment: ApiObject;

  public constructor(scope: Construct, id: string, props: WorkflowEngineProps) {
    super(scope, id);
    props = snapshot(props ?? ({} as WorkflowEngineProps));
    const path = this.node.path;
    const preset = environmentPreset(EnvironmentName.SANDBOX);
    this.namespace = props.namespace;
    this.authMode = props.authMode ?? ArgoAuthMode.CLIENT;
    const runner = props.runner;
    // a JavaScript caller may pass no runner: refused below, before the name is used
    const managed: string = runner instanceof PipelineRunner ? runner.namespace : '';
    const controllerResources = props.controllerResources ?? preset.workflowController.resources;
    const serverResources = props.serverResources ?? preset.workflowServer.resources;
    const executorResources = props.executorResources ?? { cpu: '10m', memory: '64Mi', memoryLimit: '256Mi' };
    const serverReplicas = props.serverReplicas ?? preset.workflowServer.replicas;
    const defaults = props.workflowDefaults ?? {};

    const problems = new Problems();
    checkNoNulls(props, path, ['namespace', 'runner', 'artifactBucket']).forEach((p) => problems.add(p));
    problems.addIf(checkNamespace(this.namespace, { path, field: 'namespace' }, 'argo'));
    if (!(runner instanceof PipelineRunner)) problems.add({ path, field: 'runner', value: runner, message: 'is not a PipelineRunner', fix: 'pass the PipelineRunner whose namespace the engine manages' });
    if (!(props.artifactBucket instanceof Bucket)) problems.add({ path, field: 'artifactBucket', value: props.artifactBucket, message: 'is not a Bucket', fix: 'pass a bucket the runner was granted, from its object store\'s addBucket()' });
    problems.addIf(checkImage(props.controllerImage ?? DefaultImages.ARGO_CONTROLLER, { path, field: 'controllerImage' }));
    problems.addIf(checkImage(props.serverImage ?? DefaultImages.ARGO_SERVER, { path, field: 'serverImage' }));
    problems.addIf(checkImage(props.executorImage ?? DefaultImages.ARGO_EXECUTOR, { path, field: 'executorImage' }));
    if (props.ingressFrom !== undefined) checkPeers(props.ingressFrom, { path, field: 'ingressFrom' }).forEach((p) => problems.add(p));
    if (props.authMode != null && !(Object.values(ArgoAuthMode) as unknown[]).includes(props.authMode)) {
      problems.add({ path, field: 'authMode', value: props.authMode, message: 'is not an argo-server auth mode', fix: 'use ArgoAuthMode.CLIENT ("client"), or ArgoAuthMode.SERVER ("server") for a throwaway sandbox only' });
    }
    if (this.namespace === managed) {
      problems.add({ path, field: 'namespace', value: this.namespace, message: 'equals the runner\'s namespace', fix: 'run Argo in its own namespace: workflows there could reach the controller\'s secrets' });
    }
    checkResources(problems, controllerResources, path, 'controllerResources');
    checkResources(problems, serverResources, path, 'serverResources');
    checkResources(problems, executorResources, path, 'executorResources');
    problems.addIf(checkCount(serverReplicas, 1, { path, field: 'serverReplicas' }));
    for (const [field, n] of [['workflowDefaults.activeDeadlineSeconds', defaults.activeDeadlineSeconds], ['workflowDefaults.ttlSecondsAfterCompletion', defaults.ttlSecondsAfterCompletion]] as const) {
      if (n !== undefined) problems.addIf(checkCount(n, 1, { path, field }));
    }
    if (defaults.runAsUser !== undefined) problems.addIf(checkUid(defaults.runAsUser, { path, field: 'workflowDefaults.runAsUser' }));
    if (props.artifactBucket instanceof Bucket && runner instanceof PipelineRunner && props.artifactBucket.store !== runner.objectStore) {
      problems.add({ path, field: 'artifactBucket', value: props.artifactBucket.name, message: 'belongs to another object store than the runner\'s', fix: 'use a bucket of the store the runner was granted' });
    }
    if (props.instanceId === '') problems.add({ path, field: 'instanceId', value: '', message: 'is empty', fix: 'give a name like "ml-platform", or leave instanceId out' });
    else if (props.instanceId !== undefined) problems.addIf(checkLabelValue(props.instanceId, { path, field: 'instanceId' }, 'ml-platform'));
    checkPodSettings(problems, path, 'controllerPod', props.controllerPod);
    checkPodSettings(problems, path, 'serverPod', props.serverPod);
    problems.throwIfAny(this);
    runner.attachWorkflowController(this.namespace, path, props.instanceId);
    this.executorImage = props.executorImage ?? DefaultImages.ARGO_EXECUTOR;
    this.controllerImage = props.controllerImage ?? DefaultImages.ARGO_CONTROLLER;
    // Argo's own S3 identity, limited to its artifact bucket: steps hold the pipelines' key, which cannot rewrite
    // the logs and artifacts Argo archives (the Secret lives in the pipeline namespace, where pods mount it).
    this.artifactCredentials = props.artifactBucket.store.grantReadWrite(runner, 'workflows', [props.artifactBucket]);

    const controllerName = 'workflow-controller';
    const serverName = 'argo-server';
    const controllerLabels = componentLabels('argo-workflows', controllerName, 'workflow-controller');
    const serverLabels = componentLabels('argo-workflows', serverName, 'argo-server');
    const controllerSelector = selectorLabels('argo-workflows', controllerName);
    const serverSelector = selectorLabels('argo-workflows', serverName);
    const serverPorts = [{ name: 'web', port: 2746 }];
    this.serverEndpoint = Endpoint.ofService(serverName, this.namespace, 2746, Scheme.HTTPS);

    const controllerConnections = new Connections(this, 'ControllerConnections', { name: controllerName, namespace: this.namespace, podSelector: controllerSelector, labels: controllerLabels });
    const serverConnections = new Connections(this, 'ServerConnections', { name: serverName, namespace: this.namespace, podSelector: serverSelector, labels: serverLabels });
    this.controller = { connections: controllerConnections };
    this.server = { connections: serverConnections };
    controllerConnections.allowToKubeApi(props.kubeApi);
    serverConnections.allowToKubeApi(props.kubeApi);
    runner.objectStore.connectFrom(this.server);
    for (const peer of props.ingressFrom ?? []) serverConnections.allowIngress(peer, 2746);
    if (props.archive) {
      props.archive.grantConnect(this.controller);
      props.archive.grantConnect(this.server);
    }

    // --- the controller's configuration -------------------------------------------------------------------
    const store = runner.objectStore;
    const config: Record<string, unknown> = {
      ...(props.instanceId !== undefined ? { instanceID: props.instanceId } : {}),
      executor: {
        image: props.executorImage ?? DefaultImages.ARGO_EXECUTOR,
        imagePullPolicy: 'IfNotPresent',
        resources: plainResources(executorResources),
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
      metadata: { name: CONFIGMAP, namespace: this.namespace, labels: controllerLabels },
      // Each top-level key holds a YAML document; JSON is YAML. Once events may submit pipelines, workflows must
      // reference a template and may not override it, so an event token cannot run arbitrary pods.
      data: lazy(() => Object.fromEntries(Object.entries({
        ...config,
        ...(runner.eventTriggersEnabled ? { workflowRestrictions: { templateReferencing: 'Secure' } } : {}),
      }).map(([k, v]) => [k, JSON.stringify(v, null, 2)]))),
    });

    // --- RBAC: Roles only, in the two namespaces -------------------------------------------------------------
    serviceAccount(this, 'ControllerServiceAccount', { name: controllerName, namespace: this.namespace, labels: controllerLabels, automountToken: true });
    boundRole(this, 'ControllerOwn', { name: controllerName, namespace: this.namespace, labels: controllerLabels, rules: [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'update'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'watch', 'list'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      ...(props.archive ? [{ apiGroups: [''], resources: ['secrets'], resourceNames: [props.archive.credentials.secretName], verbs: ['get'] }] : []),
    ] });
    // Upstream's namespace-install controller Role (manifests/namespace-install/workflow-controller-rbac), in the managed namespace.
    boundRole(this, 'ControllerManaged', { name: controllerName, namespace: managed, labels: controllerLabels, subject: { name: controllerName, namespace: this.namespace }, rules: [
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
      namespace: this.namespace,
      labels: controllerLabels,
      rules: lazy(() => (runner.cacheConfigMaps.length === 0 ? [] : [{ apiGroups: [''], resources: ['configmaps'], resourceNames: [...runner.cacheConfigMaps], verbs: ['get', 'update', 'patch'] }])),
      subject: { name: controllerName, namespace: this.namespace },
    });

    serviceAccount(this, 'ServerServiceAccount', { name: serverName, namespace: this.namespace, labels: serverLabels, automountToken: true });
    // argo-server opens the archive with its own identity and exits when it cannot read the archive Secret
    // (server/apiserver/argoserver.go), whatever the auth mode.
    boundRole(this, 'ServerOwn', { name: serverName, namespace: this.namespace, labels: serverLabels, rules: [
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'watch', 'list'] },
      ...(props.archive ? [{ apiGroups: [''], resources: ['secrets'], resourceNames: [props.archive.credentials.secretName], verbs: ['get'] }] : []),
    ] });
    // Its workflow and template caches also run as itself in every auth mode, and it serves nothing until they
    // sync (server/workflowtemplate/informer.go): read access in the managed namespace. In server mode every
    // call runs as argo-server, so it then needs what its users may do.
    boundRole(this, 'ServerManaged', {
      name: serverName,
      namespace: managed,
      labels: serverLabels,
      subject: { name: serverName, namespace: this.namespace },
      rules: [
        ...(this.authMode === ArgoAuthMode.SERVER ? userRules(this.artifactCredentials) : [
          { apiGroups: [ARGO_GROUP], resources: ['workflows', 'workflowtemplates', 'cronworkflows'], verbs: ['get', 'list', 'watch'] },
        ]),
        // When a WorkflowEventBinding fails to submit, the events endpoint records a Kubernetes Event in the
        // binding's namespace with argo-server's own client (server/apiserver/argoserver.go NewEventRecorderManager,
        // server/event/dispatch/operation.go), in every auth mode.
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      ],
    });
    // A service account people mint short-lived tokens from for the UI and CLI in client mode.
    serviceAccount(this, 'UserServiceAccount', { name: this.userServiceAccountName, namespace: managed, labels: serverLabels });
    boundRole(this, 'User', { name: this.userServiceAccountName, namespace: managed, labels: serverLabels, rules: userRules(this.artifactCredentials) });

    // The archive's own CA bundle, when it has one: Argo builds the archive's DSN without sslrootcert
    // (util/sqldb/sqldb.go, v4.0.5), and pgx reads PGSSLROOTCERT from the environment (pgconn/config.go).
    const archiveCa = props.archive ? postgresCaFiles(props.archive) : { volumes: [], mounts: [] };
    const archiveCaEnv = archiveCa.path ? [{ name: 'PGSSLROOTCERT', value: archiveCa.path }] : [];

    // --- the controller ------------------------------------------------------------------------------------
    this.controllerDeployment = deployment(this, 'Controller', {
      pod: props.controllerPod,
      name: controllerName,
      namespace: this.namespace,
      labels: controllerLabels,
      selector: controllerSelector,
      replicas: 1,
      serviceAccountName: controllerName,
      automountToken: true,
      uid: ARGO_UID,
      containers: [
        hardenedContainer({
          name: 'workflow-controller',
          image: props.controllerImage ?? DefaultImages.ARGO_CONTROLLER,
          resources: controllerResources,
          command: ['workflow-controller'],
          args: ['--configmap', CONFIGMAP, '--namespaced', '--managed-namespace', managed, '--loglevel', 'info'],
          env: [{ name: 'LEADER_ELECTION_IDENTITY', valueFrom: { fieldRef: { fieldPath: 'metadata.name', apiVersion: 'v1' } } }, ...archiveCaEnv],
          volumeMounts: archiveCa.mounts.length ? archiveCa.mounts : undefined,
          ports: containerPorts([{ name: 'metrics', port: 9090 }, { name: 'healthz', port: 6060 }]),
          readinessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('metrics') }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 3 },
          livenessProbe: httpProbe('/healthz', 'healthz', { initialDelaySeconds: 90, periodSeconds: 60, timeoutSeconds: 30 }),
        }),
      ],
      volumes: archiveCa.volumes.length ? archiveCa.volumes : undefined,
    });

    // --- the server ----------------------------------------------------------------------------------------
    clusterIpService(this, 'ServerService', { name: serverName, namespace: this.namespace, labels: serverLabels, selector: serverSelector, ports: serverPorts, service: props.serverPod?.service });
    this.serverDeployment = deployment(this, 'Server', {
      pod: props.serverPod,
      name: serverName,
      namespace: this.namespace,
      labels: serverLabels,
      selector: serverSelector,
      replicas: serverReplicas,
      serviceAccountName: serverName,
      automountToken: true,
      uid: ARGO_UID,
      containers: [
        hardenedContainer({
          name: 'argo-server',
          image: props.serverImage ?? DefaultImages.ARGO_SERVER,
          resources: serverResources,
          args: ['server', '--namespaced', '--managed-namespace', managed, '--auth-mode', this.authMode, '--configmap', CONFIGMAP],
          env: archiveCaEnv.length ? archiveCaEnv : undefined,
          ports: containerPorts(serverPorts),
          volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, ...archiveCa.mounts],
          readinessProbe: httpProbe('/', 'web', { https: true, initialDelaySeconds: 10, periodSeconds: 20 }),
          livenessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('web') }, periodSeconds: 30, failureThreshold: 4, timeoutSeconds: 5 },
        }),
      ],
      volumes: [emptyDirVolume('tmp', '64Mi'), ...archiveCa.volumes],
    });
  }
}

/**
 * What a pipeline user may do in the managed namespace: run and watch workflows and read logs, and read the
 * artifact repository's Secret, which argo-server reads with the caller's token to show artifacts and archived
 * logs (server/artifacts/artifact_server.go). No other Secret.
 */
function userRules(artifactCredentials: ISecret): k8s.PolicyRule[] {
  return [
    { apiGroups: [ARGO_GROUP], resources: ['workflows', 'workflowtemplates', 'cronworkflows', 'workfloweventbindings'], verbs: ['create', 'get', 'list', 'watch', 'update', 'patch', 'delete'] },
    { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['events'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['secrets'], resourceNames: [artifactCredentials.secretName], verbs: ['get'] },
  ];
}

/** Requests and limits as plain JSON (for the controller ConfigMap, which is not an L1 object). */
function plainResources(r: ContainerResources): Record<string, Record<string, string>> {
  return {
    requests: { cpu: r.cpu, memory: r.memory },
    limits: { memory: r.memoryLimit, ...(r.cpuLimit !== undefined ? { cpu: r.cpuLimit } : {}) },
  };
}
