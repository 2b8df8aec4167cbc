/**
 * `npm run bench`: synthesizes the sandbox platform plus P pipelines of S steps, for each size five times, each run
 * in a fresh process (so peak memory is its own), and prints one JSON line per size: median wall time, median
 * time of the same objects serialized to YAML alone in the same process (the floor), their ratio, objects, bytes,
 * peak memory of the synthesis, and milliseconds per MB written (flat when time grows linearly with output).
 */
import { execFileSync } from 'child_process';
import { join } from 'path';

const SIZES: Array<[number, number]> = [[1, 3], [100, 10], [1000, 10]];
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

interface Sample { objects: number; bytes: number; wallMs: number; yamlOnlyMs: number; synthPeakRssMiB: number }

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

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
