// The reference checks ship in the package (lib/validate, `cd4ml validate`); the tests use them from there.
export { danglingReferences } from '../../lib/validate/references';
export type { KnownSecret } from '../../lib/validate/references';
