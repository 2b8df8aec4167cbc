// Validates Kubernetes and Argo Workflows objects against the official schemas, as packaged by
// kubernetes-models and @kubernetes-models/argo-workflows (ESM-only, hence this script; the jest
// test runs it in a child process).
//
// Two passes:
//  1. the packages' compiled JSON-schema validators (types, enums, required fields);
//  2. a strict pass: every object becomes a TypeScript object literal typed by the package's model
//     interface, so the compiler's excess-property check rejects unknown fields, as
//     `kubectl apply --validate=strict` would.
//
// Usage: node test/schema/validate.mjs objects.json  ->  prints one JSON report on stdout.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const require = createRequire(import.meta.url);
const ts = require('typescript');

/** The module that models an apiVersion/kind. */
function modelModule(apiVersion, kind) {
  if (apiVersion.startsWith('argoproj.io/')) return `@kubernetes-models/argo-workflows/${apiVersion}/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

const given = JSON.parse(readFileSync(process.argv[2], 'utf8'));

// The Argo controller's ConfigMap holds documents of schema'd types as strings: check them as what they are.
const derived = [];
for (const cm of given.filter((o) => o.kind === 'ConfigMap' && o.data?.workflowDefaults !== undefined)) {
  const from = `(from ConfigMap ${cm.metadata.namespace}/${cm.metadata.name})`;
  derived.push({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { name: `workflow-defaults ${from}` }, ...JSON.parse(cm.data.workflowDefaults) });
  const containers = ['executor', 'mainContainer'].filter((k) => cm.data[k] !== undefined).map((k) => ({ name: k.toLowerCase(), ...JSON.parse(cm.data[k]) }));
  derived.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `container-defaults ${from}` }, spec: { containers } });
}
const objects = [...given, ...derived];
const report = { validated: 0, derived: derived.length, kinds: {}, errors: [], strictErrors: [] };
const label = (o, i) => `#${i} ${o.kind} ${o.metadata?.namespace ?? '-'}/${o.metadata?.name}`;

// Pass 1: JSON schema.
for (const [i, obj] of objects.entries()) {
  const spec = modelModule(obj.apiVersion, obj.kind);
  let Model;
  try {
    Model = (await import(spec))[obj.kind];
  } catch (err) {
    report.errors.push({ object: label(obj, i), message: `no schema for ${obj.apiVersion} ${obj.kind} (${spec}): ${err.message}` });
    continue;
  }
  try {
    new Model(obj).validate();
    report.validated++;
    report.kinds[obj.kind] = (report.kinds[obj.kind] ?? 0) + 1;
  } catch (err) {
    const details = (err.errors ?? []).map((e) => `${e.instancePath} ${e.message}`).join('; ');
    report.errors.push({ object: label(obj, i), message: details || err.message });
  }
}

// Pass 2: unknown fields, through the TypeScript compiler.
const dir = mkdtempSync(join(tmpdir(), 'cd4ml-schema-'));
try {
  const imports = new Map();
  const lines = [];
  for (const [i, obj] of objects.entries()) {
    const spec = modelModule(obj.apiVersion, obj.kind);
    const alias = `I${obj.kind}_${imports.size}`;
    if (!imports.has(spec)) imports.set(spec, alias);
    lines.push(`// ${label(obj, i)}`, `export const o${i}: ${imports.get(spec)} = ${JSON.stringify(obj)};`);
  }
  const head = [...imports.entries()].map(([spec, alias]) => `import type { I${spec.split('/').pop()} as ${alias} } from '${spec}';`);
  const file = join(dir, 'objects.ts');
  const source = [...head, ...lines].join('\n');
  writeFileSync(file, source);
  const program = ts.createProgram([file], {
    strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler,
    baseUrl: root, typeRoots: [], types: [],
    paths: { '*': [join(root, 'node_modules', '*')] },
  });
  const srcLines = source.split('\n');
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.file.fileName !== file) {
      report.strictErrors.push({ object: '(setup)', message });
      continue;
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    report.strictErrors.push({ object: (srcLines[line - 1] ?? '').replace(/^\/\/ /, ''), message: message.split('\n').slice(-1)[0] });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(report));
