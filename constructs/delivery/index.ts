// Level-2 delivery: what serves a registered model, and what starts a delivery from a Git push.
export * from './model-endpoint';
export * from './triggers';
