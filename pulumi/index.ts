// The Pulumi side (`cd4ml/pulumi`): a component that deploys what the cdk8s constructs synthesize for an environment.
// Only this folder (and the stack program that uses it) imports @pulumi/*.
export * from './component';
