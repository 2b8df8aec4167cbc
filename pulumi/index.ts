// The Pulumi side: a component that deploys what the cdk8s constructs synthesize, and the stack config it reads.
// Only this folder (and the stack program that uses it) imports @pulumi/*.
export * from './component';
export * from './config';
