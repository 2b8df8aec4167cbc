/**
 * cd4ml: a complete MLOps platform on Kubernetes and the ML pipelines that run on it, as typed cdk8s constructs.
 * This entry point exports every public construct and the framework-free core.
 */
export * from './lib';
export * from './constructs';
/** The generated Kubernetes L1 classes (an escape hatch), as cdk8s-plus-27 exports them. */
export { k8s } from 'cdk8s-plus-27';
