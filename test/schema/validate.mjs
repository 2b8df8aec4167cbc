// The schema check of the platform bar (test/platform-bar.test.ts runs this in a child process and reads its report
// synchronously). The checks themselves ship in the package: lib/validate/schemas.ts, behind `cd4ml validate`. This
// runs them from source, so a test never reads a stale build/: TypeScript files are transpiled as they are required.
//
// Usage: node test/schema/validate.mjs objects.json  ->  prints one JSON report on stdout:
//   { validated, derived, kinds, errors: [{ object, message }], strictErrors: [{ object, message }] }
// A kind without a schema is an error here (cd4ml renders none), and so is a skipped strict pass.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const ts = require('typescript');

// CommonJS's extension hook (deprecated, still the one synchronous way): type annotations are only stripped.
require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(outputText, filename);
};
const { checkSchemas } = require(join(root, 'lib/validate/schemas.ts'));

const objects = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const result = await checkSchemas(objects.map((object) => ({ object })), root);
const entry = (f) => ({ object: f.object, message: f.message });
const report = {
  validated: result.checked + result.embedded,
  derived: result.embedded,
  kinds: result.byKind,
  errors: [
    ...result.findings.filter((f) => f.check === 'schema').map(entry),
    ...Object.entries(result.notChecked).map(([kind, n]) => ({ object: kind, message: `no schema for ${n} ${kind} object(s)` })),
  ],
  strictErrors: [
    ...result.findings.filter((f) => f.check === 'strict-schema').map(entry),
    ...(result.strict.skipped ? [{ object: '(setup)', message: result.strict.skipped }] : []),
  ],
};
process.stdout.write(JSON.stringify(report));
