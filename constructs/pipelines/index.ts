// ML pipelines: the typed step graph and its rendering to Argo. They run on the platform's PipelineRunner;
// the platform never imports them.
export * from './pipeline';
export * from './values';
export * from './step-options';
