import { existsSync, readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { App, Chart, YamlOutputType } from 'cdk8s';
import { parseAllDocuments } from 'yaml';
import { Construct } from 'constructs';
import { ACKNOWLEDGE_ENV, Cd4mlValidationError, checkDataSafeUpgrade, checkEnvironmentName, EnvironmentName, fail, GpuScheduling, Pipeline, Platform, PlatformProps } from '../index';
import { breastCancerGpuSweepPipeline, breastCancerPipeline, ExamplePipelineProps } from './pipelines';

/** What differs between the environments of this repository's own stack. */
export interface StackSettings {
  /** The GPU node pool, where there is one. */
  readonly gpu?: GpuScheduling;
}

/** The sandbox has no GPUs; the shared clusters have an NVIDIA node pool labelled by GPU feature discovery. */
export const STACK_SETTINGS: Record<EnvironmentName, StackSettings> = {
  [EnvironmentName.SANDBOX]: {},
  [EnvironmentName.DEV]: { gpu: { nodeSelector: { 'nvidia.com/gpu.present': 'true' }, maxPerStep: 1 } },
  [EnvironmentName.STAGING]: { gpu: { nodeSelector: { 'nvidia.com/gpu.present': 'true' }, maxPerStep: 1 } },
  [EnvironmentName.PROD]: { gpu: { nodeSelector: { 'nvidia.com/gpu.present': 'true' }, maxPerStep: 2 } },
};

/** The image of the example steps (`examples/`); override with CD4ML_EXAMPLES_IMAGE. */
export const EXAMPLES_IMAGE = process.env.CD4ML_EXAMPLES_IMAGE || 'cd4ml-examples:0.1.0';

/** One chart holding an environment's platform. */
export class PlatformChart extends Chart {
  /** The platform. */
  public readonly platform: Platform;

  public constructor(scope: Construct, id: string, props: PlatformProps = {}) {
    super(scope, id, { disableResourceNameHashes: true });
    this.platform = new Platform(this, 'platform', props);
  }
}

/** The example pipelines a stack may deploy, by name. */
export const EXAMPLE_PIPELINES: Record<string, (scope: Construct, props: ExamplePipelineProps) => Pipeline> = {
  'breast-cancer': breastCancerPipeline,
  'breast-cancer-gpu-sweep': breastCancerGpuSweepPipeline,
};

/** One chart holding the pipelines that run on a platform; synthesized after it. */
export class PipelinesChart extends Chart {
  /** The pipelines. */
  public readonly pipelines: readonly Pipeline[];

  /**
   * @param names the example pipelines to declare; by default the seed pipeline, and the GPU sweep where the
   * platform has GPU scheduling
   */
  public constructor(scope: Construct, id: string, platform: PlatformChart, image = EXAMPLES_IMAGE, names?: readonly string[]) {
    super(scope, id, { disableResourceNameHashes: true });
    this.addDependency(platform);
    const runner = platform.platform.pipelineRunner;
    const chosen = names ?? ['breast-cancer', ...(runner.gpu ? ['breast-cancer-gpu-sweep'] : [])];
    const unknown = chosen.filter((n) => !(n in EXAMPLE_PIPELINES));
    if (unknown.length > 0) {
      fail({ path: this.node.path, field: 'pipelines', value: unknown, message: 'names pipelines this stack does not have', fix: `choose from ${Object.keys(EXAMPLE_PIPELINES).join(', ')}` }, this);
    }
    this.pipelines = chosen.map((n) => EXAMPLE_PIPELINES[n](this, { runner, image }));
  }
}

/** What a stack deploys, beyond the environment: platform settings, pipelines, their image. */
export interface StackOptions extends PlatformProps {
  /** The example pipelines to deploy. @default - the seed pipeline, plus the GPU sweep where there are GPUs */
  readonly pipelines?: readonly string[];
  /** Image of the example steps. @default - {@link EXAMPLES_IMAGE} */
  readonly examplesImage?: string;
}

/** A stack synthesized in memory: validated, nothing written. */
export interface SynthesizedStack {
  /** The platform construct (for its endpoints and the Secrets it expects). */
  readonly platform: Platform;
  /** The platform's objects, in dependency order. */
  readonly platformObjects: Array<Record<string, unknown>>;
  /** The pipelines' objects, applied after the platform. */
  readonly pipelineObjects: Array<Record<string, unknown>>;
}

/**
 * Synthesizes an environment's stack in memory, validating everything first: what the Pulumi program deploys
 * is exactly what `cdk8s synth` writes for the same options.
 */
export function synthesizeStack(environment: EnvironmentName, options: StackOptions = {}): SynthesizedStack {
  const { app, platform, pipelines } = buildApp(environment, undefined, options);
  // every construct's validation (the root's first: the app's one report), as app.synth() runs it, without
  // serializing YAML that nothing reads (it was most of a Pulumi preview's synthesis)
  const errors = app.node.findAll().flatMap((c) => c.node.validate());
  if (errors.length > 0) throw new Error(`Validation failed:\n${errors.join('\n')}`);
  return { platform: platform.platform, platformObjects: platform.toJson(), pipelineObjects: pipelines.toJson() };
}

/** Reads the environment name (CD4ML_ENV, default sandbox), failing on an unknown one. */
export function environmentFromEnv(value = process.env.CD4ML_ENV): EnvironmentName {
  const name = value === undefined || value === '' ? EnvironmentName.SANDBOX : value;
  const problem = checkEnvironmentName(name, { path: 'CD4ML_ENV', field: 'environment' });
  if (problem) fail(problem);
  return name as EnvironmentName;
}

/**
 * Builds the app `cdk8s synth` renders for an environment: `dist/0000-<env>-platform.k8s.yaml` and
 * `dist/0001-<env>-pipelines.k8s.yaml`, in the order they are applied.
 */
export function buildApp(environment: EnvironmentName, outdir = 'dist', options: StackOptions = {}): { app: App; platform: PlatformChart; pipelines: PipelinesChart } {
  const app = new App({ outdir, outputFileExtension: '.k8s.yaml', yamlOutputType: YamlOutputType.FILE_PER_CHART });
  const { pipelines: names, examplesImage, ...platformProps } = options;
  const platform = new PlatformChart(app, `${environment}-platform`, { gpu: STACK_SETTINGS[environment].gpu, ...platformProps, environment });
  const pipelines = new PipelinesChart(app, `${environment}-pipelines`, platform, examplesImage ?? EXAMPLES_IMAGE, names);
  return { app, platform, pipelines };
}

/**
 * Refuses an output that would lose data or that the API server would refuse on the stores already deployed, by
 * comparing with the manifests already in `outdir` (the last synth, or the GitOps checkout): a store resized, moved
 * to another namespace, removed, or given another data format (a Postgres major version). Nothing is written then.
 * StatefulSets named in CD4ML_ACKNOWLEDGE_DATA_CHANGE (`namespace/name`, comma-separated) pass once migrated.
 */
export function guardDataOnResynth(outdir: string, environment: EnvironmentName, next: ReadonlyArray<Record<string, unknown>>, acknowledged = process.env[ACKNOWLEDGE_ENV] ?? ''): void {
  if (!existsSync(outdir)) return;
  // only this environment's files: another preset rendered into the same directory is another deployment
  const previous = readdirSync(outdir).filter((f) => new RegExp(`^\\d+-${environment}-(platform|pipelines)\\.k8s\\.yaml$`).test(f)).sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(outdir, f), 'utf8')).map((d) => d.toJS() as Record<string, unknown>))
    .filter((o) => o !== null && typeof o === 'object');
  const problems = checkDataSafeUpgrade(previous, next, acknowledged.split(',').map((s) => s.trim()).filter((s) => s !== ''));
  if (problems.length > 0) throw new Cd4mlValidationError(problems);
}
