#!/usr/bin/env node
/**
 * `cd4ml graph [dist] [--out DIR]`: draws the DAG of every pipeline a stack synthesized, as Mermaid flowcharts.
 * It reads the WorkflowTemplates in the synthesized manifests (`cdk8s synth` first), so it shows exactly what
 * will be deployed, whichever stack declared it.
 *
 * `cd4ml env [dist] [--out FILE]`: the client configuration of the platform in the synthesized manifests, as a
 * `.env` file (`MLFLOW_TRACKING_URI`, `ARGO_SERVER`, `ARGO_NAMESPACE`, ...) with the commands that fetch the
 * credentials; no secret is written.
 *
 * `cd4ml validate DIR [--known-secret NS/NAME:KEY,...]... [--known-namespace NS]... [--json]`: checks every manifest under DIR (a GitOps
 * repository) as cd4ml's tests check its own output: the official schemas, unknown fields, references that resolve to
 * nothing, the security bar. Exit code 0 when it passes, 1 on findings, 2 on a usage error.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';
import { ClientObject, clientConfig, toDotEnv } from './client-config';
import { MermaidNode, stepLabel, toMermaidFlowchart } from './mermaid';
import { formatFinding, formatSummary, KnownSecret, validateDirectory, ValidationReport } from './validate';

interface Task { name: string; template: string; dependencies?: string[]; withItems?: unknown[]; withParam?: string; withSequence?: unknown }
interface WorkflowTemplate {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: { entrypoint: string; templates: Array<{ name: string; dag?: { tasks: Task[] }; container?: { image?: string; resources?: { limits?: Record<string, unknown> } }; memoize?: unknown }> };
}

/** Renders the DAG of one WorkflowTemplate. */
export function workflowTemplateToMermaid(wt: WorkflowTemplate): string {
  const templates = new Map(wt.spec.templates.map((t) => [t.name, t]));
  const dag = templates.get(wt.spec.entrypoint)?.dag;
  if (!dag) throw new Error(`WorkflowTemplate ${wt.metadata.name}: its entrypoint ${wt.spec.entrypoint} is not a DAG`);
  const nodes: MermaidNode[] = dag.tasks.map((task) => {
    const t = templates.get(task.template);
    const gpus = Number(Object.entries(t?.container?.resources?.limits ?? {}).find(([k]) => k.endsWith('/gpu'))?.[1] ?? 0);
    const label = stepLabel(task.name, { gpus, fanOut: !!(task.withItems || task.withParam || task.withSequence), cached: !!t?.memoize });
    return { id: task.name, label, dependsOn: task.dependencies ?? [] };
  });
  return toMermaidFlowchart(wt.metadata.name, nodes);
}

/** Every object in the YAML files under a directory (an environment's GitOps folder, or a flat output), in order. */
function readObjects(dir: string): ClientObject[] {
  // (not a folder a write set aside, nor .git: names starting with a dot)
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => /\.ya?ml$/.test(f) && !/(^|\/)kustomization\.ya?ml$/.test(f) && !/(^|\/)\./.test(f)).sort();
  return files.flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJSON() as ClientObject)).filter((o) => o && typeof o.kind === 'string');
}

/** Every WorkflowTemplate in the YAML files of a directory. */
export function readWorkflowTemplates(dir: string): WorkflowTemplate[] {
  return readObjects(dir).filter((o) => o.kind === 'WorkflowTemplate') as unknown as WorkflowTemplate[];
}

/**
 * The manifests' directory (the first positional argument, `dist` by default, which must exist) and `--out`, or
 * the exit code after saying what is wrong.
 */
function whereFrom(command: string, rest: string[], outIs: string, example: string, error: (line: string) => void): { dist: string; out?: string } | number {
  const outAt = rest.indexOf('--out');
  const out = outAt >= 0 ? rest[outAt + 1] : undefined;
  if (outAt >= 0 && !out) {
    error(`cd4ml ${command}: --out needs ${outIs}. Fix: ${example}`);
    return 2;
  }
  const positional = outAt >= 0 ? [...rest.slice(0, outAt), ...rest.slice(outAt + 2)] : rest;
  const dist = positional[0] ?? 'dist';
  if (!exists(dist)) {
    error(`cd4ml ${command}: ${dist} does not exist. Fix: synthesize first (npm run synth, or cdk8s synth), or name the directory of the manifests`);
    return 1;
  }
  return { dist, out };
}

/** `cd4ml env`: the client configuration of the platform in `dist`, to stdout or a file. */
function env(rest: string[], log: (line: string) => void, error: (line: string) => void): number {
  const where = whereFrom('env', rest, 'a file', 'cd4ml env dist --out cd4ml.env', error);
  if (typeof where === 'number') return where;
  const { dist, out } = where;
  const objects = readObjects(dist);
  const platforms = objects.filter((o) => o.kind === 'Service' && o.metadata.labels?.['app.kubernetes.io/component'] === 'tracking-server');
  if (platforms.length > 1) {
    error(`cd4ml env: ${dist} holds ${platforms.length} platforms (MLflow in ${platforms.map((p) => p.metadata.namespace).join(', ')}). Fix: synthesize one environment per directory (cdk8s synth --output DIR)`);
    return 1;
  }
  const config = clientConfig(objects);
  if (!config) {
    error(`cd4ml env: no cd4ml platform in ${dist} (no MLflow and argo-server Services). Fix: declare a Platform in the stack and synthesize it`);
    return 1;
  }
  const text = toDotEnv(config, `the platform in ${dist}`);
  if (out) {
    writeFileSync(out, text);
    log(`wrote ${out}`);
  } else {
    log(text.trimEnd());
  }
  return 0;
}

const VALIDATE_USAGE = 'cd4ml validate DIR [--known-secret NS/NAME:KEY1,KEY2]... [--known-namespace NS]... [--json]';

/** What `cd4ml validate` was asked: the directory, the Secrets supplied outside it, and the output format. */
interface ValidateArgs {
  readonly dir: string;
  readonly knownSecrets: KnownSecret[];
  readonly knownNamespaces: string[];
  readonly json: boolean;
}

/**
 * `--known-secret ns/name:key1,key2` as a Secret (the keys it holds), or undefined when it is not of that form. The
 * names follow Kubernetes' rules (a DNS label for the namespace, a DNS subdomain for the name; keys as in a Secret).
 */
function parseKnownSecret(text: string): KnownSecret | undefined {
  const m = /^([a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\/([a-z0-9](?:[-.a-z0-9]*[a-z0-9])?):([-._a-zA-Z0-9]+(?:,[-._a-zA-Z0-9]+)*)$/.exec(text);
  return m ? { namespace: m[1], name: m[2], keys: m[3].split(',') } : undefined;
}

/** The arguments of `cd4ml validate`, or the message of a usage error. */
function validateArgs(rest: readonly string[]): ValidateArgs | string {
  const positional: string[] = [];
  const knownSecrets: KnownSecret[] = [];
  const knownNamespaces: string[] = [];
  let json = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--json') {
      json = true;
    } else if (arg === '--known-secret' || arg.startsWith('--known-secret=')) {
      const value = arg === '--known-secret' ? rest[++i] : arg.slice('--known-secret='.length);
      const secret = value === undefined ? undefined : parseKnownSecret(value);
      if (!secret) return `--known-secret ${value === undefined ? 'needs a value' : `${JSON.stringify(value)} is not NS/NAME:KEY1,KEY2`}. Fix: e.g. --known-secret cd4ml/postgres-mlflow:username,password`;
      knownSecrets.push(secret);
    } else if (arg === '--known-namespace' || arg.startsWith('--known-namespace=')) {
      const value = arg === '--known-namespace' ? rest[++i] : arg.slice('--known-namespace='.length);
      if (value === undefined || !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value)) return `--known-namespace ${value === undefined ? 'needs a value' : `${JSON.stringify(value)} is not a namespace name`}. Fix: e.g. --known-namespace ingress-nginx`;
      knownNamespaces.push(value);
    } else if (arg.startsWith('-')) {
      return `unknown option ${JSON.stringify(arg)}. Fix: use --known-secret, --known-namespace or --json`;
    } else {
      positional.push(arg);
    }
  }
  if (positional.length !== 1) return positional.length === 0 ? 'no directory given. Fix: name the directory of the manifests, e.g. cd4ml validate dist' : `one directory expected, got ${positional.length} (${positional.join(', ')}). Fix: validate one directory at a time`;
  if (!exists(positional[0])) return `${positional[0]} is not a directory. Fix: synthesize first (npm run synth, or cdk8s synth), or name the directory of the manifests`;
  return { dir: positional[0], knownSecrets, knownNamespaces, json };
}

/** `cd4ml validate`: the findings, one a line, and a summary (or the report as JSON); 1 when anything was found. */
async function validate(rest: readonly string[], log: (line: string) => void, error: (line: string) => void): Promise<number> {
  const args = validateArgs(rest);
  if (typeof args === 'string') {
    error(`cd4ml validate: ${args}`);
    error(`usage: ${VALIDATE_USAGE}`);
    return 2;
  }
  let report: ValidationReport;
  try {
    report = await validateDirectory(args.dir, { knownSecrets: args.knownSecrets, knownNamespaces: args.knownNamespaces });
  } catch (e) {
    // the validator could not run (a file unreadable, a dependency missing): its message says what and the fix
    error((e as Error).message);
    return 1;
  }
  if (args.json) {
    log(JSON.stringify(report, null, 2));
  } else {
    for (const f of report.findings) log(formatFinding(f));
    if (report.strict.skipped !== undefined) log(`cd4ml validate: the unknown-field pass was skipped: ${report.strict.skipped}`);
    log(formatSummary(report));
  }
  return report.findings.length === 0 ? 0 : 1;
}

/** Runs the CLI; returns the exit code (a promise of it for `validate`, which loads the schemas asynchronously). */
export function main(argv: string[], log: (line: string) => void = console.log, error: (line: string) => void = console.error): number | Promise<number> {
  const [command, ...rest] = argv;
  const usage = [
    'usage: cd4ml graph [DIST_DIR] [--out DIR]   (draws every pipeline in the synthesized manifests as Mermaid)',
    '       cd4ml env [DIST_DIR] [--out FILE]    (the client configuration of the synthesized platform, as a .env file)',
    `       ${VALIDATE_USAGE}`,
    '                                            (checks every manifest under DIR: schemas, unknown fields, references,',
    '                                             the security bar; exit code 0 when it passes, 1 on findings, 2 on usage)',
  ].join('\n');
  if (command === undefined || ['--help', '-h', 'help'].includes(command) || (['graph', 'env', 'validate'].includes(command) && rest.some((a) => a === '--help' || a === '-h'))) {
    // asked for help: the usage, on stdout, and success; called with nothing: the same, as an error
    (command === undefined ? error : log)(usage);
    return command === undefined ? 2 : 0;
  }
  if (command === 'env') return env(rest, log, error);
  if (command === 'validate') return validate(rest, log, error);
  if (command !== 'graph') {
    error(`cd4ml: unknown command ${JSON.stringify(command)}. ${usage}`);
    return 2;
  }
  const where = whereFrom('graph', rest, 'a directory', 'cd4ml graph dist --out graphs', error);
  if (typeof where === 'number') return where;
  const { dist, out } = where;
  const templates = readWorkflowTemplates(dist);
  if (templates.length === 0) {
    error(`cd4ml graph: no WorkflowTemplate in ${dist}. Fix: declare a Pipeline in the stack and synthesize it`);
    return 1;
  }
  if (out) mkdirSync(out, { recursive: true });
  for (const wt of templates) {
    let mermaid: string;
    try {
      mermaid = workflowTemplateToMermaid(wt);
    } catch (e) {
      error(`cd4ml graph: ${(e as Error).message}. Fix: draw only DAG pipelines (cd4ml renders every Pipeline as a DAG)`);
      return 1;
    }
    if (out) {
      const file = join(out, `${wt.metadata.name}.mmd`);
      writeFileSync(file, mermaid);
      log(`wrote ${file}`);
    } else {
      log(mermaid);
    }
  }
  return 0;
}

function exists(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

if (require.main === module) {
  void Promise.resolve(main(process.argv.slice(2))).then((code) => {
    process.exitCode = code;
  });
}
