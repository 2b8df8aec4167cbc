import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'fs';
import { dirname, join, relative } from 'path';
import { parseAllDocuments } from 'yaml';
import { Cd4mlValidationError, checkDnsLabel, EnvironmentName, findCredential, Problem, REDACTED, yamlFilesUnder } from '../../lib';
import { toYaml } from '../../lib/yaml';

/** A Kubernetes object as synthesized. */
type KubeObject = Record<string, unknown> & { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };

/**
 * Argo CD `Application`s for an environment's folders (optional): one per folder, in sync waves that put the
 * cluster-scoped objects (CRDs, namespaces) first, then the platform, then the pipelines. Sync waves order
 * Applications only inside a parent Application ("app of apps") that syncs the `argocd/` folder; Argo CD assesses
 * an Application's health there only with the health check the README shows
 * (https://argo-cd.readthedocs.io/en/stable/operator-manual/cluster-bootstrapping/).
 */
export interface ArgoCdApplications {
  /** The Git repository holding the output. Required. */
  readonly repoURL: string;
  /** The revision Argo CD follows. @default 'HEAD' */
  readonly targetRevision?: string;
  /** Where the output directory is inside the repository. @default 'dist' */
  readonly path?: string;
  /** Argo CD's own namespace, where Applications live. @default 'argocd' */
  readonly namespace?: string;
  /** The Argo CD project. @default 'default' */
  readonly project?: string;
  /** The cluster to deploy to. @default 'https://kubernetes.default.svc' - the cluster Argo CD runs in */
  readonly destinationServer?: string;
}

/** Options of {@link gitopsFiles} and {@link writeEnvironment}. */
export interface GitOpsOptions {
  /** Argo CD Applications for the environment's folders, written to `argocd/<environment>.yaml`. @default - none */
  readonly argoCd?: ArgoCdApplications;
}

/** An environment's output, as {@link gitopsFiles} lays it out. */
export interface EnvironmentOutput {
  /** The environment (its folder's name). */
  readonly environment: EnvironmentName;
  /** The platform's objects, in the order they are applied. */
  readonly platformObjects: ReadonlyArray<Record<string, unknown>>;
  /** The pipelines' objects, applied after the platform. */
  readonly pipelineObjects: ReadonlyArray<Record<string, unknown>>;
}

/** One file of the output: its path relative to the output directory, and its text. */
export interface OutputFile {
  /** Where it goes, relative to the output directory (`<env>/platform/cd4ml.yaml`). */
  readonly path: string;
  /** Its text. */
  readonly content: string;
}

/** The folders of an environment, in the order they are applied (and their Argo CD sync waves). */
const FOLDERS = [['cluster', -2], ['platform', -1], ['pipelines', 0]] as const;

const isClusterScoped = (o: KubeObject): boolean => typeof o.metadata?.namespace !== 'string';

/**
 * The GitOps layout of an environment, relative to the output directory:
 *
 * - `<env>/cluster/namespaces.yaml`, `<env>/cluster/crds.yaml`, `<env>/cluster/cluster-resources.yaml`: the
 *   cluster-scoped objects, apart (a cluster admin reviews and applies them; a shared cluster may own them);
 * - `<env>/platform/<namespace>.yaml` and `<env>/pipelines/<namespace>.yaml`: the namespaced objects;
 * - `<env>/kustomization.yaml`: every file above, in apply order (`kubectl apply -k dist/<env>`, Flux, Argo CD);
 * - `argocd/<env>.yaml`, with `argoCd`: one Application per folder, in sync waves.
 *
 * Every object keeps the order cdk8s gives within its file. Pure: nothing is written.
 */
export function gitopsFiles(output: EnvironmentOutput, options: GitOpsOptions = {}): OutputFile[] {
  const env = output.environment;
  const groups = new Map<string, KubeObject[]>();
  const put = (file: string, o: KubeObject) => groups.set(file, [...(groups.get(file) ?? []), o]);
  for (const [chart, objects] of [['platform', output.platformObjects], ['pipelines', output.pipelineObjects]] as const) {
    for (const o of objects as KubeObject[]) {
      if (!isClusterScoped(o)) put(`${chart}/${String(o.metadata!.namespace)}.yaml`, o);
      else if (o.kind === 'Namespace') put('cluster/namespaces.yaml', o);
      else if (o.kind === 'CustomResourceDefinition') put('cluster/crds.yaml', o);
      else put('cluster/cluster-resources.yaml', o);
    }
  }
  // cluster-scoped files first, in a fixed order; then each folder's files in the order their first object appears
  // (the Map's insertion order; the sort is stable)
  const clusterOrder = ['cluster/namespaces.yaml', 'cluster/crds.yaml', 'cluster/cluster-resources.yaml'];
  const order = (f: string) => (f.startsWith('cluster/') ? clusterOrder.indexOf(f) : f.startsWith('platform/') ? 10 : 20);
  const files = [...groups.keys()].sort((a, b) => order(a) - order(b));
  const out: OutputFile[] = files.map((f) => ({ path: `${env}/${f}`, content: toYaml(groups.get(f)!) }));
  out.push({
    path: `${env}/kustomization.yaml`,
    content: `# cd4ml ${env}: every file of this environment, in the order they are applied (\`kubectl apply -k\`, Flux, Argo CD)\n${toYaml([{ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: files }])}`,
  });
  if (options.argoCd) {
    const owner = String((output.platformObjects as KubeObject[]).find((o) => o.kind === 'Namespace')?.metadata?.name ?? 'cd4ml');
    out.push({ path: `argocd/${env}.yaml`, content: toYaml(argoCdApplications(env, owner, files, options.argoCd, groups)) });
  }
  return out;
}

/** Checks the Argo CD options; one problem per bad field. */
export function checkArgoCdApplications(argoCd: ArgoCdApplications, path: string): Problem[] {
  const problems: Problem[] = [];
  const site = (field: string) => ({ path, field: `argoCd.${field}` });
  const url = argoCd.repoURL;
  // no credential in a file that is committed: not `user:pass@`, not a token as the user (`https://ghp_...@host`);
  // SSH's fixed user (`git@host:org/repo`, `ssh://git@host/...`) carries none. Argo CD holds the credential itself.
  const userinfo = typeof url === 'string' ? /^[a-z+]+:\/\/([^/@]*)@/.exec(url)?.[1] : undefined;
  const sshUserOnly = typeof url === 'string' && url.startsWith('ssh://') && userinfo !== undefined && /^[a-z_][a-z0-9_-]*$/.test(userinfo);
  if (typeof url !== 'string' || !/^(https:\/\/|ssh:\/\/|git@)[^\s]+$/.test(url)) {
    problems.push({ ...site('repoURL'), value: url, message: 'is not a Git URL (https://, ssh:// or git@host:)', fix: 'give e.g. https://github.com/example-org/platform-gitops.git' });
  } else if ((userinfo !== undefined && !sshUserOnly) || findCredential(url) !== undefined) {
    problems.push({ ...site('repoURL'), value: REDACTED, message: 'carries a credential, which would be written to a committed file', fix: 'give the URL without it, e.g. https://github.com/example-org/platform-gitops.git, and register the credential with Argo CD (a repository Secret)' });
  }
  for (const f of ['namespace', 'project'] as const) {
    const v = argoCd[f];
    if (v !== undefined) { const p = checkDnsLabel(v, site(f)); if (p) problems.push(p); }
  }
  const p = argoCd.path;
  if (p !== undefined && (typeof p !== 'string' || p.startsWith('/') || p.split('/').includes('..'))) problems.push({ ...site('path'), value: p, message: 'is not a relative path inside the repository', fix: 'give e.g. dist' });
  return problems;
}

/**
 * What a folder's Application leaves to a delivery: the served version of every model endpoint in it, which the
 * delivery's deploy step rolls (`CD4ML_MODEL_VERSION` of the `model` container). Argo CD compares every other field.
 * @see https://argo-cd.readthedocs.io/en/stable/user-guide/diffing/
 * @see https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/#respect-ignore-difference-configs
 */
function rolledFields(objects: readonly KubeObject[]): object[] {
  const component = (o: KubeObject) => ((o.metadata as { labels?: Record<string, string> } | undefined)?.labels ?? {})['app.kubernetes.io/component'];
  return objects.filter((o) => o.kind === 'Deployment' && component(o) === 'model-endpoint').map((o) => ({
    group: 'apps', kind: 'Deployment', name: o.metadata!.name, namespace: o.metadata!.namespace,
    jqPathExpressions: ['.spec.template.spec.containers[] | select(.name == "model") | .env[] | select(.name == "CD4ML_MODEL_VERSION") | .value'],
  }));
}

/** One Application per folder of the environment, ordered by sync waves. */
function argoCdApplications(env: string, owner: string, files: readonly string[], argoCd: ArgoCdApplications, groups: ReadonlyMap<string, KubeObject[]>): object[] {
  // '' or '.': the output is the repository's root (Argo CD refuses an absolute path)
  const base = (argoCd.path ?? 'dist').replace(/\/+$/, '').replace(/^\.$/, '');
  return FOLDERS.filter(([folder]) => files.some((f) => f.startsWith(`${folder}/`))).map(([folder, wave]) => {
    const ignored = rolledFields([...groups.entries()].filter(([f]) => f.startsWith(`${folder}/`)).flatMap(([, objects]) => objects));
    return {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: {
        // named after the platform's namespace too: two platforms of one environment in one Argo CD stay apart
        name: `${owner}-${env}-${folder}`,
        namespace: argoCd.namespace ?? 'argocd',
        annotations: { 'argocd.argoproj.io/sync-wave': String(wave) },
        labels: { 'app.kubernetes.io/part-of': 'cd4ml', 'cd4ml.io/environment': env },
      },
      spec: {
        project: argoCd.project ?? 'default',
        source: { repoURL: argoCd.repoURL, targetRevision: argoCd.targetRevision ?? 'HEAD', path: base === '' ? `${env}/${folder}` : `${base}/${env}/${folder}` },
        destination: { server: argoCd.destinationServer ?? 'https://kubernetes.default.svc' },
        syncPolicy: {
          // prune removes what left the output, except objects that say Prune=false (the stores, their namespace, the
          // CRDs: cd4ml sets it on them); server-side apply because CRDs outgrow the last-applied annotation
          automated: { prune: true, selfHeal: true },
          // (a sync keeps what ignoreDifferences names: the version a delivery rolled an endpoint to)
          syncOptions: ['ServerSideApply=true', ...(folder === 'cluster' ? [] : ['CreateNamespace=false']), ...(ignored.length ? ['RespectIgnoreDifferences=true'] : [])],
        },
        ...(ignored.length ? { ignoreDifferences: ignored } : {}),
      },
    };
  });
}

/**
 * Reads an environment's previous output in `outdir`: the GitOps folder `<env>/` (or, when a write was interrupted
 * between its two renames, the folder it had set aside), or the flat files earlier versions wrote
 * (`NNNN-<env>-platform.k8s.yaml`). Empty when there is none.
 */
export function readEnvironmentOutput(outdir: string, environment: EnvironmentName): Array<Record<string, unknown>> {
  if (!existsSync(outdir)) return [];
  checkOutdir(outdir);
  const folder = [join(outdir, environment), ...setAside(outdir, environment)].find((f) => existsSync(f) && statSync(f).isDirectory());
  const files = folder
    ? yamlFilesUnder(folder).filter((f) => !/(^|\/)kustomization\.ya?ml$/.test(f)).map((f) => join(folder, f))
    : legacyFiles(outdir, environment).map((f) => join(outdir, f));
  return files.flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as Record<string, unknown>))
    .filter((o) => o !== null && typeof o === 'object');
}

/** The output directory, refused when it is not a directory. */
function checkOutdir(outdir: string): void {
  if (existsSync(outdir) && !statSync(outdir).isDirectory()) {
    throw new Cd4mlValidationError([{ path: 'output', field: 'outdir', value: outdir, message: 'is a file, not a directory', fix: 'name a directory, e.g. dist' }]);
  }
}

/** An environment's folders an interrupted write set aside (`.cd4ml-previous-<env>-<pid>`), newest first. */
function setAside(outdir: string, environment: string): string[] {
  return readdirSync(outdir).filter((f) => f.startsWith(`.cd4ml-previous-${environment}-`)).map((f) => join(outdir, f))
    .sort((x, y) => statSync(y).mtimeMs - statSync(x).mtimeMs);
}

/**
 * Puts back what an interrupted write left: a folder set aside while no new one took its place is restored; set-aside
 * folders beside a complete one, and half-written staging folders, are removed.
 */
function recover(outdir: string, environment: string): void {
  const target = join(outdir, environment);
  const aside = setAside(outdir, environment);
  if (!existsSync(target) && aside.length > 0) renameSync(aside.shift()!, target);
  for (const f of aside) rmSync(f, { recursive: true, force: true });
  for (const f of readdirSync(outdir).filter((n) => n.startsWith(`.cd4ml-staging-${environment}-`))) rmSync(join(outdir, f), { recursive: true, force: true });
}

/** The flat files an earlier version wrote for the environment. */
function legacyFiles(outdir: string, environment: string): string[] {
  return readdirSync(outdir).filter((f) => new RegExp(`^\\d+-${environment}-(platform|pipelines)\\.k8s\\.yaml$`).test(f)).sort();
}

/**
 * Writes an environment's GitOps layout into `outdir`, all or nothing: every file is written into a staging
 * directory beside the output first, then the environment's folder is swapped in whole. The folder never holds a
 * file of an earlier run (a pipeline removed since is gone), other environments' folders are left alone, and the
 * flat files of earlier versions of this environment are removed. A failure leaves the previous output as it was.
 * @returns the paths written, relative to `outdir`
 */
export function writeEnvironment(outdir: string, output: EnvironmentOutput, options: GitOpsOptions = {}): string[] {
  if (options.argoCd) {
    const problems = checkArgoCdApplications(options.argoCd, `writeEnvironment(${output.environment})`);
    if (problems.length > 0) throw new Cd4mlValidationError(problems);
  }
  // rendered in memory first: a serialization error writes nothing
  const files = gitopsFiles(output, options);
  const env = output.environment;
  checkOutdir(outdir);
  mkdirSync(outdir, { recursive: true });
  recover(outdir, env);
  const staging = join(outdir, `.cd4ml-staging-${env}-${process.pid}`);
  const previous = join(outdir, `.cd4ml-previous-${env}-${process.pid}`);
  const target = join(outdir, env);
  const argoDir = join(outdir, 'argocd');
  const argoFile = join(argoDir, `${env}.yaml`);
  try {
    for (const f of files) {
      mkdirSync(dirname(join(staging, f.path)), { recursive: true });
      writeFileSync(join(staging, f.path), f.content);
    }
    // everything that could fail before the swap fails here: the Applications' folder must be a folder
    if (options.argoCd) mkdirSync(argoDir, { recursive: true });
    // the swap: two renames; a crash between them leaves the old folder set aside, which recover() and
    // readEnvironmentOutput() find
    if (existsSync(target)) renameSync(target, previous);
    try {
      renameSync(join(staging, env), target);
    } catch (e) {
      if (existsSync(previous)) renameSync(previous, target);
      throw e;
    }
    if (options.argoCd) renameSync(join(staging, 'argocd', `${env}.yaml`), argoFile);
    else rmSync(argoFile, { force: true });
    for (const f of legacyFiles(outdir, env)) rmSync(join(outdir, f), { force: true });
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(previous, { recursive: true, force: true });
  }
  return files.map((f) => relative(outdir, join(outdir, f.path)));
}

/**
 * The environment as one file in apply order (cluster-scoped objects first), for the cdk8s CLI: `cdk8s synth
 * --stdout | kubectl apply -f -` and `cdk8s synth --output DIR` (the CLI empties DIR itself before it runs the app).
 */
export function singleFile(output: EnvironmentOutput): OutputFile {
  const all = [...output.platformObjects, ...output.pipelineObjects] as KubeObject[];
  const rank = (o: KubeObject) => (!isClusterScoped(o) ? 3 : o.kind === 'Namespace' ? 0 : o.kind === 'CustomResourceDefinition' ? 1 : 2);
  const sorted = all.map((o, i) => ({ o, i })).sort((a, b) => rank(a.o) - rank(b.o) || a.i - b.i).map(({ o }) => o);
  return { path: `${output.environment}.k8s.yaml`, content: toYaml(sorted) };
}
