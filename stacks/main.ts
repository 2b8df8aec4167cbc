import { buildApp, environmentFromEnv } from './app';

// The entry point `cdk8s synth` runs (cdk8s.yaml). Synthesis validates everything first and writes nothing on error.
buildApp(environmentFromEnv()).app.synth();
