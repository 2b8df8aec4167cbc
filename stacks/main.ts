import { clientConfig, notesOf, singleFile, synthesizeEnvironment } from '../index';
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { environmentFromEnv, loadStack } from './app';

// The entry point `cdk8s synth` runs (cdk8s.yaml): the environment (CD4ML_ENV) as one file in apply order, where the
// CLI says (`--output DIR`, or a temporary directory it prints for `--stdout`). The CLI empties that directory
// before it runs this app (cdk8s-cli lib/cli/cmds/synth.js), so cdk8s.yaml points it at dist/cdk8s, away from the
// GitOps layout `npm run synth` writes and guards (stacks/synth.ts). Everything is validated before anything is
// written.
const environment = environmentFromEnv();
const synthesized = synthesizeEnvironment(loadStack(environment).definition);
const outdir = process.env.CDK8S_OUTDIR || join('dist', 'cdk8s');
const file = singleFile(synthesized);
mkdirSync(outdir, { recursive: true });
writeFileSync(join(outdir, file.path), file.content);
// where everything is, for people (on stderr: `cdk8s synth --stdout` stays only manifests)
const client = clientConfig(synthesized.platformChart.toJson());
if (client) process.stderr.write(`${notesOf(client, `cd4ml ${environment} platform, written to ${join(outdir, file.path)}`)}\n`);
