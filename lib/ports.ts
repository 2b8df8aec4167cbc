import { Problem } from './errors';

/** Checks a TCP port number (1-65535, whole). */
export function checkPort(value: number | undefined, site: { path: string; field: string }): Problem | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535) return undefined;
  return { ...site, value, message: 'is not a TCP port', fix: 'use a whole number from 1 to 65535' };
}
