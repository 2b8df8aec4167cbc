// The security-bar checks ship in the package (lib/validate, `cd4ml validate`); the tests use them from there.
export { securityViolations } from '../../lib/validate/security';
