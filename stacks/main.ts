import { buildApp, environmentFromEnv, guardDataOnResynth } from './app';

// The entry point `cdk8s synth` runs (cdk8s.yaml). Synthesis validates everything first and writes nothing on error:
// every construct's validation, then the stores already in the output directory against the new output.
const environment = environmentFromEnv();
const { app, platform, pipelines } = buildApp(environment);
app.synthYaml();
guardDataOnResynth(app.outdir, environment, [...platform.toJson(), ...pipelines.toJson()]);
app.synth();
