/**
 * One benchmark size, run in its own process so peak memory is its own: synthesizes the sandbox platform plus
 * P pipelines of S steps to a temporary directory, then serializes the same objects to YAML alone (the floor).
 * Prints one JSON line.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App, Chart, Yaml, YamlOutputType } from 'cdk8s';
import { EnvironmentName, ParameterType, Pipeline, Platform, Step } from '../index';

const [pipelines, steps] = process.argv.slice(2).map(Number);
const outdir = mkdtempSync(join(tmpdir(), 'cd4ml-bench-'));

/** P pipelines of S steps: a layered DAG (each step reads the previous one's output; every third also joins two back). */
function build(): { app: App; charts: Chart[] } {
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

const start = process.hrtime.bigint();
const { app, charts } = build();
app.synth();
const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
// Peak memory of the synthesis itself, before the floor below builds its own copy of the YAML.
const synthPeakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
const bytes = readdirSync(outdir).reduce((n, f) => n + statSync(join(outdir, f)).size, 0);

// The floor: the same objects, already rendered, serialized to YAML by the same library, in the same process.
const objects = charts.flatMap((c) => c.toJson());
const yamlStart = process.hrtime.bigint();
const yaml = Yaml.stringify(...objects);
const yamlOnlyMs = Number(process.hrtime.bigint() - yamlStart) / 1e6;
rmSync(outdir, { recursive: true, force: true });

process.stdout.write(JSON.stringify({
  pipelines,
  steps,
  objects: objects.length,
  bytes,
  yamlBytes: Buffer.byteLength(yaml),
  // wall covers building, validating, rendering and writing the files; the floor only serializes in memory
  wallMs,
  yamlOnlyMs,
  synthPeakRssMiB,
}) + '\n');
