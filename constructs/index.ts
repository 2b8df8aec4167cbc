// The constructs, one folder per concern; the dependency direction is k8s <- platform <- pipelines, delivery <- app.
export * from './k8s';
export * from './platform';
export * from './pipelines';
export * from './delivery';
export * from './app';
