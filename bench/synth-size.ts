/**
 * One benchmark size, run in its own process so peak memory is its own: synthesizes the sandbox platform plus
 * P pipelines of S steps to a temporary directory, then serializes the same objects to YAML alone (the floor).
 * Prints one JSON line.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Yaml } from 'cdk8s';
import { buildBenchApp } from './build';

const [pipelines, steps] = process.argv.slice(2).map(Number);
const outdir = mkdtempSync(join(tmpdir(), 'cd4ml-bench-'));

const start = process.hrtime.bigint();
const { app, charts } = buildBenchApp(pipelines, steps, outdir);
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
