import { run } from './pulumi-program';

// The entry point Pulumi.yaml names: `pulumi up --stack <sandbox|dev|staging|prod>`. Its exports are the stack outputs.
const { outputs } = run();
export = outputs;
