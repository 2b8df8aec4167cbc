// The constructs, one folder per concern; the dependency direction is k8s <- platform <- pipelines.
export * from './k8s';
export * from './platform';
export * from './pipelines';
export * from './app';
