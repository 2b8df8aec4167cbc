export * from './errors';
export * from './names';
export * from './quantity';
export * from './ports';
export * from './environments';
export * from './endpoint';
export * from './resources';
export * from './footprint';
export * from './graph';
export * from './duration';
export * from './mermaid';
export * from './cron';
export * from './upgrade';
export * from './credentials';
export * from './scheduling';
export * from './regions';
export * from './client-config';
export {
  validateObjects, validateDirectory, formatFinding, formatSummary, yamlFilesUnder,
} from './validate';
export type { ValidateOptions, ValidationReport, ValidationFinding, ValidationCheck, SchemaCoverage, StrictCoverage, KnownSecret } from './validate';
export * from './ci-trigger';
export * from './ci-template';
