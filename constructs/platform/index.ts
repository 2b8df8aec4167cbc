// The platform's components (object store, database, tracking server, workflow engine, pipeline runner,
// credentials) and the Platform that composes them. They build on k8s/; nothing here imports pipelines/.
export * from './argo-crds';
export * from './credentials-generator';
export * from './database';
export * from './ingress';
export * from './object-store';
export * from './pipeline-runner';
export * from './platform';
export * from './seaweedfs';
export * from './tracking-server';
export * from './workflow-controller';
export * from './workflow-engine';
