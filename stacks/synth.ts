import { mkdirSync, renameSync, writeFileSync } from 'fs';
import { dirname, join } from 'path';
import { Cd4mlValidationError, clientConfig, k3dConfig, notesOf, synthesizeEnvironment, writeEnvironment } from '../index';
import { environmentFromEnv, guardDataOnResynth, loadStack } from './app';

/**
 * `npm run synth [-- ENV...] [--out DIR]`: the environments (default: CD4ML_ENV, or sandbox) in their GitOps layout
 * under DIR (default dist). All or nothing: every environment is built and validated, and checked against its output
 * already in DIR (no store resized, moved or dropped), before the first file is written; each environment's folder
 * is then replaced whole.
 */
export function synth(args: readonly string[]): string[] {
  let outdir = 'dist';
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out' || args[i] === '--output') {
      outdir = args[++i] ?? '';
      if (!outdir) throw new Cd4mlValidationError([{ path: 'npm run synth', field: '--out', value: undefined, message: 'names no directory', fix: 'give one, e.g. --out dist' }]);
    } else {
      names.push(args[i]);
    }
  }
  const environments = names.length > 0 ? names.map((n) => environmentFromEnv(n)) : [environmentFromEnv()];
  const plans = environments.map((env) => ({ env, plan: loadStack(env) }));
  const built = plans.map(({ env, plan }) => ({ env, plan, output: synthesizeEnvironment(plan.definition) }));
  for (const { env, output } of built) guardDataOnResynth(outdir, env, [...output.platformObjects, ...output.pipelineObjects]);
  const notes: string[] = [];
  // the k3d configs are rendered (and checked) before anything is written too
  const clusters = built.filter(({ plan }) => plan.k3d).map(({ plan, output }) => k3dConfig(output, plan.k3d));
  for (const { env, plan, output } of built) {
    writeEnvironment(outdir, output, { argoCd: plan.argoCd });
    const client = clientConfig(output.platformChart.toJson());
    if (client) notes.push(notesOf(client, `cd4ml ${env} platform, written to ${outdir}/${env}/`));
  }
  for (const file of clusters) {
    mkdirSync(dirname(join(outdir, file.path)), { recursive: true });
    writeFileSync(`${join(outdir, file.path)}.tmp`, file.content);
    renameSync(`${join(outdir, file.path)}.tmp`, join(outdir, file.path));
    notes.push(`  k3d cluster for it: k3d cluster create --config ${join(outdir, file.path)}`);
  }
  return notes;
}

/** Runs {@link synth} as a command: notes on stderr, the report and exit code 1 on bad input. */
export function main(args: readonly string[]): void {
  try {
    for (const n of synth(args)) process.stderr.write(`${n}\n`);
  } catch (e) {
    process.stderr.write(`${e instanceof Cd4mlValidationError ? e.message : e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) main(process.argv.slice(2));
