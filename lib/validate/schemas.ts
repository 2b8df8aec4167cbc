/**
 * The schema passes, on the official models of `kubernetes-models` and `@kubernetes-models/argo-workflows`:
 *
 *  1. the packages' compiled JSON-schema validators (types, enums, required fields);
 *  2. a strict pass: every object becomes a TypeScript object literal typed by the package's model interface, so the
 *     compiler's excess-property check rejects unknown fields, as `kubectl apply --validate=strict` would. It needs
 *     `typescript`, which is optional: without it the pass is skipped, and the report says why.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join, resolve as resolvePath } from 'path';
import { pathToFileURL } from 'url';
import { Worker } from 'worker_threads';
import type * as TS from 'typescript';
import { kindKey, Obj, objectLabel, parseEmbedded } from './manifests';
import { StrictCoverage, ValidationFinding } from './report';

/** An object to check, and the file it came from. */
export interface Located {
  /** The object: a Kubernetes object (apiVersion, kind and metadata.name are strings). */
  readonly object: Obj;
  /** The file that holds it. @default - none: given directly */
  readonly file?: string;
}

/** What the schema passes found and covered. */
export interface SchemaResult {
  /** `schema` and `strict-schema` findings. */
  readonly findings: ValidationFinding[];
  /** Objects validated against a schema (embedded documents aside). */
  readonly checked: number;
  /** Embedded documents validated. */
  readonly embedded: number;
  /** Objects and embedded documents checked, by kind. */
  readonly byKind: Record<string, number>;
  /** Objects no schema covers, by kind. */
  readonly notChecked: Record<string, number>;
  /** `apiVersion Kind` of the kinds no schema covers: foreign to the checks (the cluster provides them). */
  readonly foreignKinds: ReadonlySet<string>;
  /** The strict pass. */
  readonly strict: StrictCoverage;
}

/** A document to validate against a model, and how its findings name it. */
interface Subject {
  readonly object: Obj;
  /** The object the findings name (for an embedded document, the ConfigMap that holds it). */
  readonly label: string;
  readonly file?: string;
  /** Before each message of an embedded document: where in its ConfigMap it is. */
  readonly context: string;
  readonly embedded: boolean;
}

/** A subject with the model module of its kind. */
interface Modelled extends Subject {
  /** The model's JavaScript module (absolute path). */
  readonly module: string;
}

/** What the worker says of one document. */
type Verdict = { readonly status: 'valid' } | { readonly status: 'invalid'; readonly errors: string[] } | { readonly status: 'no-schema' } | { readonly status: 'error'; readonly message: string };

/** The packages that hold the models, first match wins: Argo's kinds, then everything else. */
const SCHEMA_PACKAGES: ReadonlyArray<{ readonly name: string; readonly covers: (apiVersion: string) => boolean }> = [
  { name: '@kubernetes-models/argo-workflows', covers: (v) => v.startsWith('argoproj.io/') },
  { name: 'kubernetes-models', covers: () => true },
];

/**
 * What an apiVersion and a kind may look like before they become part of a module path: they come from the manifests
 * being checked, and must never name a file outside the schema packages.
 */
const API_VERSION = /^(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?\/)?v[0-9]+(?:(?:alpha|beta)[0-9]+)?$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;

/**
 * Runs both schema passes over the objects, and over the documents Argo's controller ConfigMap embeds.
 * @param projectDir where `typescript` is looked for first (then beside cd4ml)
 */
export async function checkSchemas(objects: readonly Located[], projectDir: string): Promise<SchemaResult> {
  const findings: ValidationFinding[] = [];
  const subjects: Subject[] = [
    ...objects.map(({ object, file }) => ({ object, file, label: objectLabel(object), context: '', embedded: false })),
    ...objects.flatMap((o) => embeddedDocuments(o, findings)),
  ];
  const notChecked: Record<string, number> = {};
  const foreignKinds = new Set<string>();
  const modelled: Modelled[] = [];
  for (const s of subjects) {
    const module = modelModule(s.object.apiVersion, s.object.kind);
    if (module) modelled.push({ ...s, module });
    else noSchema(s);
  }
  const verdicts = await validateInWorker(modelled);
  const checkedSubjects: Modelled[] = [];
  const byKind: Record<string, number> = {};
  verdicts.forEach((v, i) => {
    const s = modelled[i];
    if (v.status === 'no-schema') return noSchema(s);
    if (v.status === 'error') throw new Error(`cd4ml validate: the schema of ${s.object.apiVersion} ${s.object.kind} (${s.module}) does not load: ${v.message}. Fix: reinstall cd4ml's dependencies (npm ci)`);
    checkedSubjects.push(s);
    byKind[s.object.kind] = (byKind[s.object.kind] ?? 0) + 1;
    if (v.status === 'invalid') findings.push({ file: s.file, object: s.label, check: 'schema', message: `${s.context}${v.errors.join('; ')}` });
  });
  const strict = strictPass(checkedSubjects, projectDir);
  findings.push(...strict.findings);
  return {
    findings,
    checked: checkedSubjects.filter((s) => !s.embedded).length,
    embedded: checkedSubjects.filter((s) => s.embedded).length,
    byKind,
    notChecked,
    foreignKinds,
    strict: strict.coverage,
  };

  function noSchema(s: Subject): void {
    notChecked[s.object.kind] = (notChecked[s.object.kind] ?? 0) + 1;
    foreignKinds.add(kindKey(s.object));
  }
}

/**
 * The documents of schema'd types Argo's controller ConfigMap holds as strings (`workflowDefaults` is a Workflow;
 * `executor` and `mainContainer` are containers), as what they are.
 */
function embeddedDocuments({ object: cm, file }: Located, findings: ValidationFinding[]): Subject[] {
  if (cm.kind !== 'ConfigMap' || cm.data?.workflowDefaults === undefined) return [];
  const label = objectLabel(cm);
  const read = (key: string): Obj | undefined => {
    let value: unknown;
    try {
      value = parseEmbedded(String(cm.data[key])) ?? {};
    } catch (e) {
      findings.push({ file, object: label, check: 'schema', message: `data.${key} is not YAML or JSON: ${(e as Error).message}` });
      return undefined;
    }
    if (typeof value === 'object' && !Array.isArray(value)) return value as Obj;
    findings.push({ file, object: label, check: 'schema', message: `data.${key} is not a mapping (Argo's controller reads it as one)` });
    return undefined;
  };
  const out: Subject[] = [];
  const defaults = read('workflowDefaults');
  if (defaults) {
    out.push({ object: { ...defaults, apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { name: 'workflow-defaults' } }, label, file, context: 'data.workflowDefaults (a Workflow): ', embedded: true });
  }
  const containers = ['executor', 'mainContainer'].filter((k) => cm.data[k] !== undefined).flatMap((k) => {
    const c = read(k);
    return c ? [{ name: k.toLowerCase(), ...c }] : [];
  });
  if (containers.length > 0) {
    out.push({ object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'container-defaults' }, spec: { containers } }, label, file, context: 'data.executor/mainContainer (containers): ', embedded: true });
  }
  return out;
}

/** The JavaScript module that models an apiVersion and kind, when one of the schema packages has it. */
function modelModule(apiVersion: string, kind: string): string | undefined {
  if (!API_VERSION.test(apiVersion) || !KIND.test(kind)) return undefined;
  const pkg = SCHEMA_PACKAGES.find((p) => p.covers(apiVersion))!;
  const file = join(packageRoot(pkg.name), ...apiVersion.split('/'), `${kind}.js`);
  return existsSync(file) ? file : undefined;
}

const roots = new Map<string, string>();

/** Where a schema package is installed: resolved from cd4ml itself, so it is the version cd4ml was tested with. */
function packageRoot(name: string): string {
  let root = roots.get(name);
  if (root === undefined) {
    try {
      root = dirname(require.resolve(`${name}/package.json`));
    } catch (e) {
      throw new Error(`cd4ml validate: cannot find ${name}, a dependency of cd4ml (from ${__dirname}): ${(e as Error).message}. Fix: reinstall cd4ml's dependencies (npm ci)`);
    }
    roots.set(name, root);
  }
  return root;
}

/**
 * The JSON-schema pass, run in a worker thread. The schema packages are ESM-only and this package is CommonJS, so
 * they load only through `import()`; but TypeScript compiles `import()` to `require()` here, and jest's module
 * sandbox refuses a dynamic import outright. A worker thread loads modules with Node's own loader. The code is a
 * string, so no file needs copying into `build/`.
 */
const SCHEMA_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
async function verdict(item) {
  let model;
  try {
    model = (await import(item.url))[item.kind];
  } catch (e) {
    return { status: 'error', message: String((e && e.message) || e) };
  }
  // a module of a nested type (PodSpec, Template) models no top-level kind
  if (typeof model !== 'function' || model.kind !== item.kind || model.apiVersion !== item.apiVersion) return { status: 'no-schema' };
  try {
    new model(item.object).validate();
    return { status: 'valid' };
  } catch (e) {
    const errors = Array.isArray(e && e.errors) ? e.errors.map((x) => (x.instancePath || '/') + ' ' + x.message) : [String((e && e.message) || e)];
    return { status: 'invalid', errors };
  }
}
(async () => {
  const verdicts = [];
  for (const item of workerData) verdicts.push(await verdict(item));
  parentPort.postMessage(verdicts);
})();
`;

/** Validates each subject against its model's JSON schema, in a worker thread (see {@link SCHEMA_WORKER}). */
function validateInWorker(subjects: readonly Modelled[]): Promise<Verdict[]> {
  if (subjects.length === 0) return Promise.resolve([]);
  const items = subjects.map((s) => ({ url: pathToFileURL(s.module).href, apiVersion: s.object.apiVersion, kind: s.object.kind, object: s.object }));
  return new Promise((resolve, reject) => {
    const worker = new Worker(SCHEMA_WORKER, { eval: true, workerData: items });
    worker.once('message', (verdicts: Verdict[]) => resolve(verdicts));
    worker.once('error', reject);
    // after a message this settles nothing: the promise is resolved already
    worker.once('exit', (code) => reject(new Error(`cd4ml validate: the schema worker stopped (exit code ${code}) before it answered. Fix: run again; if it persists, report it with the manifests`)));
  });
}

/** The outcome of the strict pass. */
interface StrictOutcome {
  readonly findings: ValidationFinding[];
  readonly coverage: StrictCoverage;
}

/** The unknown-field pass: every subject type-checked against its model's interface. */
function strictPass(subjects: readonly Modelled[], projectDir: string): StrictOutcome {
  const loaded = loadTypeScript(projectDir);
  if (typeof loaded === 'string') return { findings: [], coverage: { checked: 0, skipped: loaded } };
  if (subjects.length === 0) return { findings: [], coverage: { checked: 0 } };
  const ts = loaded;
  const dir = mkdtempSync(join(tmpdir(), 'cd4ml-validate-'));
  try {
    const { source, subjectAtLine } = objectsAsTypeScript(subjects);
    const file = join(dir, 'objects.ts').replace(/\\/g, '/');
    writeFileSync(file, source);
    const program = ts.createProgram([file], {
      strict: true, noEmit: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, typeRoots: [], types: [],
    });
    const findings: ValidationFinding[] = [];
    for (const d of ts.getPreEmitDiagnostics(program)) {
      // the last line of the chain names the field; the keys are quoted JSON in the module, not in the manifest
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n').slice(-1)[0].trim().replace(/'"([^"']*)"'/g, "'$1'");
      const s = d.file && d.file.fileName === file && d.start !== undefined ? subjectAtLine.get(d.file.getLineAndCharacterOfPosition(d.start).line) : undefined;
      // anything else means this TypeScript cannot read the models: a setup problem, not the manifests'
      if (!s || d.code === 2307 || d.code === 2305) return { findings: [], coverage: { checked: 0, skipped: `typescript ${ts.version} cannot read the schema types (${message}). Fix: install typescript 5 or newer (npm install --save-dev typescript@5)` } };
      findings.push({ file: s.file, object: s.label, check: 'strict-schema', message: `${s.context}${fieldPath(ts, d.file!, d.start!)}: ${message}` });
    }
    // embedded documents are counted apart, as in the schema pass
    return { findings, coverage: { checked: subjects.filter((s) => !s.embedded).length } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How a module is found: `require.resolve`'s signature. */
type Resolve = (id: string, options?: { paths?: string[] }) => string;

/**
 * The TypeScript compiler: the validated project's own, else the one beside cd4ml; or why the pass is skipped.
 * It is optional: cd4ml does not depend on it.
 * @param resolve how to find it (tests pass one that finds nothing) @default require.resolve
 */
export function loadTypeScript(projectDir: string, resolve: Resolve = require.resolve): typeof TS | string {
  let path: string;
  try {
    path = resolve('typescript', { paths: [projectDir] });
  } catch {
    try {
      path = resolve('typescript');
    } catch {
      return `typescript is not installed (looked from ${resolvePath(projectDir)} and from cd4ml). Fix: npm install --save-dev typescript, to also catch unknown fields`;
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require(path) as typeof TS;
  if (!('Bundler' in ts.ModuleResolutionKind)) return `typescript ${ts.version} (${path}) is older than 5.0 and cannot read the schema types. Fix: npm install --save-dev typescript@5`;
  return ts;
}

/**
 * One TypeScript module: each subject as a constant typed by its model's interface (`IPod`, `IWorkflow`, ...),
 * one line each, and which subject each line holds.
 */
function objectsAsTypeScript(subjects: readonly Modelled[]): { source: string; subjectAtLine: Map<number, Modelled> } {
  const aliases = new Map<string, string>();
  for (const s of subjects) if (!aliases.has(s.module)) aliases.set(s.module, `T${aliases.size}`);
  const head = [...aliases].map(([module, alias]) => {
    const kind = module.replace(/\\/g, '/').split('/').pop()!.replace(/\.js$/, '');
    return `import type { I${kind} as ${alias} } from ${JSON.stringify(module.replace(/\\/g, '/').replace(/\.js$/, ''))};`;
  });
  const subjectAtLine = new Map<number, Modelled>();
  const lines = subjects.map((s, i) => {
    subjectAtLine.set(head.length + i, s);
    return `export const o${i}: ${aliases.get(s.module)} = ${JSON.stringify(s.object)};`;
  });
  return { source: [...head, ...lines].join('\n'), subjectAtLine };
}

/** `/spec/template/spec/containers/0/imagePullPolicyy`: the field a diagnostic points at, in its object. */
function fieldPath(ts: typeof TS, file: TS.SourceFile, pos: number): string {
  const path: string[] = [];
  let node: TS.Node = file;
  for (;;) {
    const child: TS.Node | undefined = ts.forEachChild(node, (c) => (c.getStart(file) <= pos && pos < c.getEnd() ? c : undefined));
    if (!child) break;
    if (ts.isPropertyAssignment(child)) path.push(ts.isStringLiteral(child.name) || ts.isIdentifier(child.name) ? child.name.text : child.name.getText(file));
    else if (ts.isArrayLiteralExpression(node)) path.push(String(node.elements.indexOf(child as TS.Expression)));
    node = child;
  }
  return `/${path.join('/')}`;
}
