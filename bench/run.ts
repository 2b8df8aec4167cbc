/**
 * `npm run bench`: synthesizes the platform plus P pipelines of S steps for each size, each in a fresh process,
 * and prints one JSON line per size (wall time, peak memory, objects, bytes, and the YAML-only floor).
 */
import { execFileSync } from 'child_process';
import { join } from 'path';

const SIZES: Array<[number, number]> = [[1, 3], [100, 10], [1000, 10]];
for (const [p, s] of SIZES) {
  const line = execFileSync(process.execPath, ['--max-old-space-size=8192', join(__dirname, 'synth-size.js'), String(p), String(s)], { encoding: 'utf8' });
  process.stdout.write(line);
}
