// Placeholder until the Pulumi issue lands: the program will deploy exactly the objects the cdk8s constructs
// synthesize (see stacks/app.ts). It fails loudly instead of pretending to deploy.
throw new Error('cd4ml: the Pulumi program is not implemented yet; use `npm run synth` and kubectl apply the files in dist/');
