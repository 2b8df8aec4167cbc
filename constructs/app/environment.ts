import { App, Chart, YamlOutputType } from 'cdk8s';
import { Construct } from 'constructs';
import { Cd4mlValidationError, checkEnvironmentName, EnvironmentName, fail, isPlainObject, Problem, validateApp } from '../../lib';
import { Platform, PlatformProps } from '../platform';

/**
 * One environment, defined once: what both engines deploy (`cdk8s synth` or `npm run synth` writes it, the Pulumi
 * component `cd4ml/pulumi` applies it), so the two cannot drift apart.
 */
export interface EnvironmentDefinition {
  /** The environment: its preset sizes, and the names of its charts. @default EnvironmentName.SANDBOX */
  readonly environment?: EnvironmentName;
  /** The platform's settings (namespaces, stores, hosts, components, ...). @default {} - the preset's defaults */
  readonly platform?: Omit<PlatformProps, 'environment'>;
  /**
   * Declares the team's pipelines, on a chart applied after the platform's (`scope`), with the platform to run on
   * (`platform.pipelineRunner`). @default - no pipelines
   */
  readonly pipelines?: (scope: Construct, platform: Platform) => void;
}

/** The chart holding an environment's platform. */
export class PlatformChart extends Chart {
  /** The platform. */
  public readonly platform: Platform;

  public constructor(scope: Construct, id: string, props: PlatformProps = {}) {
    super(scope, id, { disableResourceNameHashes: true });
    this.platform = new Platform(this, 'platform', props);
  }
}

/** The chart holding the pipelines that run on a platform; applied after it. */
export class PipelinesChart extends Chart {
  public constructor(scope: Construct, id: string, platform: PlatformChart) {
    super(scope, id, { disableResourceNameHashes: true });
    this.addDependency(platform);
  }
}

/** An environment built and validated in memory; nothing written. */
export interface SynthesizedEnvironment {
  /** The environment. */
  readonly environment: EnvironmentName;
  /** The cdk8s app holding both charts. */
  readonly app: App;
  /** The platform construct (its namespaces, endpoints, and the Secrets it expects). */
  readonly platform: Platform;
  /** The platform's chart. */
  readonly platformChart: PlatformChart;
  /** The pipelines' chart. */
  readonly pipelinesChart: PipelinesChart;
  /** The platform's objects, in the order they are applied. */
  readonly platformObjects: Array<Record<string, unknown>>;
  /** The pipelines' objects, applied after the platform. */
  readonly pipelineObjects: Array<Record<string, unknown>>;
}

/** Options of {@link buildEnvironment}. */
export interface BuildEnvironmentOptions {
  /** The app's output directory (where `app.synth()` would write). @default 'dist' */
  readonly outdir?: string;
}

/**
 * Builds an environment's app (a platform chart, then a pipelines chart) without validating it. Most callers want
 * {@link synthesizeEnvironment}, which also validates and renders.
 */
export function buildEnvironment(definition: EnvironmentDefinition, options: BuildEnvironmentOptions = {}): { app: App; platformChart: PlatformChart; pipelinesChart: PipelinesChart; environment: EnvironmentName } {
  const given: unknown = definition;
  const path = 'EnvironmentDefinition';
  if (!isPlainObject(given)) fail({ path, field: '(definition)', value: given, message: 'is not an object', fix: 'give { environment: EnvironmentName.SANDBOX, platform: {}, pipelines: (scope, platform) => {...} }' });
  const problems: Problem[] = [];
  const environment = definition.environment ?? EnvironmentName.SANDBOX;
  const envProblem = checkEnvironmentName(environment, { path, field: 'environment' });
  if (envProblem) problems.push(envProblem);
  if (definition.platform !== undefined && !isPlainObject(definition.platform)) problems.push({ path, field: 'platform', value: definition.platform, message: 'is not an object', fix: 'give the platform\'s settings, e.g. platform: {}' });
  if (definition.pipelines !== undefined && typeof definition.pipelines !== 'function') problems.push({ path, field: 'pipelines', value: typeof definition.pipelines, message: 'is not a function', fix: 'give pipelines: (scope, platform) => { new Pipeline(scope, \'mine\', { runner: platform.pipelineRunner }); }' });
  if (isPlainObject(definition.platform) && 'environment' in definition.platform) problems.push({ path, field: 'platform.environment', value: (definition.platform as PlatformProps).environment, message: 'is set twice', fix: 'set the environment once, as definition.environment' });
  if (problems.length > 0) throw new Cd4mlValidationError(problems);
  const app = new App({ outdir: options.outdir ?? 'dist', outputFileExtension: '.k8s.yaml', yamlOutputType: YamlOutputType.FILE_PER_CHART });
  const platformChart = new PlatformChart(app, `${environment}-platform`, { ...(definition.platform ?? {}), environment });
  const pipelinesChart = new PipelinesChart(app, `${environment}-pipelines`, platformChart);
  definition.pipelines?.(pipelinesChart, platformChart.platform);
  return { app, platformChart, pipelinesChart, environment };
}

/**
 * Builds, validates (every construct's checks, one report: a `Cd4mlValidationError`) and renders an environment in
 * memory. Nothing is written: see `writeEnvironment` for the GitOps layout.
 */
export function synthesizeEnvironment(definition: EnvironmentDefinition, options: BuildEnvironmentOptions = {}): SynthesizedEnvironment {
  const { app, platformChart, pipelinesChart, environment } = buildEnvironment(definition, options);
  validateApp(app);
  // the other constructs' own validations, as app.synth() runs them, without serializing YAML nothing reads
  const errors = app.node.findAll().flatMap((c) => c.node.validate());
  if (errors.length > 0) throw new Error(`Validation failed:\n${errors.join('\n')}`);
  const platformObjects = platformChart.toJson();
  const pipelineObjects = pipelinesChart.toJson();
  const unplaced = [...platformObjects, ...pipelineObjects].filter((o) => o?.metadata?.namespace === undefined && !isClusterScoped(o, [...platformObjects, ...pipelineObjects]));
  if (unplaced.length > 0) {
    // filed with the cluster-scoped objects it would land in `default` (kubectl, Pulumi) or fail (an Argo CD
    // Application without a destination namespace): a namespaced object names its namespace
    throw new Cd4mlValidationError(unplaced.map((o) => ({
      path: `${environment}`, field: `${o.kind} ${o.metadata?.name}.metadata.namespace`, value: undefined,
      message: 'is missing on a namespaced object', fix: 'set metadata.namespace, e.g. to platform.pipelineRunner.namespace',
    })));
  }
  return { environment, app, platform: platformChart.platform, platformChart, pipelinesChart, platformObjects, pipelineObjects };
}

/** Kubernetes' cluster-scoped kinds (and those of cert-manager and Argo Workflows a platform may render). */
const CLUSTER_SCOPED_KINDS = new Set([
  'Namespace', 'Node', 'PersistentVolume', 'CustomResourceDefinition', 'APIService', 'StorageClass', 'CSIDriver', 'CSINode', 'VolumeAttachment',
  'ClusterRole', 'ClusterRoleBinding', 'PriorityClass', 'RuntimeClass', 'IngressClass', 'CertificateSigningRequest', 'FlowSchema',
  'PriorityLevelConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'MutatingAdmissionPolicy',
  'MutatingAdmissionPolicyBinding', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'ClusterIssuer', 'ClusterWorkflowTemplate',
]);

/** Whether an object is cluster-scoped: a built-in cluster-scoped kind, or the kind of a cluster-scoped CRD rendered beside it. */
function isClusterScoped(o: { kind?: string }, all: ReadonlyArray<{ kind?: string; spec?: { scope?: string; names?: { kind?: string } } }>): boolean {
  if (CLUSTER_SCOPED_KINDS.has(o.kind ?? '')) return true;
  return all.some((c) => c.kind === 'CustomResourceDefinition' && c.spec?.scope === 'Cluster' && c.spec?.names?.kind === o.kind);
}
