import { Cd4mlValidationError } from '../index';
import { environmentFromEnv, guardDataOnResynth, synthesizeStack } from './app';

// Runs before `cdk8s synth` (package.json "synth"): the cdk8s CLI deletes its output directory before it runs the
// app (cdk8s-cli lib/cli/cmds/synth.js), so the output already written must be compared here, first. On a change
// that would lose data it prints the report and exits non-zero, and `cdk8s synth` never runs: dist/ stays as it was.
try {
  const environment = environmentFromEnv();
  const stack = synthesizeStack(environment);
  guardDataOnResynth(process.env.CDK8S_OUTDIR || 'dist', environment, [...stack.platformObjects, ...stack.pipelineObjects]);
} catch (e) {
  process.stderr.write(`${e instanceof Cd4mlValidationError ? e.message : String(e)}\n`);
  process.exit(1);
}
