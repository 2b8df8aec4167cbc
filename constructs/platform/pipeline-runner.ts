import { k8s } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  checkCount, checkDnsLabel, checkExtendedResourceName, checkLabelKey, checkLabels, checkNamespace, checkResources, checkTolerations, ContainerResources, describeType,
  EnvironmentName, environmentPreset, fail, PipelineQuota, Problems, Quantity, QuantityKind, isPlainObject, suggestName, checkNoNulls, snapshot,
} from '../../lib';
import { ARGO_GROUP } from './argo-crds';
import { componentLabels } from '../k8s/labels';
import { Connections, IConnectable, KubeApiAccess } from '../k8s/network';
import { Bucket, IObjectStore, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY } from './object-store';
import { PlatformNamespace } from '../k8s/namespace';
import { checkSharedSecret, ISecret, secretEnv } from '../k8s/secret';
import { MLFLOW_PASSWORD_KEY, MLFLOW_TELEMETRY_OFF, MLFLOW_USERNAME_KEY, TrackingServer } from './tracking-server';
import { boundRole, serviceAccount } from '../k8s/workload';
import { namespacedAdmissionPolicy } from '../k8s/admission';

/**
 * The variable a bucket reaches steps in, by its role: `CD4ML_BUCKET_<ROLE>` (`data` gives `CD4ML_BUCKET_DATA`),
 * whatever the bucket is named, so renaming a bucket (as a globally unique name on AWS needs) changes no step.
 */
export function bucketEnvName(role: string): string {
  return `CD4ML_BUCKET_${role.toUpperCase()}`;
}

/** A bucket role: a lower-case identifier, as it becomes part of an environment variable's name. */
const BUCKET_ROLE = /^[a-z][a-z0-9_]{0,39}$/;

/** The label by which an Argo controller with an instance ID recognizes its objects. */
export const ARGO_INSTANCE_ID_LABEL = 'workflows.argoproj.io/controller-instanceid';

/** The node label naming the GPU model unless the pool says otherwise (NVIDIA GPU feature discovery). */
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';

/** Where GPU steps may run: the node labels and taints of a GPU node pool. */
export interface GpuScheduling {
  /**
   * Extended resource name GPUs are requested by.
   * @default 'nvidia.com/gpu'
   * @see https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/
   */
  readonly resourceName?: string;
  /** Node labels a GPU step must match, e.g. `{ 'nvidia.com/gpu.present': 'true' }`. @default {} */
  readonly nodeSelector?: Record<string, string>;
  /** Tolerations for the GPU nodes' taints. @default - tolerate `nvidia.com/gpu` NoSchedule taints */
  readonly tolerations?: k8s.Toleration[];
  /** Most GPUs one step may request. @default - the namespace's GPU quota */
  readonly maxPerStep?: number;
  /**
   * The node label naming the GPU model, matched by a step's `gpu.product`: NVIDIA GPU feature discovery's
   * `nvidia.com/gpu.product`, GKE's `cloud.google.com/gke-accelerator`, or your pool's own.
   * @default 'nvidia.com/gpu.product'
   */
  readonly productLabel?: string;
}

/** Props of {@link PipelineRunner}. */
export interface PipelineRunnerProps {
  /** Namespace where pipelines run (created by the runner). @default 'ml-pipelines' */
  readonly namespace?: string;
  /** The object store pipelines read data from and write artifacts to. */
  readonly objectStore: IObjectStore;
  /**
   * The buckets the pipelines may read and write, by role: each reaches steps as `CD4ML_BUCKET_<ROLE>` with its
   * name (`{ data: dataBucket }` gives `CD4ML_BUCKET_DATA`), however the bucket is named. Roles are lower-case
   * identifiers. The Platform passes `{ data }`; Argo's artifact bucket is Argo's own.
   */
  readonly buckets: Readonly<Record<string, Bucket>>;
  /** The tracking server every step logs to. */
  readonly trackingServer: TrackingServer;
  /** The namespace's quota. @default - the sandbox preset's (4 CPUs, 8Gi requests, 12Gi limits, no GPUs, 50 pods) */
  readonly quota?: PipelineQuota;
  /** Requests and limits of a step that sets none. @default - the sandbox preset's (250m / 512Mi, limit 1Gi) */
  readonly stepDefaults?: ContainerResources;
  /** GPU node pool scheduling; without it, GPU steps are refused at synth. @default - no GPU scheduling */
  readonly gpu?: GpuScheduling;
  /**
   * How to reach the Kubernetes API. Only the Argo executor (the wait container of each step pod) calls it, to report
   * results; NetworkPolicies select pods, so the rule covers the pipeline namespace's pods.
   * @default - see {@link KubeApiAccess} (172.16.0.0/12 on ports 443 and 6443)
   */
  readonly kubeApi?: KubeApiAccess;
  /** Name of the service account pipeline pods run as. @default 'pipeline-runner' */
  readonly serviceAccountName?: string;
  /** Name of the service account the Argo executor containers run as. @default 'pipeline-executor' */
  readonly executorServiceAccountName?: string;
  /** The object store user the steps' S3 key belongs to (one per runner). Excludes {@link s3Credentials}. @default 'pipelines' */
  readonly storageUser?: string;
  /**
   * S3 credentials granted elsewhere (another runner's `s3Credentials`), shared by this runner's steps: required in
   * this namespace too, and the store's network flow opened. For an external store, whose keys the team issues.
   * Excludes {@link storageUser}.
   * @default - a user of the runner's own ({@link storageUser})
   */
  readonly s3Credentials?: ISecret;
  /** The MLflow user granted to the steps (one per runner). Excludes {@link trackingCredentials}. @default 'pipelines' */
  readonly trackingUser?: string;
  /**
   * An MLflow user granted elsewhere (another runner's `trackingCredentials`), shared by this runner's steps: its Secret
   * is copied into this namespace. Excludes {@link trackingUser}.
   * @default - a user of the runner's own ({@link trackingUser})
   */
  readonly trackingCredentials?: ISecret;
}

/**
 * The namespace where ML pipelines run: default-deny networking with exactly the flows steps need
 * (tracking server, object store, DNS, and the API for the Argo executor), a service account for the
 * pods (no API token) and one for the Argo executor (a Role with only `workflowtaskresults` create/patch),
 * a ResourceQuota and LimitRange (GPUs too), and the defaults every step inherits: `MLFLOW_TRACKING_URI`,
 * `MLFLOW_S3_ENDPOINT_URL`, MLflow's telemetry off ({@link MLFLOW_TELEMETRY_OFF}) and the S3 credentials by Secret reference.
 */
export class PipelineRunner extends Construct implements IConnectable {
  /** The namespace. */
  public readonly namespace: string;
  /** Service account of pipeline pods (no token mounted in step containers). */
  public readonly serviceAccountName: string;
  /** Service account of the Argo executor (init/wait containers): may only report task results. */
  public readonly executorServiceAccountName: string;
  /** The Secret holding the executor's token, which the workflow controller mounts into step pods. */
  public readonly executorTokenSecretName: string;
  /** S3 credentials of the pipelines, in this namespace. */
  public readonly s3Credentials: ISecret;
  /** The pipelines' MLflow user (keys `MLFLOW_TRACKING_USERNAME`, `MLFLOW_TRACKING_PASSWORD`), in this namespace. */
  public readonly trackingCredentials: ISecret;
  /** The object store pipelines use. */
  public readonly objectStore: IObjectStore;
  /** The tracking server pipelines log to. */
  public readonly trackingServer: TrackingServer;
  /** Name of the ConfigMap of non-secret step defaults. */
  public readonly defaultsConfigMapName: string;
  /** Resources of a step that sets none. */
  public readonly stepDefaults: ContainerResources;
  /** The buckets pipelines may use, by role (each reaches steps as `CD4ML_BUCKET_<ROLE>`). */
  public readonly buckets: Readonly<Record<string, Bucket>>;
  /** The namespace's quota. */
  public readonly quota: PipelineQuota;
  /** GPU scheduling, when configured. */
  public readonly gpu?: Required<Pick<GpuScheduling, 'resourceName' | 'nodeSelector' | 'tolerations' | 'productLabel'>> & { readonly maxPerStep: number };
  public readonly connections: Connections;
  /** The namespace construct (for dependencies). */
  public readonly namespaceResource: PlatformNamespace;
  /** Name of the service account whose token may send events to trigger pipelines. */
  public readonly triggerServiceAccountName = 'pipeline-trigger';
  private readonly cacheMaps = new Set<string>();
  private readonly pipelines = new Set<string>();
  private controllerInstanceId?: string;
  private controllerNamespace?: string;
  private controllerName?: string;
  private triggerTokenSecret?: string;

  public constructor(scope: Construct, id: string, props: PipelineRunnerProps) {
    super(scope, id);
    props = snapshot(props ?? ({} as PipelineRunnerProps));
    const path = this.node.path;
    const preset = environmentPreset(EnvironmentName.SANDBOX);
    this.namespace = props.namespace ?? 'ml-pipelines';
    this.serviceAccountName = props.serviceAccountName ?? 'pipeline-runner';
    this.executorServiceAccountName = props.executorServiceAccountName ?? 'pipeline-executor';
    this.quota = props.quota ?? preset.pipelineQuota;
    this.stepDefaults = props.stepDefaults ?? preset.stepDefaults;
    this.objectStore = props.objectStore;
    this.trackingServer = props.trackingServer;
    this.defaultsConfigMapName = 'pipeline-defaults';
    this.buckets = isPlainObject(props.buckets) ? { ...props.buckets } : {};

    const problems = new Problems();
    checkNoNulls(props, path, ['objectStore', 'trackingServer', 'buckets']).forEach((p) => problems.add(p));
    problems.addIf(checkNamespace(this.namespace, { path, field: 'namespace' }, 'ml-pipelines'));
    if (props.objectStore === undefined || props.objectStore === null) problems.add({ path, field: 'objectStore', value: props.objectStore, message: 'is missing', fix: 'pass the platform\'s object store' });
    if (!(props.trackingServer instanceof TrackingServer)) problems.add({ path, field: 'trackingServer', value: describeType(props.trackingServer), message: 'is not a TrackingServer', fix: 'pass the TrackingServer steps log to' });
    problems.addIf(checkDnsLabel(this.serviceAccountName, { path, field: 'serviceAccountName' }));
    problems.addIf(checkDnsLabel(this.executorServiceAccountName, { path, field: 'executorServiceAccountName' }));
    if (props.storageUser !== undefined) problems.addIf(checkDnsLabel(props.storageUser, { path, field: 'storageUser' }));
    if (props.trackingUser !== undefined) problems.addIf(checkDnsLabel(props.trackingUser, { path, field: 'trackingUser' }));
    if (props.trackingUser !== undefined && props.trackingCredentials !== undefined) problems.add({ path, field: 'trackingCredentials', value: props.trackingCredentials?.secretName, message: `is given together with trackingUser "${props.trackingUser}"`, fix: 'give one: trackingUser for a user of the runner\'s own, or trackingCredentials to share one granted elsewhere' });
    if (props.storageUser !== undefined && props.s3Credentials !== undefined) problems.add({ path, field: 's3Credentials', value: props.s3Credentials?.secretName, message: `is given together with storageUser "${props.storageUser}"`, fix: 'give one: storageUser for a user of the runner\'s own, or s3Credentials to share one granted elsewhere' });
    for (const [field, what] of [['trackingCredentials', 'an MLflow user'], ['s3Credentials', 'S3 credentials']] as const) {
      problems.addIf(checkSharedSecret(props[field], { path, field }, what, `pass another runner's ${field}, or leave it out for a user of the runner's own`));
    }
    if (this.serviceAccountName === this.executorServiceAccountName) {
      problems.add({ path, field: 'executorServiceAccountName', value: this.executorServiceAccountName, message: 'equals serviceAccountName', fix: 'give the executor its own service account so step containers get no API token' });
    }
    problems.addIf(Quantity.check(this.quota.cpu, QuantityKind.CPU, { path, field: 'quota.cpu' }));
    problems.addIf(Quantity.check(this.quota.memory, QuantityKind.BYTES, { path, field: 'quota.memory' }));
    problems.addIf(Quantity.check(this.quota.memoryLimit, QuantityKind.BYTES, { path, field: 'quota.memoryLimit' }));
    problems.addIf(checkCount(this.quota.gpus, 0, { path, field: 'quota.gpus' }));
    problems.addIf(checkCount(this.quota.pods, 1, { path, field: 'quota.pods' }));
    checkResources(problems, this.stepDefaults, path, 'stepDefaults');
    if (!isPlainObject(props.buckets)) problems.add({ path, field: 'buckets', value: describeType(props.buckets), message: `is ${describeType(props.buckets)}, not a map of buckets by role`, fix: 'give the buckets steps use by role, e.g. { data: platform.dataBucket }' });
    else if (Object.keys(props.buckets).length === 0) problems.add({ path, field: 'buckets', value: {}, message: 'is empty', fix: 'give the buckets steps use by role, e.g. { data: platform.dataBucket }' });
    for (const [role, b] of Object.entries(this.buckets)) {
      if (!BUCKET_ROLE.test(role)) problems.add({ path, field: `buckets.${role}`, value: role, message: 'is not a bucket role (a lower-case identifier, at most 40 characters)', fix: `name the role like "${suggestName(role).replace(/-/g, '_').replace(/^[^a-z]+/, '').slice(0, 40) || 'data'}"` });
      if (!(b instanceof Bucket)) problems.add({ path, field: `buckets.${role}`, value: describeType(b), message: 'is not a Bucket', fix: 'pass buckets returned by the store\'s addBucket()' });
    }
    if (props.gpu !== undefined && (props.gpu === null || typeof props.gpu !== 'object')) {
      problems.add({ path, field: 'gpu', value: props.gpu, message: `is ${describeType(props.gpu)}, not GPU scheduling`, fix: 'give { nodeSelector, tolerations } of the GPU node pool, or leave gpu out' });
    } else if (props.gpu) {
      if (props.gpu.resourceName !== undefined) problems.addIf(checkExtendedResourceName(props.gpu.resourceName, { path, field: 'gpu.resourceName' }));
      if (props.gpu.nodeSelector !== undefined) checkLabels(props.gpu.nodeSelector, { path, field: 'gpu.nodeSelector' }).forEach((p) => problems.add(p));
      if (props.gpu.tolerations !== undefined) checkTolerations(props.gpu.tolerations, { path, field: 'gpu.tolerations' }).forEach((p) => problems.add(p));
      if (props.gpu.productLabel !== undefined) problems.addIf(checkLabelKey(props.gpu.productLabel, { path, field: 'gpu.productLabel' }, 'cloud.google.com/gke-accelerator'));
      const max = props.gpu.maxPerStep ?? this.quota.gpus;
      if (this.quota.gpus < 1) problems.add({ path, field: 'quota.gpus', value: this.quota.gpus, message: 'is 0 while GPU scheduling is configured', fix: 'set quota.gpus to the GPUs pipelines may use at once' });
      if (!Number.isInteger(max) || max < 1 || max > Math.max(this.quota.gpus, 1)) problems.add({ path, field: 'gpu.maxPerStep', value: max, message: 'must be a whole number from 1 to quota.gpus', fix: 'lower it to at most quota.gpus' });
      const resourceName = props.gpu.resourceName ?? 'nvidia.com/gpu';
      this.gpu = {
        resourceName,
        nodeSelector: { ...(props.gpu.nodeSelector ?? {}) },
        tolerations: props.gpu.tolerations ?? [{ key: resourceName, operator: 'Exists', effect: 'NoSchedule' }],
        productLabel: props.gpu.productLabel ?? GPU_PRODUCT_LABEL,
        maxPerStep: max,
      };
    }
    problems.throwIfAny(this);

    this.namespaceResource = new PlatformNamespace(this, 'Namespace', { name: this.namespace });
    const labels = componentLabels('pipeline-runner', this.namespace, 'pipeline-runner');
    this.connections = new Connections(this, 'Connections', { name: 'pipelines', namespace: this.namespace, podSelector: {}, labels });
    this.connections.allowToKubeApi(props.kubeApi);
    // the pipelines' own MLflow user (the tracking server refuses anonymous requests)
    if (props.trackingCredentials) {
      this.trackingCredentials = props.trackingCredentials;
      this.trackingCredentials.availableIn(this.namespace);
      this.connections.allowTo(props.trackingServer, props.trackingServer.endpoint.port);
    } else {
      this.trackingCredentials = props.trackingServer.grantUser(this, props.trackingUser ?? 'pipelines');
    }
    if (props.s3Credentials) {
      this.s3Credentials = props.s3Credentials;
      this.s3Credentials.availableIn(this.namespace);
      props.objectStore.connectFrom(this);
    } else {
      this.s3Credentials = props.objectStore.grantReadWrite(this, props.storageUser ?? 'pipelines', [...new Set(Object.values(this.buckets))]);
    }

    serviceAccount(this, 'ServiceAccount', { name: this.serviceAccountName, namespace: this.namespace, labels });
    serviceAccount(this, 'ExecutorServiceAccount', { name: this.executorServiceAccountName, namespace: this.namespace, labels, automountToken: true });
    // Step pods do not automount a token, so the controller mounts the executor's token from a Secret: the one the
    // account lists, else the one its `workflows.argoproj.io/service-account-token.name` annotation names, else
    // `<sa>.service-account-token` (argo-workflows v4.0.5 util/secrets/secret_name.go, used by
    // workflow/controller/workflowpod.go). Since Kubernetes 1.24 nobody creates it: we do, and the token controller
    // fills it. Without it every step pod waits for a volume that never comes.
    this.executorTokenSecretName = `${this.executorServiceAccountName}.service-account-token`;
    new k8s.KubeSecret(this, 'ExecutorToken', {
      metadata: { name: this.executorTokenSecretName, namespace: this.namespace, labels, annotations: { 'kubernetes.io/service-account.name': this.executorServiceAccountName } },
      type: 'kubernetes.io/service-account-token',
    });
    boundRole(this, 'Executor', {
      name: this.executorServiceAccountName,
      namespace: this.namespace,
      labels,
      // The emissary executor's documented minimum (argo-workflows docs/workflow-rbac.md).
      rules: [{ apiGroups: [ARGO_GROUP], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] }],
    });

    const gpuResource = this.gpu?.resourceName ?? 'nvidia.com/gpu';
    new k8s.KubeResourceQuota(this, 'Quota', {
      metadata: { name: 'pipelines', namespace: this.namespace, labels },
      spec: {
        hard: {
          'requests.cpu': k8s.Quantity.fromString(this.quota.cpu),
          'requests.memory': k8s.Quantity.fromString(this.quota.memory),
          'limits.memory': k8s.Quantity.fromString(this.quota.memoryLimit),
          [`requests.${gpuResource}`]: k8s.Quantity.fromNumber(this.quota.gpus),
          pods: k8s.Quantity.fromNumber(this.quota.pods),
        },
      },
    });
    // No GPU `max` in the LimitRange: the API server turns a `max` without a `default` into every container's
    // default limit and request (SetDefaults_LimitRangeItem), so every container, Argo's init and wait included,
    // would ask for GPUs. The per-step cap is an admission policy instead, which adds nothing to any pod.
    if (this.gpu) {
      const r = JSON.stringify(gpuResource);
      namespacedAdmissionPolicy(this, 'GpuPerStep', {
        name: `cd4ml-gpu-per-step.${this.namespace}`,
        namespace: this.namespace,
        labels,
        rules: [{ apiGroups: [''], resources: ['pods'], operations: ['CREATE'] }],
        validations: [{
          expression: `(object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])).all(c, !has(c.resources) || !has(c.resources.limits) || !(${r} in c.resources.limits) || quantity(string(c.resources.limits[${r}])).compareTo(quantity('${this.gpu.maxPerStep}')) <= 0)`,
          message: `a container asks for more than ${this.gpu.maxPerStep} ${gpuResource} (the pipeline runner's gpu.maxPerStep)`,
        }],
      });
    }
    new k8s.KubeLimitRange(this, 'Limits', {
      metadata: { name: 'pipelines', namespace: this.namespace, labels },
      spec: {
        limits: [
          {
            type: 'Container',
            defaultRequest: { cpu: k8s.Quantity.fromString(this.stepDefaults.cpu), memory: k8s.Quantity.fromString(this.stepDefaults.memory) },
            default: { memory: k8s.Quantity.fromString(this.stepDefaults.memoryLimit), ...(this.stepDefaults.cpuLimit ? { cpu: k8s.Quantity.fromString(this.stepDefaults.cpuLimit) } : {}) },
          },
        ],
      },
    });
    new k8s.KubeConfigMap(this, 'Defaults', {
      metadata: { name: this.defaultsConfigMapName, namespace: this.namespace, labels },
      data: this.defaultValues(),
    });
  }

  /**
   * Registers a memoization cache ConfigMap, which the workflow controller may then update (and no other). It lives
   * in the controller's namespace ({@link workflowControllerNamespace}), where Argo reads and writes caches.
   */
  public addCacheConfigMap(name: string): void {
    this.cacheMaps.add(name); // a Set: 30,000 pipelines stay linear
  }

  /**
   * The namespace of the workflow controller that runs this runner's pipelines, once a `WorkflowEngine` manages it.
   * Argo keeps memoization caches there, not in the workflow's namespace (argo-workflows v4.0.5
   * workflow/controller/controller.go `NewCacheFactory(kubeclientset, namespace)`, cache/configmap_cache.go).
   */
  public get workflowControllerNamespace(): string | undefined {
    return this.controllerNamespace;
  }

  /**
   * Called by the workflow controller that manages this runner's namespace (the `WorkflowEngine`'s, or a pipeline
   * domain's); refuses a second one.
   */
  public attachWorkflowController(namespace: string, by: string, instanceId?: string, controllerName = 'workflow-controller'): void {
    if (this.controllerNamespace !== undefined) {
      fail({ path: by, field: 'runner', value: this.node.path, message: `is already managed by the workflow controller ${this.controllerName} in ${this.controllerNamespace}`, fix: 'give each pipeline runner one workflow controller' }, this);
    }
    this.controllerNamespace = namespace;
    this.controllerInstanceId = instanceId;
    this.controllerName = controllerName;
  }

  /**
   * The name of a pipeline's memoization cache ConfigMap, in the controller's namespace: `<pipeline>-cache` for the
   * platform's controller, `<pipeline>-cache-<domain>` for a pipeline domain's (`workflow-controller-<domain>`), so the
   * same pipeline in two domains never shares a cache.
   */
  public cacheConfigMapName(pipeline: string): string {
    const suffix = this.controllerName === undefined || this.controllerName === 'workflow-controller' ? '' : `-${this.controllerName.replace(/^workflow-controller-/, '')}`;
    return `${pipeline}-cache${suffix}`;
  }

  /**
   * The labels the pipelines' Argo objects carry for the controller that manages this runner: its instance ID
   * (`workflows.argoproj.io/controller-instanceid`), when it has one.
   */
  public get workflowControllerLabels(): Record<string, string> {
    return this.controllerInstanceId === undefined ? {} : { [ARGO_INSTANCE_ID_LABEL]: this.controllerInstanceId };
  }

  /** Records a pipeline declared on this runner (by its WorkflowTemplate's name). */
  public addPipeline(name: string): void {
    this.pipelines.add(name);
  }

  /** Whether a pipeline of that name is declared on this runner. */
  public hasPipeline(name: string): boolean {
    return this.pipelines.has(name);
  }

  /** The memoization cache ConfigMaps of the pipelines (a copy). */
  public get cacheConfigMaps(): readonly string[] {
    return [...this.cacheMaps];
  }

  /**
   * Creates, once, the service account event senders authenticate as (a bucket notification, a model monitor):
   * it may list event bindings, read templates and create workflows in this namespace, nothing else. Kubernetes
   * fills its token Secret; no value is rendered.
   * @returns the name of the Secret holding the token (key `token`)
   */
  /** Whether any pipeline has an event trigger (and so the trigger account exists). */
  public get eventTriggersEnabled(): boolean {
    return this.triggerTokenSecret !== undefined;
  }

  public enableEventTriggers(): string {
    if (this.triggerTokenSecret) return this.triggerTokenSecret;
    const labels = componentLabels('pipeline-runner', this.namespace, 'event-trigger');
    const name = this.triggerServiceAccountName;
    serviceAccount(this, 'TriggerServiceAccount', { name, namespace: this.namespace, labels });
    boundRole(this, 'Trigger', {
      name,
      namespace: this.namespace,
      labels,
      // argo-workflows manifests/quick-start/base/webhooks/submit-workflow-template-role.yaml
      rules: [
        { apiGroups: [ARGO_GROUP], resources: ['workfloweventbindings'], verbs: ['list'] },
        { apiGroups: [ARGO_GROUP], resources: ['workflowtemplates'], verbs: ['get'] },
        { apiGroups: [ARGO_GROUP], resources: ['workflows'], verbs: ['create'] },
      ],
    });
    this.triggerTokenSecret = `${name}-token`;
    new k8s.KubeSecret(this, 'TriggerToken', {
      metadata: { name: this.triggerTokenSecret, namespace: this.namespace, labels, annotations: { 'kubernetes.io/service-account.name': name } },
      type: 'kubernetes.io/service-account-token',
    });
    return this.triggerTokenSecret;
  }

  /**
   * The environment every step inherits: the non-secret defaults by ConfigMap reference, the S3 credentials
   * by Secret reference. (Values are never copied into a step.)
   */
  public stepEnv(): k8s.EnvVar[] {
    const fromDefaults = (name: string): k8s.EnvVar => ({ name, valueFrom: { configMapKeyRef: { name: this.defaultsConfigMapName, key: name } } });
    return [
      fromDefaults('MLFLOW_TRACKING_URI'),
      fromDefaults('MLFLOW_S3_ENDPOINT_URL'),
      fromDefaults('AWS_DEFAULT_REGION'),
      ...Object.keys(this.buckets).map((role) => fromDefaults(bucketEnvName(role))),
      secretEnv('AWS_ACCESS_KEY_ID', this.s3Credentials, S3_ACCESS_KEY_ID),
      secretEnv('AWS_SECRET_ACCESS_KEY', this.s3Credentials, S3_SECRET_ACCESS_KEY),
      secretEnv(MLFLOW_USERNAME_KEY, this.trackingCredentials, MLFLOW_USERNAME_KEY),
      secretEnv(MLFLOW_PASSWORD_KEY, this.trackingCredentials, MLFLOW_PASSWORD_KEY),
    ];
  }

  /**
   * MLflow's usage telemetry switched off ({@link MLFLOW_TELEMETRY_OFF}), by reference to the defaults ConfigMap. The
   * workflow controller merges it into the main container of every step of every workflow in the namespace (its
   * `mainContainer` defaults), so it also holds for workflows not built with `Pipeline`.
   */
  public telemetryEnv(): k8s.EnvVar[] {
    return Object.keys(MLFLOW_TELEMETRY_OFF).map((name) => ({ name, valueFrom: { configMapKeyRef: { name: this.defaultsConfigMapName, key: name } } }));
  }

  private defaultValues(): Record<string, string> {
    const data: Record<string, string> = {
      MLFLOW_TRACKING_URI: this.trackingServer.endpoint.url(),
      MLFLOW_S3_ENDPOINT_URL: this.objectStore.endpoint.url(),
      AWS_DEFAULT_REGION: this.objectStore.region,
      ...MLFLOW_TELEMETRY_OFF,
    };
    for (const [role, b] of Object.entries(this.buckets)) data[bucketEnvName(role)] = b.name;
    return data;
  }
}
