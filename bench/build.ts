/**
 * The app every benchmark synthesizes: the sandbox platform plus P pipelines of S steps, in two charts (the platform's,
 * then the pipelines', as `cdk8s synth` orders them).
 */
import { App, Chart, YamlOutputType } from 'cdk8s';
import { EnvironmentName, ParameterType, Pipeline, Platform, Step } from '../index';

/** An app under construction and its charts, in the order they are applied. */
export interface BenchApp {
  /** The app, writing one file per chart to the outdir it was given. */
  readonly app: App;
  /** The platform's chart, then the pipelines'. */
  readonly charts: readonly Chart[];
}

/**
 * Builds P pipelines of S steps on the sandbox platform: a layered DAG (each step reads the previous one's output;
 * every third also waits for the one two back), the first step cached, each with resources.
 *
 * @param outdir where `app.synth()` would write (nothing is written until it is called)
 */
export function buildBenchApp(pipelines: number, steps: number, outdir: string): BenchApp {
  const app = new App({ outdir, outputFileExtension: '.k8s.yaml', yamlOutputType: YamlOutputType.FILE_PER_CHART });
  const platformChart = new Chart(app, 'platform', { disableResourceNameHashes: true });
  const platform = new Platform(platformChart, 'platform', { environment: EnvironmentName.SANDBOX });
  const pipelinesChart = new Chart(app, 'pipelines', { disableResourceNameHashes: true });
  pipelinesChart.addDependency(platformChart);
  for (let p = 0; p < pipelines; p++) {
    const pipeline = new Pipeline(pipelinesChart, `pipeline-${p}`, { runner: platform.pipelineRunner });
    const size = pipeline.addParameter('size', { type: ParameterType.NUMBER, default: 0.3 });
    const made: Step[] = [];
    for (let s = 0; s < steps; s++) {
      const prev = made[s - 1];
      made.push(pipeline.addStep(`step-${s}`, {
        image: 'registry.example/steps:1.0.0',
        command: ['python', '-m', 'job'],
        inputs: prev ? { data: prev.output('out') } : { size },
        outputs: { out: ParameterType.STRING },
        after: s % 3 === 2 ? [made[s - 2]] : undefined,
        cache: s === 0 ? { version: '1' } : undefined,
        resources: { cpu: '500m', memory: '1Gi' },
      }));
    }
  }
  return { app, charts: [platformChart, pipelinesChart] };
}
