import { readFileSync } from 'fs';
import { join } from 'path';

/**
 * Reads a script that ships beside the constructs (`constructs/scripts/`), for ConfigMaps that Jobs run.
 * Scripts hold logic only, never a credential value.
 */
export function readScript(name: string): string {
  return readFileSync(join(__dirname, 'scripts', name), 'utf8');
}
