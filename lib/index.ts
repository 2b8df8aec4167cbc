export * from './errors';
export * from './names';
export * from './quantity';
export * from './ports';
export * from './environments';
export * from './endpoint';
export * from './resources';
export * from './footprint';
