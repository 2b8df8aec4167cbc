import { ApiObject } from 'cdk8s';
import { k8s, ServiceAccount } from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import {
  checkDnsLabel, checkDnsSubdomain, checkDuration, checkImage, checkNamespace, checkNoNulls, checkPort, checkPropsObject, checkResources, ContainerResources,
  DELIVERY_ENVIRONMENTS, describeType, EnvironmentName, isPlainObject, parseDuration, Problems, Quantity, QuantityKind, snapshot,
} from '../../lib';
import { DefaultImages } from '../k8s/images';
import { componentLabels } from '../k8s/labels';
import { checkPeers, Connections, NetworkPeer } from '../k8s/network';
import { PlatformNamespace } from '../k8s/namespace';
import { restrictedContainerSecurityContext, restrictedPodSecurityContext, resourceRequirements } from '../k8s/pod-security';

/** Requests and limits as plain JSON (Argo templates and the Job manifest are not L1 objects). */
function plainResources(r: ContainerResources): Record<string, Record<string, string>> {
  return { requests: { cpu: r.cpu, memory: r.memory }, limits: { memory: r.memoryLimit, ...(r.cpuLimit !== undefined ? { cpu: r.cpuLimit } : {}) } };
}
import { readScript } from '../k8s/script';
import { ISecret, secretEnv } from '../k8s/secret';
import { boundRole, containerPorts, deployment, serviceAccount } from '../k8s/workload';
import { Pipeline } from '../pipelines';
import { ARGO_API_VERSION, ARGO_GROUP, ARGO_INSTANCE_ID_LABEL, MLFLOW_PASSWORD_KEY, MLFLOW_USERNAME_KEY, PipelineRunner, Platform } from '../platform';
import { ModelEndpoint } from './model-endpoint';
import { DeliveryTriggers } from './triggers';

/** The keys a Git credential Secret holds: a user name and a password or token (HTTPS). */
export const GIT_USERNAME_KEY = 'username';
/** The password or access token of a Git credential Secret. */
export const GIT_PASSWORD_KEY = 'password';
/** The key of a registry credential Secret (type `kubernetes.io/dockerconfigjson`). */
export const REGISTRY_CONFIG_KEY = '.dockerconfigjson';

/** How a {@link Builder} builds the step image. */
export enum BuilderKind {
  /** Append the code as one layer to a pinned base image with crane: no build steps, no root, Pod Security "restricted". */
  CRANE = 'crane',
  /** Build a Dockerfile with kaniko: root with default capabilities, so only in a build namespace at Pod Security "baseline". */
  KANIKO = 'kaniko',
}

/** Props of {@link Builder.crane}. */
export interface CraneBuilderProps {
  /**
   * The image the code layer goes on, pinned by tag or digest; it holds everything but the code (the Python, the
   * libraries). For the seed, the examples image the environment's pipelines run.
   */
  readonly base: string;
  /** The directory of the repository that becomes the layer, relative to its root. @default 'examples/cd4ml_examples' */
  readonly context?: string;
  /** Where that directory lands in the image (an absolute path). @default '/app/cd4ml_examples' */
  readonly path?: string;
  /** The crane image with a shell. @default DefaultImages.CRANE */
  readonly image?: string;
  /** Requests and limits of the build step. @default 100m / 256Mi, limit 512Mi */
  readonly resources?: ContainerResources;
}

/** Props of {@link Builder.kaniko}. */
export interface KanikoBuilderProps {
  /**
   * The build namespace: labelled Pod Security "baseline" (kaniko needs root with the default capabilities), default-deny
   * networking with egress only to the delivery's `egress` peers on its `egressPorts` (by default any address on 443:
   * the Git host and the registry), and nothing else runs there. Not the CI namespace or one of the platform's.
   * @default 'cd4ml-build'
   */
  readonly namespace?: string;
  /** The Dockerfile, relative to the context. @default 'Dockerfile' */
  readonly dockerfile?: string;
  /** The build context, a directory of the repository. @default 'examples' */
  readonly context?: string;
  /** The kaniko executor image. @default DefaultImages.KANIKO */
  readonly image?: string;
  /** Requests and limits of the build. @default 500m / 1Gi, limit 4Gi */
  readonly resources?: ContainerResources;
  /** Render the build namespace. `false` when something else renders it. @default true */
  readonly createNamespace?: boolean;
}

/**
 * How the delivery builds the step image and records its digest. {@link Builder.crane} runs in the CI namespace at Pod
 * Security "restricted"; {@link Builder.kaniko} runs a Job in a build namespace at "baseline", the only place it may.
 */
export class Builder {
  /** Appends the repository's code to a pinned base image (crane append) and pushes it. */
  public static crane(props: CraneBuilderProps): Builder {
    return new Builder(BuilderKind.CRANE, isPlainObject(props) ? snapshot(props) as unknown as Record<string, unknown> : { invalid: props });
  }

  /** Builds the repository's Dockerfile with kaniko in a build namespace of its own. */
  public static kaniko(props: KanikoBuilderProps = {}): Builder {
    return new Builder(BuilderKind.KANIKO, isPlainObject(props) ? snapshot(props) as unknown as Record<string, unknown> : { invalid: props });
  }

  private constructor(
    /** Which builder. */
    public readonly kind: BuilderKind,
    /** Its props, as given. */
    public readonly props: Readonly<Record<string, unknown>>,
  ) {}
}

/** Where and how one environment is delivered to. */
export interface DeliveryEnvironment {
  /** The environment's model endpoint, which the deploy step rolls to the promoted version. */
  readonly endpoint: ModelEndpoint;
  /**
   * The gate: the candidate's run must have logged `metric` at least `minimum`, and beat the current champion's by
   * `minImprovement` (ties pass at 0).
   */
  readonly gate: {
    /** The metric the candidate's MLflow run logged, e.g. `roc_auc`. */
    readonly metric: string;
    /** The least value that passes. @default - no floor */
    readonly minimum?: number;
    /** How much the candidate must beat the champion by. @default 0 */
    readonly minImprovement?: number;
  };
  /**
   * The registry alias the environment serves (MLflow 3 aliases; stages are deprecated). Environments that share an
   * MLflow need their own aliases.
   * @default 'champion'
   */
  readonly alias?: string;
  /** Wait for a person's approval (an Argo suspend step, `argo resume`) before promoting. @default - true for prod only */
  readonly approval?: boolean;
  /**
   * The pipeline runner whose namespace the version is registered and run in. It must declare the delivered pipeline:
   * the render step takes the template synthesized for its namespace.
   * @default - the runner of the platform's pipeline domain of the environment's name (`platform.domain(env)`), else
   * the platform's pipeline runner
   */
  readonly runner?: PipelineRunner;
}

/** Props of {@link Delivery}. */
export interface DeliveryProps {
  /** The platform: its MLflow, its Argo executor image and its API server access. */
  readonly platform: Platform;
  /** The triggers: the CI namespace, the template name and the environments their ref rules deliver to. */
  readonly triggers: DeliveryTriggers;
  /**
   * The pipeline to deliver: its WorkflowTemplate's name in the repository's synthesized output
   * (`<outputDir>/<environment>/pipelines/`), or the Pipeline itself when it is declared in this app.
   */
  readonly pipeline: Pipeline | string;
  /** The step that registers the candidate model, and its output holding the version. */
  readonly candidate: {
    /** The step's name, e.g. `train-model`. */
    readonly step: string;
    /** The output parameter holding the registered version. @default 'model_version' */
    readonly output?: string;
  };
  /**
   * The repository the build pushes the step image to, without tag or digest (`registry.example/team/churn`); each
   * build is tagged with the commit and used by digest.
   */
  readonly image: string;
  /** How the image is built. */
  readonly builder: Builder;
  /** The environments delivered to, each with its endpoint and gate; exactly those the triggers' ref rules name. */
  readonly environments: Partial<Record<EnvironmentName, DeliveryEnvironment>>;
  /**
   * The Git credential for the checkout (HTTPS): a Secret in the CI namespace with the keys `username` and
   * `password` (an access token), never rendered.
   * @default - no credential: a public repository
   */
  readonly gitCredentials?: ISecret;
  /**
   * The registry credential for the push (and the kaniko base image pull): a `kubernetes.io/dockerconfigjson` Secret
   * (key `.dockerconfigjson`) in the CI namespace (and the build namespace), never rendered.
   * @default - no credential: a registry that takes anonymous pushes (the sandbox's)
   */
  readonly registryCredentials?: ISecret;
  /** Push to and pull from the registry over plain HTTP (the sandbox's k3d registry). @default false */
  readonly insecureRegistry?: boolean;
  /**
   * Where the Git host, the package registry and the image registry are: the checkout, test and build steps may reach
   * these peers on `egressPorts`, nothing else outside the cluster.
   * @default - any address (0.0.0.0/0)
   */
  readonly egress?: NetworkPeer[];
  /** The ports of `egress`. @default [443] */
  readonly egressPorts?: number[];
  /** The image the checkout, test and render steps run (it needs git and node). @default DefaultImages.NODE */
  readonly toolsImage?: string;
  /**
   * The test step's commands, run one after another with `sh -ec` in the checkout; `$CD4ML_ENVIRONMENT` is the
   * environment delivered to, `$CD4ML_OUTPUT_ENVIRONMENT` the one whose output holds the cluster's pipelines. They must
   * leave the synthesized output in `<outputDir>/<outputEnvironment>`.
   * @default ['npm ci', 'npm test', 'npm run synth -- "$CD4ML_OUTPUT_ENVIRONMENT"', 'npx --no-install cd4ml validate "<outputDir>/$CD4ML_OUTPUT_ENVIRONMENT"']
   */
  readonly testCommands?: string[];
  /** Requests and limits of the test step. @default 1 CPU / 2Gi, limit 4Gi */
  readonly testResources?: ContainerResources;
  /** Where the test step leaves the synthesized output, relative to the repository. @default 'dist' */
  readonly outputDir?: string;
  /**
   * The environment whose synthesized output holds this cluster's pipelines: the render step reads
   * `<outputDir>/<outputEnvironment>/pipelines`, and the test step gets it as `$CD4ML_OUTPUT_ENVIRONMENT`. On a sandbox
   * whose one platform serves all three domains, `'sandbox'`; with one cluster per environment, that environment's own.
   * @default - the environment delivered to
   */
  readonly outputEnvironment?: string;
  /** Size of the workspace volume the steps share (the checkout, its dependencies, the build). @default '4Gi' */
  readonly workspaceSize?: string;
  /** Storage class of the workspace volume. @default - the cluster's default class */
  readonly workspaceStorageClassName?: string;
  /** The longest a delivery may take, approval included (Argo's activeDeadlineSeconds). @default '6h' */
  readonly timeout?: string;
  /** The longest the pipeline run may take. @default '2h' */
  readonly runTimeout?: string;
  /** The longest the endpoint's rollout may take. @default '10m' */
  readonly rolloutTimeout?: string;
}

const KNOWN_PROPS = [
  'platform', 'triggers', 'pipeline', 'candidate', 'image', 'builder', 'environments', 'gitCredentials', 'registryCredentials', 'insecureRegistry',
  'egress', 'egressPorts', 'toolsImage', 'testCommands', 'testResources', 'outputDir', 'outputEnvironment', 'workspaceSize', 'workspaceStorageClassName', 'timeout',
  'runTimeout', 'rolloutTimeout',
];

/** An image repository without tag or digest. */
const REPOSITORY = /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$|^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]{1,5})\/[a-z0-9]+([._-][a-z0-9]+)*$/;
/** A relative directory of the repository, in plain characters (it is written into a shell script). */
const REPO_DIR = /^(\.|[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*)$/;
/** An absolute path in an image. */
const IMAGE_PATH = /^(\/[A-Za-z0-9_][A-Za-z0-9._-]*)+$/;
/** An MLflow alias: letters, digits, `_` and `-`, not starting like a version (`v1`) MLflow reserves. */
const ALIAS = /^[A-Za-z_][A-Za-z0-9_-]{0,254}$/;
/** An MLflow metric key, as the gate passes it. */
const METRIC = /^[A-Za-z0-9_.\-/ ]{1,250}$/;
/** A step or output name of a pipeline. */
const STEP_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const OUTPUT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The label naming what a delivery step's pod talks to (`source`, `registry`, `kube`, `deploy`): its NetworkPolicy. */
const STEP_LABEL = 'cd4ml.io/delivery-step';

/** The uid the delivery's pods run as. */
const UID = 1000;
const SCRIPTS_MOUNT = '/opt/cd4ml';
const WORKSPACE = '/workspace';
const BUILD_JOB_MOUNT = '/opt/cd4ml-build';

/** The delivery WorkflowTemplate of an environment: `<templateName>-<environment>` (what the triggers submit). */
export function deliveryTemplateName(templateName: string, environment: string): string {
  return `${templateName}-${environment}`;
}

/**
 * Level-2 continuous delivery: one Argo WorkflowTemplate per environment in the CI namespace, which the
 * {@link DeliveryTriggers} submit on a verified push, and a workflow controller of its own there.
 *
 * A delivery checks out the exact commit of the push (`git fetch <sha>`, with the Git credential), runs the
 * repository's tests and validates its synthesized output, builds the step image and records its digest, renders the
 * pipeline's WorkflowTemplate for that commit (the image pinned by digest, named and labelled after the commit),
 * registers it in the environment's pipeline namespace (an existing version is never changed), runs it and waits,
 * gates the model version it registered against the environment's champion, waits for an approval where asked (prod),
 * promotes the version (the MLflow alias, tagged with commit, image and time), and rolls the environment's
 * {@link ModelEndpoint} to that exact version, smoke-tests it with the model's input example and, on failure, rolls
 * the endpoint and the alias back. The run's output is the endpoint's URL.
 *
 * Each environment has its own service accounts (never shared): one without token for the steps that need no API,
 * one for the Argo executor, one that may only create and read WorkflowTemplates and Workflows in the environment's
 * pipeline namespace, and one that may only roll the environment's endpoint. At most one delivery per environment runs
 * at a time (an Argo mutex), and a redelivered webhook starts none (the triggers name runs after the commit).
 */
export class Delivery extends Construct {
  /** The CI namespace. */
  public readonly namespace: string;
  /** The environments delivered to, in the order dev, staging, prod. */
  public readonly environments: readonly EnvironmentName[];
  /** The delivery WorkflowTemplates, by environment. */
  public readonly templates: ReadonlyMap<EnvironmentName, ApiObject>;
  /** The build namespace (kaniko only). */
  public readonly buildNamespace?: string;
  /** Name of the Role that lets a person approve (resume) a waiting delivery; bind it to your reviewers. */
  public readonly approverRoleName: string;
  /** The CI namespace's workflow controller Deployment (escape hatch). */
  public readonly controllerDeployment: ApiObject;

  public constructor(scope: Construct, id: string, props: DeliveryProps) {
    super(scope, id);
    const path = this.node.path;
    const problems = new Problems();
    const notProps = checkPropsObject(props, { path, field: 'props' }, '{ platform, triggers, pipeline, candidate, image, builder, environments }');
    if (notProps) problems.add(notProps);
    const given: Partial<DeliveryProps> = isPlainObject(props) ? snapshot(props) : {};
    checkNoNulls(given, path, ['platform', 'triggers', 'pipeline', 'candidate', 'image', 'builder', 'environments']).forEach((p) => problems.add(p));
    for (const key of Object.keys(given)) {
      if (!KNOWN_PROPS.includes(key)) problems.add({ path, field: key, value: describeType((given as Record<string, unknown>)[key]), message: 'is not a prop of Delivery', fix: `use ${KNOWN_PROPS.join(', ')}` });
    }
    const platform = given.platform;
    if (!(platform instanceof Platform)) problems.add({ path, field: 'platform', value: describeType(platform), message: 'is not a Platform', fix: 'pass the platform whose MLflow serves the registry: { platform }' });
    const triggers = given.triggers;
    if (!(triggers instanceof DeliveryTriggers)) problems.add({ path, field: 'triggers', value: describeType(triggers), message: 'is not a DeliveryTriggers', fix: 'pass the DeliveryTriggers that submit the delivery: { triggers }' });

    // the required props a JavaScript caller may leave out (null is reported by checkNoNulls above)
    const examples: Record<string, string> = {
      pipeline: 'the Pipeline, or its WorkflowTemplate\'s name, e.g. "breast-cancer"', candidate: '{ step: "train-model", output: "model_version" }',
      environments: '{ staging: { endpoint, gate: { metric: "roc_auc" } } }',
    };
    for (const [field, example] of Object.entries(examples)) {
      if ((given as Record<string, unknown>)[field] === undefined) problems.add({ path, field, value: undefined, message: 'is missing', fix: `give ${example}` });
    }

    // the pipeline and its candidate step
    const pipelineName = checkPipeline(problems, path, given.pipeline, given.candidate);
    const candidateStep = isPlainObject(given.candidate) && typeof given.candidate.step === 'string' ? given.candidate.step : '';
    const candidateOutput = isPlainObject(given.candidate) && typeof given.candidate.output === 'string' ? given.candidate.output : 'model_version';

    // the image and the builder
    if (typeof given.image !== 'string' || !REPOSITORY.test(given.image)) {
      problems.add({ path, field: 'image', value: given.image, message: 'is not an image repository without tag or digest', fix: 'give where the build pushes, e.g. "registry.example/team/churn" (each build is tagged with its commit)' });
    }
    const builder = given.builder;
    if (!(builder instanceof Builder)) problems.add({ path, field: 'builder', value: describeType(builder), message: 'is not a Builder', fix: 'use Builder.crane({ base: "<the pinned base image>" }) or Builder.kaniko()' });
    else checkBuilder(problems, path, builder);

    // the environments, against the triggers' rules
    const envs = checkEnvironments(problems, path, given.environments, triggers instanceof DeliveryTriggers ? triggers : undefined, platform instanceof Platform ? platform : undefined, given.pipeline);

    // the rest
    if (given.gitCredentials !== undefined) checkSecret(problems, path, 'gitCredentials', given.gitCredentials, [GIT_USERNAME_KEY, GIT_PASSWORD_KEY], "SecretRef.fromSecretName('git-credentials', ['username', 'password'])");
    if (given.registryCredentials !== undefined) checkSecret(problems, path, 'registryCredentials', given.registryCredentials, [REGISTRY_CONFIG_KEY], "SecretRef.fromSecretName('registry-credentials', ['.dockerconfigjson'])");
    if (given.insecureRegistry !== undefined && typeof given.insecureRegistry !== 'boolean') problems.add({ path, field: 'insecureRegistry', value: given.insecureRegistry, message: `is ${describeType(given.insecureRegistry)}, not true or false`, fix: 'give true for a plain-HTTP registry (the sandbox\'s), else leave it out' });
    if (given.egress !== undefined) checkPeers(given.egress, { path, field: 'egress' }).forEach((p) => problems.add(p));
    const egressPorts = given.egressPorts ?? [443];
    if (!Array.isArray(egressPorts) || egressPorts.length === 0) problems.add({ path, field: 'egressPorts', value: describeType(egressPorts), message: 'is not a non-empty list of ports', fix: 'give the ports, e.g. [443] (or [443, 5000] for a sandbox registry)' });
    else egressPorts.forEach((port, i) => problems.addIf(checkPort(port, { path, field: `egressPorts[${i}]` })));
    const toolsImage = given.toolsImage ?? DefaultImages.NODE;
    problems.addIf(checkImage(toolsImage, { path, field: 'toolsImage' }));
    const outputDir = given.outputDir ?? 'dist';
    if (typeof outputDir !== 'string' || !REPO_DIR.test(outputDir) || outputDir === '.') problems.add({ path, field: 'outputDir', value: outputDir, message: 'is not a directory of the repository', fix: 'give a relative path, e.g. "dist"' });
    const testCommands = given.testCommands ?? ['npm ci', 'npm test', 'npm run synth -- "$CD4ML_OUTPUT_ENVIRONMENT"', `npx --no-install cd4ml validate "${typeof outputDir === 'string' ? outputDir : 'dist'}/$CD4ML_OUTPUT_ENVIRONMENT"`];
    const outputEnvironment = given.outputEnvironment;
    if (outputEnvironment !== undefined) problems.addIf(checkDnsLabel(outputEnvironment, { path, field: 'outputEnvironment' }));
    if (Array.isArray(testCommands) && testCommands.some((c) => typeof c === 'string' && c.includes('{{'))) {
      problems.add({ path, field: 'testCommands', value: testCommands.find((c) => c.includes('{{')), message: 'holds "{{", which Argo would read as one of its expressions', fix: 'read the environment from $CD4ML_ENVIRONMENT and the commit from git, e.g. "git rev-parse HEAD"' });
    }
    if (!Array.isArray(testCommands) || testCommands.length === 0 || testCommands.some((c) => typeof c !== 'string' || c.trim() === '' || c.includes('\n'))) {
      problems.add({ path, field: 'testCommands', value: Array.isArray(testCommands) ? testCommands.map(describeType) : describeType(testCommands), message: 'is not a non-empty list of one-line commands', fix: 'give the commands, e.g. ["npm ci", "npm test"]' });
    }
    const testResources = given.testResources ?? { cpu: '1', memory: '2Gi', memoryLimit: '4Gi' };
    checkResources(problems, testResources, path, 'testResources');
    const workspaceSize = given.workspaceSize ?? '4Gi';
    problems.addIf(Quantity.check(workspaceSize, QuantityKind.BYTES, { path, field: 'workspaceSize' }));
    if (given.workspaceStorageClassName !== undefined) problems.addIf(checkDnsSubdomain(given.workspaceStorageClassName, { path, field: 'workspaceStorageClassName' }));
    const timeout = durationSeconds(problems, path, 'timeout', given.timeout ?? '6h');
    const runTimeout = durationSeconds(problems, path, 'runTimeout', given.runTimeout ?? '2h');
    const rolloutTimeout = durationSeconds(problems, path, 'rolloutTimeout', given.rolloutTimeout ?? '10m');
    // kaniko's namespace admits root pods and its policy selects every pod there: never one that holds anything else
    if (builder instanceof Builder && builder.kind === BuilderKind.KANIKO && typeof builder.props.namespace === 'string') {
      const taken = [...(triggers instanceof DeliveryTriggers ? [triggers.namespace] : []), ...(platform instanceof Platform ? platform.namespaces : [])];
      if (taken.includes(builder.props.namespace)) problems.add({ path, field: 'builder.namespace', value: builder.props.namespace, message: 'is the CI namespace or one of the platform\'s, where kaniko\'s root pods and open policy would reach what else runs there', fix: 'give the build a namespace of its own, e.g. "cd4ml-build"' });
    }
    problems.throwIfAny(this);

    // --- checked: build on the values that passed ------------------------------------------------------------
    const p = platform as Platform;
    const t = triggers as DeliveryTriggers;
    const image = given.image as string;
    const b = builder as Builder;
    this.namespace = t.namespace;
    this.environments = DELIVERY_ENVIRONMENTS.filter((e) => envs.has(e));
    const labels = componentLabels('cd4ml-delivery', t.templateName, 'delivery');
    const kubeApi = p.kubeApi;
    const tracking = p.trackingServer;
    const insecure = given.insecureRegistry ?? false;

    // the scripts every Python step runs, as one ConfigMap of a fixed name: a GitOps tool prunes an object the output
    // no longer holds, so a name that changed with the scripts would pull them from under a delivery waiting for its
    // approval; an update reaches the pods a delivery starts after it
    const scripts = { 'delivery.py': readScript(__dirname, 'delivery.py'), 'promote.py': readScript(__dirname, 'promote.py') };
    const scriptsName = `${t.templateName}-scripts`;
    new k8s.KubeConfigMap(this, 'Scripts', { metadata: { name: scriptsName, namespace: this.namespace, labels }, data: scripts });

    // --- the CI namespace's own workflow controller ------------------------------------------------------------
    this.controllerDeployment = this.controller(p, labels, kubeApi);

    // --- network: who may reach what (the namespace denies everything else) ----------------------------------------
    const roleLabel = STEP_LABEL;
    const connections = (role: string) => new Connections(this, `Connections-${role}`, {
      name: `${t.templateName}-${role}`, namespace: this.namespace, podSelector: { 'app.kubernetes.io/part-of': 'cd4ml', [roleLabel]: role }, labels,
    });
    const source = connections('source');
    const registry = connections('registry');
    const kube = connections('kube');
    const deploy = connections('deploy');
    for (const c of [source, registry, kube, deploy]) c.allowToKubeApi(kubeApi ?? {}); // the Argo executor's wait container reports results
    for (const peer of given.egress ?? [NetworkPeer.cidr('0.0.0.0/0')]) for (const port of egressPorts) source.allowEgress(peer, port);
    for (const c of [registry, deploy]) tracking.connections.allowFrom({ connections: c }, tracking.endpoint.port);

    // the approver: may resume (or stop) a waiting delivery, nothing else
    this.approverRoleName = `${t.templateName}-approver`;
    new k8s.KubeRole(this, 'ApproverRole', {
      metadata: { name: this.approverRoleName, namespace: this.namespace, labels },
      rules: [
        { apiGroups: [ARGO_GROUP], resources: ['workflows'], verbs: ['get', 'list', 'watch', 'update', 'patch'] },
        { apiGroups: [''], resources: ['pods', 'pods/log'], verbs: ['get', 'list', 'watch'] },
      ],
    });

    // the build namespace, for kaniko
    const kaniko = b.kind === BuilderKind.KANIKO ? this.buildNamespaceFor(t.templateName, b, labels, given.egress, egressPorts, given.registryCredentials, given.gitCredentials, insecure) : undefined;
    this.buildNamespace = kaniko?.namespace;

    const templates = new Map<EnvironmentName, ApiObject>();
    for (const env of this.environments) {
      const e = envs.get(env) as Required<Pick<DeliveryEnvironment, 'endpoint' | 'gate' | 'alias' | 'approval'>> & { runner: PipelineRunner };
      templates.set(env, this.environmentTemplate({
        env, e, p, t, labels, image, builder: b, kaniko, insecure, toolsImage, outputDir, outputEnvironment: outputEnvironment ?? env, testCommands, testResources, workspaceSize,
        storageClassName: given.workspaceStorageClassName, timeout, runTimeout, rolloutTimeout, scriptsName, pipelineName, candidateStep, candidateOutput,
        gitCredentials: given.gitCredentials, registryCredentials: given.registryCredentials, deployConnections: deploy,
      }));
    }
    this.templates = templates;
    given.gitCredentials?.availableIn(this.namespace);
    given.registryCredentials?.availableIn(this.namespace);

    // namespace first, then what lives in it; the Argo kinds after their CRDs
    const ns = t.namespaceResource?.resource;
    for (const obj of this.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject)) {
      if (ns && obj.metadata.namespace === this.namespace) obj.node.addDependency(ns);
      if (kaniko?.resource && obj !== kaniko.resource && obj.metadata.namespace === kaniko.namespace) obj.node.addDependency(kaniko.resource);
    }
    for (const tpl of templates.values()) for (const crd of p.argoCrds?.resources ?? []) tpl.node.addDependency(crd);
  }

  /** The WorkflowTemplate of one environment, its service accounts and their grants. */
  private environmentTemplate(o: TemplateInputs): ApiObject {
    const { env, e, p, t } = o;
    const ns = this.namespace;
    const name = deliveryTemplateName(t.templateName, env);
    const envLabels = { ...o.labels, 'cd4ml.io/environment': env };
    const runner = e.runner;
    const endpoint = e.endpoint;

    // --- one set of service accounts per environment, never shared ------------------------------------------------
    const sa = {
      steps: `${name}`,
      executor: `${name}-executor`,
      pipeline: `${name}-pipeline`,
      deploy: `${name}-deploy`,
      build: `${name}-build`,
    };
    serviceAccount(this, `${env}StepsAccount`, { name: sa.steps, namespace: ns, labels: envLabels, automountToken: false });
    serviceAccount(this, `${env}ExecutorAccount`, { name: sa.executor, namespace: ns, labels: envLabels, automountToken: false });
    // the controller mounts the executor's token from this Secret into each pod's Argo containers (workflowpod.go
    // setupServiceAccount, getServiceAccountTokenName: `<account>.service-account-token`)
    new k8s.KubeSecret(this, `${env}ExecutorToken`, {
      metadata: { name: `${sa.executor}.service-account-token`, namespace: ns, labels: envLabels, annotations: { 'kubernetes.io/service-account.name': sa.executor } },
      type: 'kubernetes.io/service-account-token',
    });
    boundRole(this, `${env}Executor`, { name: sa.executor, namespace: ns, labels: envLabels, rules: [
      { apiGroups: [ARGO_GROUP], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] },
    ] });
    // register and run: create and read WorkflowTemplates and Workflows in the environment's pipeline namespace; no
    // update, patch or delete, so a registered version is never changed and a run never stopped by the delivery
    serviceAccount(this, `${env}PipelineAccount`, { name: sa.pipeline, namespace: ns, labels: envLabels, automountToken: true });
    // (named after the CI namespace too: deliveries from two CI namespaces may target one pipeline namespace)
    boundRole(this, `${env}Pipeline`, { name: `${name}-pipeline-${ns}`, namespace: runner.namespace, labels: envLabels, subject: { name: sa.pipeline, namespace: ns }, rules: [
      { apiGroups: [ARGO_GROUP], resources: ['workflowtemplates', 'workflows'], verbs: ['create', 'get'] },
    ] });
    // deploy: roll the endpoint (a Role on that one Deployment and an admission policy on the one env value)
    serviceAccount(this, `${env}DeployAccount`, { name: sa.deploy, namespace: ns, labels: envLabels, automountToken: true });
    endpoint.grantRollout(ServiceAccount.fromServiceAccountName(this, `${env}DeployAccountRef`, sa.deploy, { namespaceName: ns }));
    endpoint.connections.allowFrom({ connections: o.deployConnections }, endpoint.endpoint.port);
    // the MLflow user the registry steps act as: the environment's pipelines' own, which manages the models they register
    const mlflow = runner.trackingCredentials;
    mlflow.availableIn(ns);
    if (o.kaniko) {
      serviceAccount(this, `${env}BuildAccount`, { name: sa.build, namespace: ns, labels: envLabels, automountToken: true });
      boundRole(this, `${env}Build`, { name: `${name}-build-${ns}`, namespace: o.kaniko.namespace, labels: envLabels, subject: { name: sa.build, namespace: ns }, rules: [
        { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
      ] });
    }

    // --- the steps ---------------------------------------------------------------------------------------------------
    const param = (n: string) => `{{workflow.parameters.${n}}}`;
    const out = (step: string, n: string) => `{{tasks.${step}.outputs.parameters.${n}}}`;
    const workspaceMount = { name: 'workspace', mountPath: WORKSPACE };
    const tmpMount = { name: 'tmp', mountPath: '/tmp' };
    const scriptsMount = { name: 'scripts', mountPath: SCRIPTS_MOUNT, readOnly: true };
    const mlflowEnv = [
      { name: 'MLFLOW_TRACKING_URI', value: p.trackingServer.endpoint.url() },
      secretEnv(MLFLOW_USERNAME_KEY, mlflow, MLFLOW_USERNAME_KEY),
      secretEnv(MLFLOW_PASSWORD_KEY, mlflow, MLFLOW_PASSWORD_KEY),
    ];
    const baseEnv = [{ name: 'HOME', value: '/tmp' }, { name: 'CD4ML_ENVIRONMENT', value: env }, { name: 'CD4ML_OUTPUT_ENVIRONMENT', value: o.outputEnvironment }];
    const container = (c: { image: string; command: string[]; args?: string[]; env?: k8s.EnvVar[]; resources: ContainerResources; mounts: k8s.VolumeMount[]; workingDir?: string }) => ({
      name: 'main', image: c.image, imagePullPolicy: 'IfNotPresent', command: c.command, args: c.args, workingDir: c.workingDir,
      env: [...baseEnv, ...(c.env ?? [])], resources: plainResources(c.resources), securityContext: restrictedContainerSecurityContext(), volumeMounts: c.mounts,
    });
    const stepMeta = (role: string) => ({ labels: { 'app.kubernetes.io/part-of': 'cd4ml', [STEP_LABEL]: role, 'cd4ml.io/environment': env } });
    const outputs = (...names: string[]) => ({ parameters: names.map((n) => ({ name: n, valueFrom: { path: `/tmp/outputs/${n}` } })) });
    const small: ContainerResources = { cpu: '50m', memory: '128Mi', memoryLimit: '256Mi' };
    const python = DefaultImages.PYTHON;
    const gitEnv = o.gitCredentials ? [secretEnv('GIT_USERNAME', o.gitCredentials, GIT_USERNAME_KEY), secretEnv('GIT_PASSWORD', o.gitCredentials, GIT_PASSWORD_KEY)] : [];
    const revisionEnv = [{ name: 'CD4ML_REVISION', value: param('revision') }, { name: 'CD4ML_REPOSITORY', value: param('repository') }];

    // A leaf template reads other tasks' outputs only as its own inputs, which its DAG task passes as arguments
    // (Argo resolves `{{tasks.*}}` in the DAG, and refuses it inside a template: the real controller says so)
    const templates: Array<Record<string, unknown>> = [];
    const steps: Array<Record<string, unknown> & { name: string }> = [];
    const input = (n: string) => `{{inputs.parameters.${n}}}`;
    const add = (tpl: Record<string, unknown>, args: Record<string, string> = {}) => {
      const names = Object.keys(args);
      templates.push(names.length ? { ...tpl, inputs: { parameters: names.map((name) => ({ name })) } } : tpl);
      steps.push({ name: tpl.name as string, template: tpl.name as string, ...(names.length ? { arguments: { parameters: names.map((name) => ({ name, value: args[name] })) } } : {}) });
    };

    // 1. checkout: the exact commit of the push, never a branch head
    add({
      name: 'checkout', metadata: stepMeta('source'), activeDeadlineSeconds: 900,
      retryStrategy: { limit: 2, retryPolicy: 'Always', backoff: { duration: '10s', factor: 2 } },
      container: container({ image: o.toolsImage, command: ['sh', '-ec', CHECKOUT_SCRIPT], env: [...revisionEnv, ...gitEnv], resources: { cpu: '100m', memory: '256Mi', memoryLimit: '512Mi' }, mounts: [workspaceMount, tmpMount] }),
    });
    // 2. test: the repository's tests and the validation of its synthesized output
    add({
      name: 'test', metadata: stepMeta('source'),
      container: container({ image: o.toolsImage, command: ['sh', '-ec', o.testCommands.map((c) => `echo "+ ${c.replace(/["\\$`]/g, '\\$&')}"\n${c}`).join('\n')], env: [{ name: 'CI', value: 'true' }, { name: 'NPM_CONFIG_CACHE', value: `${WORKSPACE}/.npm` }], resources: o.testResources, mounts: [workspaceMount, tmpMount], workingDir: `${WORKSPACE}/src` }),
    });
    // 3. build: the step image, tagged with the commit; its digest is what the pipeline runs
    const destination = `${o.image}:{{workflow.parameters.revision}}`;
    if (o.builder.kind === BuilderKind.CRANE) {
      const c = o.builder.props as unknown as CraneBuilderProps;
      add({
        name: 'build', metadata: stepMeta('source'), outputs: outputs('digest'),
        retryStrategy: { limit: 2, retryPolicy: 'Always', backoff: { duration: '10s', factor: 2 } },
        container: container({
          image: c.image ?? DefaultImages.CRANE, command: ['/busybox/sh', '-ec', CRANE_SCRIPT],
          env: [
            { name: 'CD4ML_BASE', value: c.base }, { name: 'CD4ML_CONTEXT', value: c.context ?? 'examples/cd4ml_examples' }, { name: 'CD4ML_PATH', value: c.path ?? '/app/cd4ml_examples' },
            { name: 'CD4ML_DESTINATION', value: destination }, { name: 'CD4ML_INSECURE', value: o.insecure ? '--insecure' : '' },
            ...(o.registryCredentials ? [{ name: 'DOCKER_CONFIG', value: '/etc/cd4ml/registry' }] : []),
          ],
          resources: c.resources ?? { cpu: '100m', memory: '256Mi', memoryLimit: '512Mi' },
          mounts: [workspaceMount, tmpMount, ...(o.registryCredentials ? [{ name: 'registry', mountPath: '/etc/cd4ml/registry', readOnly: true }] : [])],
        }),
      });
    } else {
      const k = o.kaniko as KanikoBuild;
      add({
        name: 'build', metadata: stepMeta('kube'), outputs: outputs('digest'), serviceAccountName: sa.build, automountServiceAccountToken: true,
        container: container({
          image: python, command: ['python', `${SCRIPTS_MOUNT}/delivery.py`],
          args: ['build', '--namespace', k.namespace, '--manifest', `${BUILD_JOB_MOUNT}/build-job.json`, '--revision', param('revision'), '--repository', param('repository'), '--ref', param('ref'),
            '--destination', destination, '--delivery', '{{workflow.name}}', '--output', '/tmp/outputs/digest', '--timeout', '3600'],
          resources: small, mounts: [tmpMount, scriptsMount, { name: 'build-job', mountPath: BUILD_JOB_MOUNT, readOnly: true }],
        }),
      });
    }
    // 4. render: the pipeline's WorkflowTemplate for this commit, its image pinned by digest
    const replace = o.builder.kind === BuilderKind.CRANE ? [(o.builder.props as unknown as CraneBuilderProps).base, o.image] : [o.image];
    add({
      name: 'render', metadata: stepMeta('source'),
      container: container({
        image: o.toolsImage, command: ['npx', '--no-install', 'cd4ml', 'ci', 'template'],
        args: ['--dir', `${o.outputDir}/${o.outputEnvironment}/pipelines`, '--pipeline', o.pipelineName, '--revision', param('revision'), '--ref', param('ref'), '--image', `${o.image}@${input('digest')}`,
          ...replace.flatMap((r) => ['--replace', r]), '--namespace', runner.namespace, '--out', `${WORKSPACE}/template.json`],
        resources: { cpu: '100m', memory: '256Mi', memoryLimit: '512Mi' }, mounts: [workspaceMount, tmpMount], workingDir: `${WORKSPACE}/src`,
      }),
    }, { digest: out('build', 'digest') });
    // 5. register: into the environment's namespace; never changed in place
    add({
      name: 'register', metadata: stepMeta('kube'), outputs: outputs('template'), serviceAccountName: sa.pipeline, automountServiceAccountToken: true,
      container: container({ image: python, command: ['python', `${SCRIPTS_MOUNT}/delivery.py`], args: ['register', '--template', `${WORKSPACE}/template.json`, '--namespace', runner.namespace, '--output', '/tmp/outputs/template'], resources: small, mounts: [workspaceMount, tmpMount, scriptsMount] }),
    });
    // 6. run: and wait for the result; the version the candidate step registered
    add({
      name: 'run', metadata: stepMeta('kube'), outputs: outputs('version', 'run'), serviceAccountName: sa.pipeline, automountServiceAccountToken: true,
      container: container({
        image: python, command: ['python', `${SCRIPTS_MOUNT}/delivery.py`],
        args: ['run', '--template', input('template'), '--namespace', runner.namespace, '--delivery', '{{workflow.name}}', '--labels', JSON.stringify({ ...runner.workflowControllerLabels, 'cd4ml.io/environment': env, 'cd4ml.io/revision': param('revision') }),
          '--step', o.candidateStep, '--candidate-output', o.candidateOutput, '--output', '/tmp/outputs/version', '--run-output', '/tmp/outputs/run', '--timeout', String(o.runTimeout)],
        resources: small, mounts: [tmpMount, scriptsMount],
      }),
    }, { template: out('register', 'template') });
    // 7. gate: against the environment's champion
    const version = input('version');
    const candidate = { version: out('run', 'version') };
    add({
      name: 'gate', metadata: stepMeta('registry'), outputs: outputs('decision'),
      container: container({
        image: python, command: ['python', `${SCRIPTS_MOUNT}/promote.py`],
        args: ['gate', '--model', endpoint.model, '--version', version, '--alias', e.alias, '--metric', e.gate.metric, ...(e.gate.minimum !== undefined ? ['--minimum', String(e.gate.minimum)] : []),
          '--min-improvement', String(e.gate.minImprovement ?? 0), '--output', '/tmp/outputs/decision'],
        env: mlflowEnv, resources: small, mounts: [tmpMount, scriptsMount],
      }),
    }, candidate);
    // 8. approval (prod by default): a person resumes the delivery (`argo resume`), or stops it
    if (e.approval) add({ name: 'approve', suspend: {} });
    // 9. promote: the alias, after tagging the version with commit, image and time
    add({
      name: 'promote', metadata: stepMeta('registry'), outputs: outputs('promotion'),
      container: container({
        image: python, command: ['python', `${SCRIPTS_MOUNT}/promote.py`],
        args: ['promote', '--model', endpoint.model, '--version', version, '--alias', e.alias, '--commit', param('revision'), '--image', `${o.image}@${input('digest')}`, '--output', '/tmp/outputs/promotion'],
        env: mlflowEnv, resources: small, mounts: [tmpMount, scriptsMount],
      }),
    }, { ...candidate, digest: out('build', 'digest') });
    // 10. deploy: the endpoint to that exact version, smoke-tested; rolled back (endpoint and alias) on failure
    add({
      // its output is also the workflow's (`status.outputs`), which Argo sets from a leaf's globalName'd outputs
      name: 'deploy', metadata: stepMeta('deploy'), outputs: { parameters: [{ name: 'endpoint', globalName: 'endpoint', valueFrom: { path: '/tmp/outputs/endpoint' } }] }, serviceAccountName: sa.deploy, automountServiceAccountToken: true,
      container: container({
        image: python, command: ['python', `${SCRIPTS_MOUNT}/delivery.py`],
        args: ['deploy', '--namespace', endpoint.namespace, '--deployment', endpoint.name, '--model', endpoint.model, '--version', version, '--alias', e.alias, '--url', endpoint.url(),
          '--timeout', String(o.rolloutTimeout), '--output', '/tmp/outputs/endpoint'],
        env: mlflowEnv, resources: small, mounts: [tmpMount, scriptsMount],
      }),
    }, candidate);

    const volumes: Array<Record<string, unknown>> = [
      { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
      { name: 'scripts', configMap: { name: o.scriptsName } },
      ...(o.kaniko ? [{ name: 'build-job', configMap: { name: o.kaniko.manifestConfigMap } }] : []),
      ...(o.registryCredentials && o.builder.kind === BuilderKind.CRANE ? [{ name: 'registry', secret: { secretName: o.registryCredentials.secretName, items: [{ key: REGISTRY_CONFIG_KEY, path: 'config.json' }] } }] : []),
    ];
    return new ApiObject(this, `${env}Template`, {
      apiVersion: ARGO_API_VERSION,
      kind: 'WorkflowTemplate',
      // the platform's Argo instance ID, when it has one: argo-server submits only templates that carry it, and labels
      // the runs with it (server/event/dispatch/operation.go); the CI namespace's controller takes only those
      metadata: { name, namespace: ns, labels: { ...envLabels, ...p.pipelineRunner.workflowControllerLabels } },
      spec: {
        entrypoint: 'deliver',
        arguments: {
          parameters: [
            { name: 'environment', value: env, enum: [env], description: 'the environment delivered to (this template\'s)' },
            { name: 'revision', description: 'the commit, 40 (or 64) hex characters' },
            { name: 'repository', description: 'the clone URL (https)' },
            { name: 'ref', value: '', description: 'the ref pushed' },
          ],
        },
        serviceAccountName: sa.steps,
        automountServiceAccountToken: false,
        executor: { serviceAccountName: sa.executor },
        securityContext: restrictedPodSecurityContext({ uid: UID }),
        // one delivery per environment at a time; the next waits for the lock (synchronization.mutexes, Argo >= 3.6)
        synchronization: { mutexes: [{ name: name }] },
        activeDeadlineSeconds: o.timeout,
        ttlStrategy: { secondsAfterCompletion: 604800 },
        podGC: { strategy: 'OnPodSuccess' },
        podMetadata: { labels: { 'app.kubernetes.io/part-of': 'cd4ml', 'cd4ml.io/environment': env } },
        volumeClaimTemplates: [{
          apiVersion: 'v1', kind: 'PersistentVolumeClaim',
          metadata: { name: 'workspace', labels: envLabels },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: o.workspaceSize } }, ...(o.storageClassName ? { storageClassName: o.storageClassName } : {}) },
        }],
        volumeClaimGC: { strategy: 'OnWorkflowCompletion' },
        volumes,
        templates: [
          {
            // one after another: each task depends on the one before (a DAG, as the pipelines render theirs)
            name: 'deliver',
            dag: { tasks: steps.map((s, i) => ({ ...s, ...(i > 0 ? { depends: steps[i - 1].name } : {}) })) },
            outputs: { parameters: [{ name: 'endpoint', valueFrom: { parameter: out('deploy', 'endpoint') } }] },
          },
          ...templates,
        ],
      },
    });
  }

  /** The CI namespace's workflow controller: Argo's namespace install, managing only this namespace. */
  private controller(p: Platform, labels: Record<string, string>, kubeApi: Platform['kubeApi']): ApiObject {
    const ns = this.namespace;
    const name = 'workflow-controller';
    const controllerLabels = { ...componentLabels('argo-workflows', `${name}-${ns}`, 'workflow-controller'), ...pick(labels, 'app.kubernetes.io/part-of') };
    const selector = { 'app.kubernetes.io/name': 'argo-workflows', 'app.kubernetes.io/instance': `${name}-${ns}` };
    const connections = new Connections(this, 'ControllerConnections', { name, namespace: ns, podSelector: selector, labels: controllerLabels });
    connections.allowToKubeApi(kubeApi ?? {});
    const executorResources = { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '256Mi' } };
    const instanceId = p.pipelineRunner.workflowControllerLabels[ARGO_INSTANCE_ID_LABEL];
    new k8s.KubeConfigMap(this, 'ControllerConfig', {
      metadata: { name: 'workflow-controller-configmap', namespace: ns, labels: controllerLabels },
      data: {
        // the platform's instance ID: the runs argo-server submits carry it, and a controller without it ignores them
        ...(instanceId ? { instanceID: instanceId } : {}),
        executor: JSON.stringify({ image: p.workflowEngine.executorImage, imagePullPolicy: 'IfNotPresent', resources: executorResources, securityContext: restrictedContainerSecurityContext() }, null, 2),
        // runs here start from the delivery templates only: a submitted Workflow may not bring its own templates
        workflowRestrictions: JSON.stringify({ templateReferencing: 'Secure' }, null, 2),
      },
    });
    serviceAccount(this, 'ControllerAccount', { name, namespace: ns, labels: controllerLabels, automountToken: true });
    // Upstream's namespace-install Role (manifests/namespace-install/workflow-controller-rbac), without Secrets: the
    // executor tokens are mounted into pods by name (v4.0.5 workflowpod.go), and no template here is an HTTP or plugin one.
    boundRole(this, 'Controller', { name, namespace: ns, labels: controllerLabels, rules: [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'update'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'watch', 'list'] },
      { apiGroups: [''], resources: ['pods', 'pods/exec'], verbs: ['create', 'get', 'list', 'watch', 'update', 'patch', 'delete'] },
      { apiGroups: [''], resources: ['persistentvolumeclaims', 'persistentvolumeclaims/finalizers'], verbs: ['create', 'update', 'delete', 'get'] },
      { apiGroups: [ARGO_GROUP], resources: ['workflows', 'workflows/finalizers', 'workflowtasksets', 'workflowtasksets/finalizers', 'workflowartifactgctasks'], verbs: ['get', 'list', 'watch', 'update', 'patch', 'delete', 'create'] },
      { apiGroups: [ARGO_GROUP], resources: ['workflowtemplates', 'workflowtemplates/finalizers'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [ARGO_GROUP], resources: ['workflowtaskresults'], verbs: ['list', 'watch', 'deletecollection'] },
      // its CronWorkflow informer lists and watches them whatever the namespace holds (none here: read-only)
      { apiGroups: [ARGO_GROUP], resources: ['cronworkflows'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['create', 'get', 'delete'] },
    ] });
    return deployment(this, 'Controller', {
      name, namespace: ns, labels: controllerLabels, selector, replicas: 1, serviceAccountName: name, automountToken: true, uid: 8737,
      containers: [{
        name: 'workflow-controller',
        image: p.workflowEngine.controllerImage,
        imagePullPolicy: 'IfNotPresent',
        command: ['workflow-controller'],
        args: ['--configmap', 'workflow-controller-configmap', '--namespaced', '--managed-namespace', ns, '--loglevel', 'info'],
        env: [{ name: 'LEADER_ELECTION_IDENTITY', valueFrom: { fieldRef: { fieldPath: 'metadata.name', apiVersion: 'v1' } } }],
        ports: containerPorts([{ name: 'metrics', port: 9090 }, { name: 'healthz', port: 6060 }]),
        resources: resourceRequirements({ cpu: '50m', memory: '128Mi', memoryLimit: '512Mi' }),
        securityContext: restrictedContainerSecurityContext(),
        readinessProbe: { tcpSocket: { port: k8s.IntOrString.fromString('metrics') }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 3 },
        livenessProbe: { httpGet: { path: '/healthz', port: k8s.IntOrString.fromString('healthz'), scheme: 'HTTP' }, initialDelaySeconds: 90, periodSeconds: 60, timeoutSeconds: 30, failureThreshold: 3 },
      }],
    });
  }

  /** The build namespace (Pod Security "baseline"), its network, and the Job manifest the build step creates there. */
  private buildNamespaceFor(templateName: string, b: Builder, labels: Record<string, string>, egress: NetworkPeer[] | undefined, ports: number[], registry: ISecret | undefined, git: ISecret | undefined, insecure: boolean): KanikoBuild {
    const k = b.props as KanikoBuilderProps;
    const namespace = k.namespace ?? 'cd4ml-build';
    let resource: ApiObject | undefined;
    if (k.createNamespace ?? true) {
      const created = new PlatformNamespace(this, 'BuildNamespace', { name: namespace });
      resource = created.resource;
      // kaniko unpacks the base image into its own root and runs the Dockerfile's steps as root with the default
      // capabilities: Pod Security "baseline" is the least that admits it (https://github.com/osscontainertools/kaniko)
      for (const mode of ['enforce', 'audit', 'warn']) resource.metadata.addLabel(`pod-security.kubernetes.io/${mode}`, 'baseline');
      resource.metadata.addLabel('cd4ml.io/build-namespace', 'true');
    }
    const builderSelector = { 'app.kubernetes.io/part-of': 'cd4ml', [STEP_LABEL]: 'build' };
    // every pod of the build namespace: only the build Jobs run there (created at run time, so no rendered pod matches
    // a narrower selector)
    const connections = new Connections(this, 'BuildConnections', { name: 'kaniko', namespace, podSelector: {}, labels });
    for (const peer of egress ?? [NetworkPeer.cidr('0.0.0.0/0')]) for (const port of ports) connections.allowEgress(peer, port);
    registry?.availableIn(namespace);
    git?.availableIn(namespace);
    const resources = k.resources ?? { cpu: '500m', memory: '1Gi', memoryLimit: '4Gi' };
    // the Job the build step creates, once per commit: delivery.py fills in its name and CD4ML_REVISION/CD4ML_REPOSITORY
    // (the kubelet expands them in the args); kaniko writes the digest to the termination message the step reads
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { namespace, labels: { ...labels, 'app.kubernetes.io/component': 'delivery-build' } },
      spec: {
        backoffLimit: 0,
        activeDeadlineSeconds: 3600,
        ttlSecondsAfterFinished: 86400,
        template: {
          metadata: { labels: builderSelector },
          spec: {
            restartPolicy: 'Never',
            automountServiceAccountToken: false,
            securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
            containers: [{
              name: 'kaniko',
              image: k.image ?? DefaultImages.KANIKO,
              args: [
                // kaniko's Git context, git://<host/path>#<ref>#<commit>: it clones over HTTPS with GIT_USERNAME/GIT_PASSWORD
                '--context=git://$(CD4ML_REPOSITORY_HOST_PATH)#$(CD4ML_REF)#$(CD4ML_REVISION)', `--context-sub-path=${k.context ?? 'examples'}`, `--dockerfile=${k.dockerfile ?? 'Dockerfile'}`,
                '--destination=$(CD4ML_DESTINATION)', '--digest-file=/dev/termination-log', '--single-snapshot',
                // a plain-HTTP registry (the sandbox's): push there, and pull a base from it
                ...(insecure ? ['--insecure', '--insecure-pull'] : []),
              ],
              env: [
                { name: 'CD4ML_REVISION', value: '' }, { name: 'CD4ML_REF', value: '' }, { name: 'CD4ML_REPOSITORY_HOST_PATH', value: '' }, { name: 'CD4ML_DESTINATION', value: '' },
                ...(git ? [secretEnv('GIT_USERNAME', git, GIT_USERNAME_KEY), secretEnv('GIT_PASSWORD', git, GIT_PASSWORD_KEY)] : []),
              ],
              resources: plainResources(resources),
              securityContext: { allowPrivilegeEscalation: false, seccompProfile: { type: 'RuntimeDefault' } },
              terminationMessagePolicy: 'File',
              volumeMounts: registry ? [{ name: 'registry', mountPath: '/kaniko/.docker', readOnly: true }] : undefined,
            }],
            volumes: registry ? [{ name: 'registry', secret: { secretName: registry.secretName, items: [{ key: REGISTRY_CONFIG_KEY, path: 'config.json' }] } }] : undefined,
          },
        },
      },
    };
    // (a fixed name, as the scripts': see there)
    const manifestConfigMap = `${templateName}-build-job`;
    new k8s.KubeConfigMap(this, 'BuildJob', { metadata: { name: manifestConfigMap, namespace: this.namespace, labels }, data: { 'build-job.json': JSON.stringify(job, null, 2) } });
    return { namespace, resource, manifestConfigMap };
  }
}

/** The kaniko build's namespace and Job manifest. */
interface KanikoBuild {
  readonly namespace: string;
  readonly resource?: ApiObject;
  readonly manifestConfigMap: string;
}

/** What one environment's template is built from. */
interface TemplateInputs {
  readonly env: EnvironmentName;
  readonly e: Required<Pick<DeliveryEnvironment, 'endpoint' | 'gate' | 'alias' | 'approval'>> & { runner: PipelineRunner };
  readonly p: Platform;
  readonly t: DeliveryTriggers;
  readonly labels: Record<string, string>;
  readonly image: string;
  readonly builder: Builder;
  readonly kaniko?: KanikoBuild;
  readonly insecure: boolean;
  readonly toolsImage: string;
  readonly outputDir: string;
  readonly outputEnvironment: string;
  readonly testCommands: string[];
  readonly testResources: ContainerResources;
  readonly workspaceSize: string;
  readonly storageClassName?: string;
  readonly timeout: number;
  readonly runTimeout: number;
  readonly rolloutTimeout: number;
  readonly scriptsName: string;
  readonly pipelineName: string;
  readonly candidateStep: string;
  readonly candidateOutput: string;
  readonly gitCredentials?: ISecret;
  readonly registryCredentials?: ISecret;
  readonly deployConnections: Connections;
}

/**
 * The checkout: the commit of the push, fetched by its hash (GitHub and GitLab serve any reachable commit), checked
 * out detached and compared. The revision and URL come in as env values, never as script text.
 */
const CHECKOUT_SCRIPT = [
  'case "$CD4ML_REVISION" in *[!0-9a-f]*|"") echo "revision \\"$CD4ML_REVISION\\" is not a commit hash" >&2; exit 1;; esac',
  'case "$CD4ML_REPOSITORY" in https://*) ;; *) echo "repository \\"$CD4ML_REPOSITORY\\" is not an https:// clone URL" >&2; exit 1;; esac',
  `rm -rf ${WORKSPACE}/src && mkdir -p ${WORKSPACE}/src && cd ${WORKSPACE}/src`,
  'git init -q',
  // a credential helper that answers from the env (the Secret's values never reach argv or a file)
  // (for the repository's host only: a redirect elsewhere is asked nothing)
  'host=$(printf %s "$CD4ML_REPOSITORY" | sed -E "s#^https://([^/]+)/.*#\\1#")',
  'if [ -n "${GIT_PASSWORD:-}" ]; then git config "credential.https://$host.helper" \'!f() { echo "username=${GIT_USERNAME}"; echo "password=${GIT_PASSWORD}"; }; f\'; fi',
  'git fetch -q --depth 1 "$CD4ML_REPOSITORY" "$CD4ML_REVISION"',
  'git -c advice.detachedHead=false checkout -q --detach FETCH_HEAD',
  'test "$(git rev-parse HEAD)" = "$CD4ML_REVISION"',
  'git config --unset "credential.https://$host.helper" || true',
  'echo "checked out $CD4ML_REVISION"',
].join('\n');

/**
 * The restricted build: the code directory as one layer (owned by the pod's uid, as the steps run) appended to the
 * pinned base with `crane append`, pushed under the commit's tag; the digest is the step's output.
 */
const CRANE_SCRIPT = [
  'mkdir -p /tmp/outputs',
  // a commit's code never changes: when its tag exists (a delivery of the same commit to another environment, or a
  // run again), that image is the build, and the pipeline's registered version stays the same
  'if crane digest $CD4ML_INSECURE "$CD4ML_DESTINATION" > /tmp/outputs/digest 2>/dev/null; then echo "$CD4ML_DESTINATION exists: $(cat /tmp/outputs/digest)"; exit 0; fi',
  `test -d "${WORKSPACE}/src/$CD4ML_CONTEXT" || { echo "no directory $CD4ML_CONTEXT in the repository" >&2; exit 1; }`,
  'rm -rf /tmp/layer && mkdir -p "/tmp/layer$CD4ML_PATH"',
  `cp -R "${WORKSPACE}/src/$CD4ML_CONTEXT/." "/tmp/layer$CD4ML_PATH/"`,
  'tar -C /tmp/layer -cf /tmp/layer.tar .',
  'crane append $CD4ML_INSECURE --base "$CD4ML_BASE" --new_layer /tmp/layer.tar --new_tag "$CD4ML_DESTINATION"',
  'crane digest $CD4ML_INSECURE "$CD4ML_DESTINATION" > /tmp/outputs/digest',
  'echo "pushed $CD4ML_DESTINATION@$(cat /tmp/outputs/digest)"',
].join('\n');

/** The first key of `o` only. */
function pick(o: Record<string, string>, key: string): Record<string, string> {
  return key in o ? { [key]: o[key] } : {};
}

function durationSeconds(problems: Problems, path: string, field: string, value: unknown): number {
  const p = checkDuration(value, { path, field });
  if (p) {
    problems.add(p);
    return 1;
  }
  return parseDuration(value) as number;
}

function checkSecret(problems: Problems, path: string, field: string, value: unknown, keys: string[], fix: string): void {
  const s = value as Partial<ISecret> | null;
  if (typeof value !== 'object' || value === null || typeof s?.secretName !== 'string' || !Array.isArray(s.keys) || typeof s.availableIn !== 'function') {
    problems.add({ path, field, value: describeType(value), message: 'is not a Secret reference (an ISecret)', fix: `give ${fix}` });
    return;
  }
  const missing = keys.filter((k) => !(s.keys as string[]).includes(k));
  if (missing.length > 0) problems.add({ path, field, value: [...s.keys], message: `declares no key ${missing.map((k) => `"${k}"`).join(' or ')}`, fix: `declare them: ${fix}` });
}

function checkPipeline(problems: Problems, path: string, pipeline: unknown, candidate: unknown): string {
  let name = '';
  if (pipeline instanceof Pipeline) name = pipeline.name;
  else if (typeof pipeline === 'string' && checkDnsLabel(pipeline, { path, field: 'pipeline' }) === undefined && pipeline.length <= 50) name = pipeline;
  else if (pipeline !== undefined) problems.add({ path, field: 'pipeline', value: typeof pipeline === 'string' ? pipeline : describeType(pipeline), message: 'is not a Pipeline or the name of one (a DNS label of at most 50 characters: the commit is appended)', fix: 'pass the Pipeline, or its WorkflowTemplate\'s name, e.g. "breast-cancer"' });
  if (name.length > 50) problems.add({ path, field: 'pipeline', value: name, message: 'is longer than 50 characters (its registered versions are named <pipeline>-<commit>)', fix: 'give the pipeline a shorter name' });
  if (candidate === undefined) return name;
  if (!isPlainObject(candidate)) {
    problems.add({ path, field: 'candidate', value: describeType(candidate), message: 'is not an object', fix: 'give { step: "train-model", output: "model_version" }' });
    return name;
  }
  const step: unknown = candidate.step;
  const output: unknown = candidate.output === undefined ? 'model_version' : candidate.output;
  if (typeof step !== 'string' || !STEP_NAME.test(step)) problems.add({ path, field: 'candidate.step', value: step, message: 'is not a step name', fix: 'give the step that registers the model, e.g. "train-model"' });
  if (typeof output !== 'string' || !OUTPUT_NAME.test(output)) problems.add({ path, field: 'candidate.output', value: output, message: 'is not an output name', fix: 'give the output holding the version, e.g. "model_version"' });
  if (pipeline instanceof Pipeline && typeof step === 'string' && typeof output === 'string') {
    const found = pipeline.steps.find((s) => s.name === step);
    if (!found) problems.add({ path, field: 'candidate.step', value: step, message: `is not a step of pipeline "${pipeline.name}"`, fix: `use one of ${pipeline.steps.map((s) => s.name).join(', ')}` });
    else if (!(output in (found.props.outputs ?? {}))) problems.add({ path, field: 'candidate.output', value: output, message: `is not an output of step "${step}"`, fix: `use one of ${Object.keys(found.props.outputs ?? {}).join(', ') || '(none: declare the output on the step)'}` });
  }
  return name;
}

function checkBuilder(problems: Problems, path: string, b: Builder): void {
  const props = b.props;
  if ('invalid' in props) {
    problems.add({ path, field: 'builder', value: describeType(props.invalid), message: 'was made from props that are not an object', fix: 'give Builder.crane({ base }) or Builder.kaniko({})' });
    return;
  }
  const field = (f: string) => `builder.${f}`;
  if (b.kind === BuilderKind.CRANE) {
    const known = ['base', 'context', 'path', 'image', 'resources'];
    for (const k of Object.keys(props)) if (!known.includes(k)) problems.add({ path, field: field(k), value: describeType(props[k]), message: 'is not a prop of Builder.crane', fix: `use ${known.join(', ')}` });
    problems.addIf(checkImage(props.base as string, { path, field: field('base') }));
    if (props.context !== undefined && (typeof props.context !== 'string' || !REPO_DIR.test(props.context))) problems.add({ path, field: field('context'), value: props.context, message: 'is not a directory of the repository', fix: 'give a relative path, e.g. "examples/cd4ml_examples"' });
    if (props.path !== undefined && (typeof props.path !== 'string' || !IMAGE_PATH.test(props.path))) problems.add({ path, field: field('path'), value: props.path, message: 'is not an absolute path', fix: 'give where the code lands in the image, e.g. "/app/cd4ml_examples"' });
    if (props.image !== undefined) problems.addIf(checkImage(props.image as string, { path, field: field('image') }));
    if (props.resources !== undefined) checkResources(problems, props.resources as ContainerResources, path, field('resources'));
  } else {
    const known = ['namespace', 'dockerfile', 'context', 'image', 'resources', 'createNamespace'];
    for (const k of Object.keys(props)) if (!known.includes(k)) problems.add({ path, field: field(k), value: describeType(props[k]), message: 'is not a prop of Builder.kaniko', fix: `use ${known.join(', ')}` });
    if (props.namespace !== undefined) problems.addIf(checkNamespace(props.namespace as string, { path, field: field('namespace') }, 'cd4ml-build'));
    for (const f of ['dockerfile', 'context']) {
      if (props[f] !== undefined && (typeof props[f] !== 'string' || !REPO_DIR.test(props[f] as string))) problems.add({ path, field: field(f), value: props[f], message: 'is not a path of the repository', fix: f === 'context' ? 'give a relative directory, e.g. "examples"' : 'give a relative path, e.g. "Dockerfile"' });
    }
    if (props.image !== undefined) problems.addIf(checkImage(props.image as string, { path, field: field('image') }));
    if (props.resources !== undefined) checkResources(problems, props.resources as ContainerResources, path, field('resources'));
    if (props.createNamespace !== undefined && typeof props.createNamespace !== 'boolean') problems.add({ path, field: field('createNamespace'), value: props.createNamespace, message: 'is not true or false', fix: 'give true (the default) or false' });
  }
}

type CheckedEnvironment = Required<Pick<DeliveryEnvironment, 'endpoint' | 'gate' | 'alias' | 'approval'>> & { runner: PipelineRunner };

function checkEnvironments(problems: Problems, path: string, value: unknown, triggers: DeliveryTriggers | undefined, platform: Platform | undefined, pipeline: unknown): Map<EnvironmentName, CheckedEnvironment> {
  const out = new Map<EnvironmentName, CheckedEnvironment>();
  if (value === undefined) return out; // (reported as missing by the constructor)
  if (!isPlainObject(value)) {
    problems.add({ path, field: 'environments', value: describeType(value), message: 'is not an object of environments', fix: 'give { dev: { endpoint, gate: { metric: "roc_auc" } }, ... }' });
    return out;
  }
  const wanted = new Set(triggers?.rules.map((r) => r.environment) ?? []);
  for (const key of Object.keys(value)) {
    if (!(DELIVERY_ENVIRONMENTS as string[]).includes(key)) problems.add({ path, field: `environments.${key}`, value: key, message: 'is not an environment a delivery goes to', fix: `use ${DELIVERY_ENVIRONMENTS.join(', ')}` });
  }
  for (const env of wanted) {
    if (!(env in value)) problems.add({ path, field: `environments.${env}`, value: undefined, message: 'is missing, but the triggers deliver pushes there', fix: `declare it: environments: { ${env}: { endpoint, gate: { metric: "roc_auc" } } }, or drop the ref rule` });
  }
  const seen = new Map<string, string>();
  for (const env of DELIVERY_ENVIRONMENTS) {
    if (!(env in value)) continue;
    const site = (f: string) => `environments.${env}${f ? `.${f}` : ''}`;
    const e: unknown = value[env];
    if (triggers && !wanted.has(env)) problems.add({ path, field: site(''), value: env, message: 'has no ref rule in the triggers, so nothing delivers to it', fix: `add a rule, e.g. { ref: "refs/heads/main", environment: "${env}" }, or remove it` });
    if (!isPlainObject(e)) {
      problems.add({ path, field: site(''), value: describeType(e), message: 'is not an object', fix: 'give { endpoint, gate: { metric: "roc_auc" } }' });
      continue;
    }
    const known = ['endpoint', 'gate', 'alias', 'approval', 'runner'];
    for (const k of Object.keys(e)) if (!known.includes(k)) problems.add({ path, field: site(k), value: describeType(e[k]), message: 'is not a setting of a delivery environment', fix: `use ${known.join(', ')}` });
    const endpoint = e.endpoint;
    let ok = true;
    for (const k of ['alias', 'approval', 'runner']) {
      if (e[k] !== null) continue;
      problems.add({ path, field: site(k), value: null, message: 'is null', fix: 'leave it out for the default, or give a value' });
      ok = false;
    }
    if (!(endpoint instanceof ModelEndpoint)) {
      problems.add({ path, field: site('endpoint'), value: describeType(endpoint), message: 'is not a ModelEndpoint', fix: 'declare the environment\'s endpoint: new ModelEndpoint(scope, "churn", { platform, model, version, image })' });
      ok = false;
    }
    const gate = e.gate;
    const problemsBefore = problems.list.length;
    if (!isPlainObject(gate)) problems.add({ path, field: site('gate'), value: describeType(gate), message: 'is not an object', fix: 'give { metric: "roc_auc", minimum: 0.9 }' });
    else {
      if (typeof gate.metric !== 'string' || !METRIC.test(gate.metric)) problems.add({ path, field: site('gate.metric'), value: gate.metric, message: 'is not a metric name', fix: 'give the metric the candidate\'s run logs, e.g. "roc_auc"' });
      for (const f of ['minimum', 'minImprovement'] as const) {
        if (gate[f] !== undefined && (typeof gate[f] !== 'number' || !Number.isFinite(gate[f]))) problems.add({ path, field: site(`gate.${f}`), value: gate[f], message: 'is not a finite number', fix: f === 'minimum' ? 'give the least value that passes, e.g. 0.9' : 'give how much the candidate must beat the champion by, e.g. 0.01 (0 lets ties pass)' });
      }
      if (typeof gate.minImprovement === 'number' && gate.minImprovement < 0) problems.add({ path, field: site('gate.minImprovement'), value: gate.minImprovement, message: 'is negative: a worse model would pass', fix: 'give 0 or more' });
      for (const k of Object.keys(gate)) if (!['metric', 'minimum', 'minImprovement'].includes(k)) problems.add({ path, field: site(`gate.${k}`), value: describeType(gate[k]), message: 'is not a setting of the gate', fix: 'use metric, minimum, minImprovement' });
    }
    const alias = e.alias ?? 'champion';
    if (typeof alias !== 'string' || !ALIAS.test(alias) || /^v\d+$/i.test(alias) || alias.toLowerCase() === 'latest') problems.add({ path, field: site('alias'), value: alias, message: 'is not an alias MLflow accepts (letters, digits, "_" and "-"; not "latest" or v<number>)', fix: `give e.g. "champion" or "champion-${env}"` });
    const approval = e.approval ?? env === EnvironmentName.PROD;
    if (typeof approval !== 'boolean') problems.add({ path, field: site('approval'), value: approval, message: 'is not true or false', fix: 'give true to wait for a person\'s approval before promoting' });
    // the environment's pipeline domain on the platform, when it has one: its namespace, runner and controller
    const runner = e.runner ?? platform?.domain(env)?.runner ?? platform?.pipelineRunner;
    if (e.runner !== undefined && !(e.runner instanceof PipelineRunner)) problems.add({ path, field: site('runner'), value: describeType(e.runner), message: 'is not a PipelineRunner', fix: 'leave it out to use the platform\'s domain of that name or its pipeline runner, or pass the environment\'s PipelineRunner' });
    // the render step reads the pipeline's WorkflowTemplate of the environment's namespace, with that runner's Secrets,
    // cache and controller labels
    else if (runner instanceof PipelineRunner && pipeline instanceof Pipeline && !runner.hasPipeline(pipeline.name)) {
      problems.add({ path, field: site('runner'), value: runner.namespace, message: `has no pipeline "${pipeline.name}": the delivery registers the WorkflowTemplate synthesized for the environment's namespace`, fix: `declare the pipeline on the environment's runner too: new Pipeline(scope, '${pipeline.name}-${env}', { name: '${pipeline.name}', runner, ... })` });
    }
    if (ok && platform && (endpoint as ModelEndpoint).namespace !== platform.trackingServer.namespace) problems.add({ path, field: site('endpoint'), value: (endpoint as ModelEndpoint).node.path, message: 'belongs to another platform than the delivery\'s', fix: 'declare the endpoint on the delivery\'s platform' });
    if (ok && typeof alias === 'string') {
      const ep = endpoint as ModelEndpoint;
      const key = `${ep.namespace}/${ep.name}`;
      const modelKey = `${ep.model}@${alias}`;
      for (const [k, other] of seen) {
        if (k === key) problems.add({ path, field: site('endpoint'), value: key, message: `is also environment ${other}'s endpoint: one delivery would roll back the other's`, fix: `give each environment its own ModelEndpoint, e.g. "${ep.model}-${env}"` });
        if (k === modelKey) problems.add({ path, field: site('alias'), value: alias, message: `is also environment ${other}'s alias of model ${ep.model}: one environment's promotion would move the other's champion`, fix: `give each environment its own alias, e.g. "champion-${env}"` });
      }
      seen.set(key, env);
      seen.set(modelKey, env);
    }
    if (ok && problems.list.length === problemsBefore && runner instanceof PipelineRunner) {
      out.set(env, { endpoint: endpoint as ModelEndpoint, gate: gate as DeliveryEnvironment['gate'], alias: alias as string, approval: approval as boolean, runner });
    }
  }
  return out;
}

