import { App, Chart, YamlOutputType } from 'cdk8s';
import { Construct } from 'constructs';
import { checkEnvironmentName, EnvironmentName, fail, GpuScheduling, Pipeline, Platform, PlatformProps } from '../index';
import { breastCancerGpuSweepPipeline, breastCancerPipeline } from './pipelines';

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

/** One chart holding the pipelines that run on a platform; synthesized after it. */
export class PipelinesChart extends Chart {
  /** The pipelines. */
  public readonly pipelines: readonly Pipeline[];

  public constructor(scope: Construct, id: string, platform: PlatformChart, image = EXAMPLES_IMAGE) {
    super(scope, id, { disableResourceNameHashes: true });
    this.addDependency(platform);
    const runner = platform.platform.pipelineRunner;
    const pipelines = [breastCancerPipeline(this, { runner, image })];
    if (runner.gpu) pipelines.push(breastCancerGpuSweepPipeline(this, { runner, image }));
    this.pipelines = pipelines;
  }
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
export function buildApp(environment: EnvironmentName, outdir = 'dist'): { app: App; platform: PlatformChart; pipelines: PipelinesChart } {
  const app = new App({ outdir, outputFileExtension: '.k8s.yaml', yamlOutputType: YamlOutputType.FILE_PER_CHART });
  const platform = new PlatformChart(app, `${environment}-platform`, { environment, gpu: STACK_SETTINGS[environment].gpu });
  const pipelines = new PipelinesChart(app, `${environment}-pipelines`, platform);
  return { app, platform, pipelines };
}
