/**
 * `npm run bench`: three sections (sizes, serializers, synth), all by default; name one to run it alone (`node build/bench/run.js serializers`).
 *
 * `sizes`: synthesizes the sandbox platform plus P pipelines of S steps, for each size five times, each run in a
 * fresh process (so peak memory is its own), and prints one JSON line per size: median wall time, median time of the
 * same objects serialized to YAML alone in the same process (the floor), their ratio, objects, bytes, peak memory of
 * the synthesis, and milliseconds per MB written (flat when time grows linearly with output).
 *
 * `serializers`: at 1000 pipelines of 10 steps, five paired runs (BENCH_SERIALIZER_RUNS), each in a fresh process
 * (`serializers.ts`), of a whole synthesis written by our emitter and of four serializers on the same objects; prints
 * one JSON line per serializer (median time, and the medians of its ratios to JSON.stringify, the floor, and to the
 * fastest YAML serializer of the same run), then one for the synthesis (its median, and the median of its ratios to
 * cdk8s's serializer alone). Every run checks that each output reads back as the objects. About 80 s on 2 cores
 * (`sizes`: about 100 s).
 */
import { execFileSync, spawnSync } from 'child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import type { SerializerName, SerializerRun } from './serializers';

const SIZES: Array<[number, number]> = [[1, 3], [100, 10], [1000, 10]];
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

interface Sample { objects: number; bytes: number; wallMs: number; yamlOnlyMs: number; synthPeakRssMiB: number }

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The `sizes` section: one line per size. */
function benchSizes(): void {
  for (const [p, s] of SIZES) {
    const samples: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      const out = execFileSync(process.execPath, ['--max-old-space-size=8192', join(__dirname, 'synth-size.js'), String(p), String(s)], { encoding: 'utf8' });
      samples.push(JSON.parse(out));
    }
    const wall = median(samples.map((x) => x.wallMs));
    const floor = median(samples.map((x) => x.yamlOnlyMs));
    const mb = samples[0].bytes / 2 ** 20;
    process.stdout.write(JSON.stringify({
      pipelines: p,
      steps: s,
      runs: RUNS,
      objects: samples[0].objects,
      bytes: samples[0].bytes,
      wallMs: Math.round(wall),
      wallMsMin: Math.round(Math.min(...samples.map((x) => x.wallMs))),
      yamlOnlyMs: Math.round(floor),
      ratioToFloor: Number((wall / floor).toFixed(2)),
      msPerMB: Number((wall / mb).toFixed(1)),
      synthPeakRssMiB: Math.max(...samples.map((x) => x.synthPeakRssMiB)),
    }) + '\n');
  }
}

const SERIALIZER_SIZE: [number, number] = [1000, 10];
const SERIALIZER_RUNS = Number(process.env.BENCH_SERIALIZER_RUNS ?? 5);

/** Rounds to two decimals, for ratios. */
function ratio(x: number): number {
  return Number(x.toFixed(2));
}

/** The `serializers` section: one line per serializer, then one for the whole synthesis. */
function benchSerializers(): void {
  const [p, s] = SERIALIZER_SIZE;
  const runs: SerializerRun[] = [];
  for (let i = 0; i < SERIALIZER_RUNS; i++) {
    const out = execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', join(__dirname, 'serializers.js'), String(p), String(s), String(i)], { encoding: 'utf8' });
    runs.push(JSON.parse(out));
  }
  const names = Object.keys(runs[0].serializeMs) as SerializerName[];
  const yamlNames = names.filter((n) => n !== 'JSON.stringify');
  // paired: each ratio is taken within one run (the same objects, the same process), then the median of the ratios
  const fastestYaml = runs.map((r) => Math.min(...yamlNames.map((n) => r.serializeMs[n])));
  for (const name of names) {
    const ms = runs.map((r) => r.serializeMs[name]);
    process.stdout.write(JSON.stringify({
      pipelines: p,
      steps: s,
      runs: runs.length,
      serializer: name,
      medianMs: Math.round(median(ms)),
      minMs: Math.round(Math.min(...ms)),
      ratioToJson: ratio(median(runs.map((r) => r.serializeMs[name] / r.serializeMs['JSON.stringify']))),
      ratioToFastestYaml: ratio(median(runs.map((r, i) => r.serializeMs[name] / fastestYaml[i]))),
      bytes: runs[0].bytes[name],
    }) + '\n');
  }
  process.stdout.write(JSON.stringify({
    pipelines: p,
    steps: s,
    runs: runs.length,
    synth: 'build + validate + toJson + toYaml + write',
    objects: runs[0].objects,
    medianMs: Math.round(median(runs.map((r) => r.synthMs))),
    ratioToCdk8sSerializer: ratio(median(runs.map((r) => r.synthMs / r.serializeMs['cdk8s Yaml.stringify']))),
    checkedDocumentsPerOutput: runs[0].checkedDocuments,
  }) + '\n');
}

const ROOT = join(__dirname, '..', '..');
const SYNTH_RUNS = Number(process.env.BENCH_SYNTH_RUNS ?? 7);

/** Milliseconds one command takes, wall clock. */
function timed(command: string, args: readonly string[], cwd: string): number {
  const start = process.hrtime.bigint();
  execFileSync(command, args, { cwd, stdio: 'ignore' });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/**
 * The `synth` section: what a user waits for after an edit. Paired runs (BENCH_SYNTH_RUNS, default 7), each of:
 * the floor, the cdk8s CLI running an empty precompiled app; `npm run synth` of the sandbox after touching a source
 * (so the launcher recompiles it); and, when `helm` is on the PATH and the charts are given (BENCH_HELM_CHARTS,
 * space-separated chart directories), `helm template` of them. One JSON line each, with medians and the median of
 * the paired ratios to the floor.
 */
function benchSynth(): void {
  const dir = mkdtempSync(join(tmpdir(), 'cd4ml-bench-synth-'));
  try {
    writeFileSync(join(dir, 'app.js'), `const { App } = require(${JSON.stringify(require.resolve('cdk8s'))});\nnew App().synth();\n`);
    writeFileSync(join(dir, 'cdk8s.yaml'), `language: typescript\napp: ${JSON.stringify(`${process.execPath} app.js`)}\noutput: dist\n`);
    const cli = join(ROOT, 'node_modules', 'cdk8s-cli', 'bin', 'cdk8s');
    const edited = join(ROOT, 'stacks', 'pipelines.ts');
    const charts = (process.env.BENCH_HELM_CHARTS ?? '').split(' ').filter((c) => c !== '');
    const helm = charts.length > 0 && spawnSync('helm', ['version'], { stdio: 'ignore' }).status === 0;
    const runs: Array<{ floor: number; synth: number; helm?: number }> = [];
    for (let i = 0; i < SYNTH_RUNS; i++) {
      const floor = timed(process.execPath, [cli, 'synth', '--no-check-upgrade'], dir);
      const now = new Date();
      utimesSync(edited, now, now);
      const synth = timed('npm', ['run', '-s', 'synth', '--', '--out', join(dir, 'out')], ROOT);
      const h = helm ? timed('sh', ['-c', charts.map((c) => `helm template bench ${c} >/dev/null`).join(' && ')], dir) : undefined;
      runs.push({ floor, synth, helm: h });
    }
    const line = (what: string, ms: number[], ratios: number[]) => process.stdout.write(JSON.stringify({ synth: what, runs: ms.length, medianMs: Math.round(median(ms)), ratioToFloor: ratio(median(ratios)) }) + '\n');
    line('floor: cdk8s synth of an empty precompiled app', runs.map((r) => r.floor), runs.map(() => 1));
    line('npm run synth (sandbox) after an edit', runs.map((r) => r.synth), runs.map((r) => r.synth / r.floor));
    if (helm) line(`helm template ${charts.join(' ')}`, runs.map((r) => r.helm!), runs.map((r) => r.helm! / r.floor));
    else process.stdout.write(JSON.stringify({ synth: 'helm template', skipped: 'no helm on the PATH, or BENCH_HELM_CHARTS unset' }) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SECTIONS: Record<string, () => void> = { sizes: benchSizes, serializers: benchSerializers, synth: benchSynth };
const chosen = process.argv.slice(2);
const unknownSections = chosen.filter((name) => !(name in SECTIONS));
if (unknownSections.length > 0) throw new Error(`unknown bench section ${unknownSections.join(', ')}: choose from ${Object.keys(SECTIONS).join(', ')}`);
for (const name of chosen.length > 0 ? chosen : Object.keys(SECTIONS)) SECTIONS[name]();
