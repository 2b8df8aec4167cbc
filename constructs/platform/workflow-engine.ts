import { checkPodSettings, PodSettings } from '../k8s/pod-settings';
import { ApiObject } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  checkCount, checkImage, checkNamespace, checkResources, checkUid, ContainerResources, Endpoint, EnvironmentName, environmentPreset, Problems, Scheme, checkNoNulls, snapshot, checkLabelValue,
} from '../../lib';
import { ARGO_GROUP } from './argo-crds';
import { IPostgresDatabase, postgresCaFiles } from './database';
import { DefaultImages } from '../k8s/images';
import { componentLabels, selectorLabels } from '../k8s/labels';
import { checkPeers, Connections, IConnectable, KubeApiAccess, NetworkPeer } from '../k8s/network';
import { ISecret } from '../k8s/secret';
import { Bucket } from './object-store';
import { PipelineRunner } from './pipeline-runner';
import { emptyDirVolume, hardenedContainer, httpProbe } from '../k8s/pod-security';
import { WorkflowController, WorkflowDefaults } from './workflow-controller';
import { ARGO_UID, CONTROLLER_CONFIGMAP } from './argo-internal';
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
  /** The platform's workflow controller (it manages {@link runner}'s namespace); its network flows. */
  public readonly controller: WorkflowController;
  /** The pipeline runner the controller and argo-server manage. */
  public readonly runner: PipelineRunner;
  /** Argo's instance ID, when it has one. */
  public readonly instanceId?: string;
  /** How the controller and argo-server reach the Kubernetes API, as given. */
  public readonly kubeApi?: KubeApiAccess;
  /** The workflow archive's database, when there is one. */
  public readonly archive?: IPostgresDatabase;
  /** The default artifact repository's bucket. */
  public readonly artifactBucket: Bucket;
  /** Resources of the executor containers of every workflow pod. */
  public readonly executorResources: ContainerResources;
  /** The defaults every workflow gets. */
  public readonly workflowDefaults: WorkflowDefaults;
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
    this.runner = runner;
    this.executorImage = props.executorImage ?? DefaultImages.ARGO_EXECUTOR;
    this.controllerImage = props.controllerImage ?? DefaultImages.ARGO_CONTROLLER;
    this.instanceId = props.instanceId;
    this.kubeApi = props.kubeApi;
    this.archive = props.archive;
    this.artifactBucket = props.artifactBucket;
    this.executorResources = executorResources;
    this.workflowDefaults = defaults;
    const ctl = new WorkflowController(this, 'WorkflowController', {
      namespace: this.namespace,
      runner,
      artifactBucket: props.artifactBucket,
      archive: props.archive,
      image: this.controllerImage,
      executorImage: this.executorImage,
      resources: controllerResources,
      executorResources,
      workflowDefaults: defaults,
      kubeApi: props.kubeApi,
      instanceId: props.instanceId,
      pod: props.controllerPod,
    });
    this.controller = ctl;
    this.controllerDeployment = ctl.deployment;
    this.artifactCredentials = ctl.artifactCredentials;

    const serverName = 'argo-server';
    const serverLabels = componentLabels('argo-workflows', serverName, 'argo-server');
    const serverSelector = selectorLabels('argo-workflows', serverName);
    const serverPorts = [{ name: 'web', port: 2746 }];
    this.serverEndpoint = Endpoint.ofService(serverName, this.namespace, 2746, Scheme.HTTPS);

    const serverConnections = new Connections(this, 'ServerConnections', { name: serverName, namespace: this.namespace, podSelector: serverSelector, labels: serverLabels });
    this.server = { connections: serverConnections };
    serverConnections.allowToKubeApi(props.kubeApi);
    runner.objectStore.connectFrom(this.server);
    for (const peer of props.ingressFrom ?? []) serverConnections.allowIngress(peer, 2746);
    if (props.archive) props.archive.grantConnect(this.server);

    // --- RBAC: Roles only, in the two namespaces -------------------------------------------------------------
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
          args: ['server', '--namespaced', '--managed-namespace', managed, '--auth-mode', this.authMode, '--configmap', CONTROLLER_CONFIGMAP],
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
