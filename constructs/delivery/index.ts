// Level-2 delivery: what serves a registered model, what starts a delivery from a Git push, and the delivery itself.
export * from './delivery';
export * from './model-endpoint';
export * from './triggers';
