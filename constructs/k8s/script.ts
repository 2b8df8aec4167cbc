import { readFileSync } from 'fs';
import { join } from 'path';

/**
 * Reads a script that ships beside the component that runs it (for the ConfigMaps its Jobs mount): pass the
 * component's own `__dirname`. Scripts hold logic only, never a credential value.
 */
export function readScript(dir: string, name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}
