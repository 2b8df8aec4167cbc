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
 *
 * `cd4ml ci trigger [--host github|gitlab] [--ref REF] [--revision SHA] [--repository URL] [--namespace NS] [--dir DIR]`:
 * sends argo-server the push webhook the Git host would send for the current commit, signed with the shared secret
 * from `CD4ML_WEBHOOK_SECRET` (never from the command line), so a laptop starts the delivery as a push does. Exit code 0
 * when argo-server took it, 1 when it answered otherwise, 2 on a usage error.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';
import { buildPushRequest, checkoutFacts, DEFAULT_REF_RULES, environmentForRef, GitHost, repositoryUrl, sendPushRequest } from './ci-trigger';
import { versionedTemplate } from './ci-template';
import { ClientObject, clientConfig, toDotEnv } from './client-config';
import { isCredentialFlag } from './credentials';
import { MermaidNode, stepLabel, toMermaidFlowchart } from './mermaid';
import { formatFinding, formatSummary, KnownSecret, validateDirectory, ValidationReport, yamlFilesUnder } from './validate';

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
  const files = yamlFilesUnder(dir).filter((f) => !/(^|\/)kustomization\.ya?ml$/.test(f));
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

const CI_USAGE = 'cd4ml ci trigger [--host github|gitlab] [--ref REF] [--revision SHA] [--repository URL] [--namespace NS] [--dir DIR]';
const CI_TEMPLATE_USAGE = 'cd4ml ci template --dir DIR --pipeline NAME --revision SHA --image REPO@sha256:DIGEST --replace IMAGE... --namespace NS --out FILE [--ref REF]';

/**
 * `cd4ml ci template`: the delivery's render step. Writes the pipeline's WorkflowTemplate for one commit, as JSON, with
 * the built image pinned by digest ({@link versionedTemplate}).
 */
function ciTemplate(rest: readonly string[], log: (line: string) => void, error: (line: string) => void): number {
  const values: Record<string, string[]> = {};
  const options = ['--dir', '--pipeline', '--revision', '--image', '--replace', '--namespace', '--out', '--ref'];
  const usageError = (message: string): number => {
    error(`cd4ml ci template: ${message}`);
    error(`usage: ${CI_TEMPLATE_USAGE}`);
    return 2;
  };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (!options.includes(flag)) return usageError(`${flag.startsWith('-') ? `unknown option ${JSON.stringify(flag)}` : `unexpected argument ${JSON.stringify(flag)}`}. Fix: use ${options.join(', ')}`);
    const value = inline ?? rest[++i];
    if (value === undefined || (value === '' && flag !== '--ref')) return usageError(`${flag} needs a value`);
    (values[flag] ??= []).push(value);
  }
  const missing = options.filter((o) => !['--ref'].includes(o) && values[o] === undefined);
  if (missing.length > 0) return usageError(`${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing`);
  const one = (o: string) => values[o][values[o].length - 1];
  let template: Record<string, unknown>;
  try {
    template = versionedTemplate({ dir: one('--dir'), pipeline: one('--pipeline'), revision: one('--revision'), ref: values['--ref'] ? one('--ref') : '', image: one('--image'), replace: values['--replace'], namespace: one('--namespace') });
  } catch (e) {
    error(`cd4ml ci template: ${(e as Error).message}`);
    return 1;
  }
  const out = one('--out');
  writeFileSync(`${out}.tmp`, `${JSON.stringify(template, null, 2)}\n`);
  renameSync(`${out}.tmp`, out);
  const meta = template.metadata as { name: string; namespace: string };
  log(`cd4ml ci template: wrote WorkflowTemplate ${meta.namespace}/${meta.name} to ${out}, running ${one('--image')}`);
  return 0;
}

/** The variable `cd4ml ci trigger` reads the webhook's shared secret from (never argv: any user's `ps` shows it). */
const SECRET_ENV = 'CD4ML_WEBHOOK_SECRET';

/** What `cd4ml ci trigger` was asked: the host, the overrides of what Git says, the namespace and the checkout. */
interface CiTriggerArgs {
  readonly host: GitHost;
  readonly ref?: string;
  readonly revision?: string;
  readonly repository?: string;
  readonly namespace: string;
  readonly dir: string;
}

/** The arguments of `cd4ml ci trigger`, or the message of a usage error (which never repeats a credential's value). */
function ciTriggerArgs(rest: readonly string[]): CiTriggerArgs | string {
  if (rest[0] !== 'trigger') return `${rest[0] === undefined ? 'no subcommand given' : `unknown subcommand ${JSON.stringify(rest[0])}`}. Fix: cd4ml ci trigger, or cd4ml ci template`;
  const values: Record<string, string> = {};
  const options = ['--host', '--ref', '--revision', '--repository', '--namespace', '--dir'];
  for (let i = 1; i < rest.length; i++) {
    const arg = rest[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (isCredentialFlag(flag)) return `${flag} is not taken: the secret is read from ${SECRET_ENV} only, since every user of the machine can read a command line. Fix: export ${SECRET_ENV}=... and drop ${flag}`;
    if (!options.includes(flag)) return `${flag.startsWith('-') ? `unknown option ${JSON.stringify(flag)}` : `unexpected argument ${JSON.stringify(flag)}`}. Fix: use ${options.join(', ')}`;
    const value = inline ?? rest[++i];
    if (value === undefined || value === '') return `${flag} needs a value. Fix: e.g. ${flag} ${({ '--host': 'gitlab', '--ref': 'refs/heads/main', '--revision': '<40 hex characters>', '--repository': 'https://github.com/acme/model.git', '--namespace': 'cd4ml-ci', '--dir': '.' } as Record<string, string>)[flag]}`;
    values[flag] = value;
  }
  const host = values['--host'] ?? GitHost.GITHUB;
  if (!(Object.values(GitHost) as string[]).includes(host)) return `--host ${JSON.stringify(host)} is not a Git host cd4ml signs for. Fix: --host github or --host gitlab`;
  const namespace = values['--namespace'] ?? 'cd4ml-ci';
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) return `--namespace ${JSON.stringify(namespace)} is not a namespace name. Fix: e.g. --namespace cd4ml-ci`;
  return { host: host as GitHost, ref: values['--ref'], revision: values['--revision'], repository: values['--repository'], namespace, dir: values['--dir'] ?? '.' };
}

/**
 * `cd4ml ci trigger`: the push the Git host would send for the checkout's current commit, signed as the host signs it
 * and posted to argo-server's events endpoint (`ARGO_SERVER`, `ARGO_SECURE`, `ARGO_INSECURE_SKIP_VERIFY` as `cd4ml env`
 * writes them). Prints what it sent (never the secret) and what argo-server answered.
 */
async function ci(rest: readonly string[], log: (line: string) => void, error: (line: string) => void): Promise<number> {
  const args = ciTriggerArgs(rest);
  const usageError = (message: string): number => {
    error(`cd4ml ci trigger: ${message}`);
    error(`usage: ${CI_USAGE}`);
    return 2;
  };
  if (typeof args === 'string') return usageError(args);
  const secret = process.env[SECRET_ENV];
  if (!secret) return usageError(`${SECRET_ENV} is not set. Fix: export ${SECRET_ENV} with the secret the Git host's webhook signs with (the "secret:" of your entry in the argo-workflows-webhook-clients Secret)`);
  const server = process.env.ARGO_SERVER;
  if (!server) return usageError('ARGO_SERVER is not set. Fix: load the platform\'s client configuration (npx cd4ml env > cd4ml.env; set -a; . ./cd4ml.env; set +a), or export ARGO_SERVER=localhost:2746');
  const facts = args.ref && args.revision && args.repository ? {} : checkoutFacts(args.dir);
  const revision = args.revision ?? facts.revision;
  const ref = args.ref ?? facts.ref;
  const remote = args.repository ?? facts.origin;
  if (!revision || !/^([0-9a-f]{40}|[0-9a-f]{64})$/.test(revision)) return usageError(`${revision === undefined ? `${args.dir} has no commit Git can name` : `--revision ${JSON.stringify(revision)} is not a full commit name`}. Fix: run it in a Git checkout, or give --revision with the 40 hex characters of the commit (git rev-parse HEAD)`);
  if (!ref || !/^refs\/(heads|tags)\/[^\s]+$/.test(ref)) return usageError(`${ref === undefined ? 'HEAD is on no branch and no tag points at it' : `--ref ${JSON.stringify(ref)} is not a full branch or tag ref`}. Fix: give --ref refs/heads/<branch> or --ref refs/tags/<tag>`);
  const repo = remote === undefined ? undefined : repositoryUrl(remote);
  if (!repo) return usageError(`${remote === undefined ? `${args.dir} has no remote "origin"` : '--repository (or origin) is not the URL of a repository on a host'}. Fix: give --repository https://<host>/<owner>/<name>.git`);
  const environment = environmentForRef(DEFAULT_REF_RULES, ref);
  const request = buildPushRequest({ host: args.host, ref, revision, repository: repo.cloneUrl }, { server, secure: process.env.ARGO_SECURE?.toLowerCase() !== 'false', namespace: args.namespace }, secret);
  log(`cd4ml ci trigger: POST ${request.url} as a ${args.host} push (signed with ${SECRET_ENV})`);
  log(`  ref:        ${ref}`);
  log(`  revision:   ${revision}`);
  log(`  repository: ${repo.cloneUrl}`);
  log(`  delivers to ${environment ?? 'no environment (no rule of the default mapping matches this ref)'}${environment ? ' (by the default mapping: main to staging, v* tags to prod, other branches to dev)' : ''}`);
  const hide = (text: string) => text.split(secret).join('(redacted)');
  let answer: { status: number; text: string };
  try {
    answer = await sendPushRequest(request, { insecureSkipVerify: process.env.ARGO_INSECURE_SKIP_VERIFY?.toLowerCase() === 'true' });
  } catch (e) {
    error(`cd4ml ci trigger: no answer from ${request.url}: ${hide((e as Error).message)}. Fix: reach argo-server (kubectl -n <argo namespace> port-forward svc/argo-server 2746:2746) and check ARGO_SERVER, ARGO_SECURE and ARGO_INSECURE_SKIP_VERIFY`);
    return 1;
  }
  log(`argo-server answered ${answer.status}: ${hide(answer.text).trim() || '(no body)'}`);
  if (answer.status >= 200 && answer.status < 300) return 0;
  const why: Record<number, string> = {
    401: `the request matched no webhook client: check ${SECRET_ENV} and --host against your entry in the argo-workflows-webhook-clients Secret of ${args.namespace}`,
    403: `argo-server could not read the webhook clients of ${args.namespace}: the argo-workflows-webhook-clients Secret is missing there, or argo-server may not read it`,
    500: `a binding failed to submit: kubectl -n ${args.namespace} get events says why (a run of this commit and environment exists already: a redelivery starts nothing)`,
  };
  error(`cd4ml ci trigger: argo-server refused the push (${answer.status}). Fix: ${why[answer.status] ?? 'see its answer above'}`);
  return 1;
}

/** Runs the CLI; returns the exit code (a promise of it for `validate`, which loads the schemas asynchronously, and `ci`, which waits for argo-server). */
export function main(argv: string[], log: (line: string) => void = console.log, error: (line: string) => void = console.error): number | Promise<number> {
  const [command, ...rest] = argv;
  const usage = [
    'usage: cd4ml graph [DIST_DIR] [--out DIR]   (draws every pipeline in the synthesized manifests as Mermaid)',
    '       cd4ml env [DIST_DIR] [--out FILE]    (the client configuration of the synthesized platform, as a .env file)',
    `       ${VALIDATE_USAGE}`,
    '                                            (checks every manifest under DIR: schemas, unknown fields, references,',
    '                                             the security bar; exit code 0 when it passes, 1 on findings, 2 on usage)',
    `       ${CI_USAGE}`,
    '                                            (sends argo-server the signed push webhook of the current commit, as the',
    `                                             Git host would; the secret from ${SECRET_ENV}; exit code 0 when taken)`,
    `       ${CI_TEMPLATE_USAGE}`,
    '                                            (the delivery\'s render step: the pipeline\'s WorkflowTemplate for one',
    '                                             commit, its built image pinned by digest, as JSON)',
  ].join('\n');
  if (command === undefined || ['--help', '-h', 'help'].includes(command) || (['graph', 'env', 'validate', 'ci'].includes(command) && rest.some((a) => a === '--help' || a === '-h'))) {
    // asked for help: the usage, on stdout, and success; called with nothing: the same, as an error
    (command === undefined ? error : log)(usage);
    return command === undefined ? 2 : 0;
  }
  if (command === 'env') return env(rest, log, error);
  if (command === 'validate') return validate(rest, log, error);
  if (command === 'ci' && rest[0] === 'template') return ciTemplate(rest.slice(1), log, error);
  if (command === 'ci') return ci(rest, log, error);
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
