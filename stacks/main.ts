import { clientConfig, notesOf } from '../lib';
import { buildApp, environmentFromEnv, guardDataOnResynth } from './app';

// The entry point `cdk8s synth` runs (cdk8s.yaml). Synthesis validates everything first and writes nothing on error:
// every construct's validation, then the stores already in the output directory against the new output.
const environment = environmentFromEnv();
// the cdk8s CLI says where to write (--output, or a temporary directory it prints for --stdout)
const { app, platform, pipelines } = buildApp(environment, process.env.CDK8S_OUTDIR || 'dist');
app.synthYaml();
guardDataOnResynth(app.outdir, environment, [...platform.toJson(), ...pipelines.toJson()]);
app.synth();
// where everything is, for people (on stderr: `cdk8s synth --stdout` stays only manifests)
const client = clientConfig(platform.toJson());
if (client) process.stderr.write(`${notesOf(client, `cd4ml ${environment} platform, written to ${app.outdir}`)}\n`);
