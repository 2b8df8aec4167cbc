import { App, Chart, YamlOutputType } from 'cdk8s';
import { Construct } from 'constructs';
import { checkEnvironmentName, EnvironmentName, fail, Platform, PlatformProps } from '../index';

/** Props of {@link PlatformChart}. */
export interface PlatformChartProps extends PlatformProps {}

/** One chart holding an environment's platform: `dist/<id>.k8s.yaml`. */
export class PlatformChart extends Chart {
  /** The platform. */
  public readonly platform: Platform;

  public constructor(scope: Construct, id: string, props: PlatformChartProps = {}) {
    super(scope, id, { disableResourceNameHashes: true });
    this.platform = new Platform(this, 'platform', props);
  }
}

/** Reads the environment name (CD4ML_ENV, default sandbox), failing on an unknown one. */
export function environmentFromEnv(value = process.env.CD4ML_ENV): EnvironmentName {
  const name = value === undefined || value === '' ? EnvironmentName.SANDBOX : value;
  const problem = checkEnvironmentName(name, { path: 'CD4ML_ENV', field: 'environment' });
  if (problem) fail(problem);
  return name as EnvironmentName;
}

/** Builds the app `cdk8s synth` renders: the environment's platform, one file in `dist/`. */
export function buildApp(environment: EnvironmentName, outdir = 'dist'): App {
  const app = new App({ outdir, outputFileExtension: '.k8s.yaml', yamlOutputType: YamlOutputType.FILE_PER_CHART });
  new PlatformChart(app, environment, { environment });
  return app;
}
