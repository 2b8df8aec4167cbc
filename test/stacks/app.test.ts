import { execFileSync, spawnSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, relative } from 'path';
import { parse, parseAllDocuments, stringify } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'build', 'stacks', 'main.js');

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error('build/ is missing: run `npm test`, which builds first');
});

const SYNTH = join(ROOT, 'build', 'stacks', 'synth.js');

/** Every file under a directory, relative, sorted, with its content. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJSON() as { kind: string; metadata: { name: string; namespace?: string } });

describe('npm run synth: each environment in its GitOps folder', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'cd4ml-app-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const synth = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [SYNTH, ...args], { cwd: dir, env: { ...process.env, CD4ML_ENV: '', CD4ML_ACKNOWLEDGE_DATA_CHANGE: '', ...env }, encoding: 'utf8' });

  test('writes the sandbox into dist/sandbox: cluster-scoped objects apart, one file per namespace, a kustomization in apply order', () => {
    // when
    const run = synth([]);
    // then
    expect(run.status).toBe(0);
    const files = tree(join(dir, 'dist'));
    expect(Object.keys(files).sort()).toEqual([
      'k3d/cd4ml.yaml',
      'sandbox/cluster/cluster-resources.yaml', 'sandbox/cluster/crds.yaml', 'sandbox/cluster/namespaces.yaml', 'sandbox/kustomization.yaml',
      // the three pipeline domains' namespaces (ml-dev, ml-staging, ml-prod) beside the platform's pipeline namespace
      ...['pipelines', 'platform'].flatMap((part) => ['argo', 'cd4ml-ci', 'cd4ml', 'ml-dev', 'ml-pipelines', 'ml-prod', 'ml-staging'].map((ns) => `sandbox/${part}/${ns}.yaml`)),
    ]);
    const kustomization = parse(files['sandbox/kustomization.yaml']);
    expect(kustomization).toMatchObject({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization' });
    expect(kustomization.resources.slice(0, 3)).toEqual(['cluster/namespaces.yaml', 'cluster/crds.yaml', 'cluster/cluster-resources.yaml']);
    expect([...kustomization.resources].sort()).toEqual(Object.keys(files).filter((f) => f.startsWith('sandbox/') && !f.endsWith('kustomization.yaml')).map((f) => f.slice('sandbox/'.length)).sort());
    for (const [f, text] of Object.entries(files).filter(([f]) => f.startsWith('sandbox/') && !f.endsWith('kustomization.yaml'))) {
      const objects = docs(text);
      expect(objects.length).toBeGreaterThan(0);
      const ns = f.match(/^sandbox\/(platform|pipelines)\/(.+)\.yaml$/)?.[2];
      for (const o of objects) expect({ f, namespace: o.metadata.namespace }).toEqual({ f, namespace: ns });
    }
    // the CI namespace of the delivery (its templates, controller and triggers are the pipelines' folder's, with the
    // model endpoints; the platform's folder holds what its credentials generator copies there)
    expect(docs(files['sandbox/cluster/namespaces.yaml']).map((o) => o.metadata.name)).toEqual(['cd4ml', 'argo', 'ml-pipelines', 'ml-dev', 'ml-staging', 'ml-prod', 'cd4ml-ci']);
    expect(docs(files['sandbox/pipelines/cd4ml-ci.yaml']).filter((d) => d.kind === 'WorkflowTemplate').map((d) => d.metadata.name)).toEqual(['cd4ml-delivery-dev', 'cd4ml-delivery-staging', 'cd4ml-delivery-prod']);
    expect(docs(files['sandbox/cluster/crds.yaml'])).toHaveLength(8);
    expect(docs(files['sandbox/pipelines/ml-pipelines.yaml']).map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(expect.arrayContaining(['WorkflowTemplate/breast-cancer', 'CronWorkflow/breast-cancer-nightly']));
    // and tells people where the UIs are, on stderr
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/MLflow UI: http:\/\/localhost:5050[\s\S]*kubectl -n argo port-forward svc\/argo-server 2746:2746/);
  });

  test('no stale file: the folder is replaced whole, flat files of earlier versions go, other environments stay', () => {
    expect(synth(['dev']).status).toBe(0);
    expect(synth(['sandbox']).status).toBe(0);
    const dev = tree(join(dir, 'dist', 'dev'));
    writeFileSync(join(dir, 'dist', 'sandbox', 'platform', 'removed-pipeline.yaml'), 'kind: ConfigMap\n');
    writeFileSync(join(dir, 'dist', '0000-sandbox-platform.k8s.yaml'), readFileSync(join(dir, 'dist', 'sandbox', 'platform', 'cd4ml.yaml')));
    expect(synth(['--out', 'dist', 'sandbox']).status).toBe(0);
    expect(existsSync(join(dir, 'dist', 'sandbox', 'platform', 'removed-pipeline.yaml'))).toBe(false);
    expect(existsSync(join(dir, 'dist', '0000-sandbox-platform.k8s.yaml'))).toBe(false);
    expect(tree(join(dir, 'dist', 'dev'))).toEqual(dev);
    // (and the sandbox's k3d cluster beside them: dev asks for none)
    expect(readdirSync(join(dir, 'dist')).sort()).toEqual(['dev', 'k3d', 'sandbox']);
    expect(readdirSync(join(dir, 'dist', 'k3d'))).toEqual(['cd4ml.yaml']);
  });

  test('all or nothing: a refused environment stops every other one, and nothing is written', () => {
    expect(synth(['sandbox', 'dev']).status).toBe(0);
    // given dev's deployed Postgres volume was made at 3Gi
    const file = join(dir, 'dist', 'dev', 'platform', 'cd4ml.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/storage: 20Gi/, 'storage: 3Gi'));
    const before = tree(join(dir, 'dist'));
    rmSync(join(dir, 'dist', 'sandbox', 'pipelines', 'argo.yaml'));
    const beforeSandbox = tree(join(dir, 'dist'));
    // when both are synthesized again
    const run = synth(['sandbox', 'dev']);
    // then dev is refused with the procedure, and sandbox (valid) is not written either
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/StatefulSet cd4ml\/postgres: volumeClaimTemplates.data.storage = "20Gi": differs from the 3Gi the existing volume was made with/);
    expect(tree(join(dir, 'dist'))).toEqual(beforeSandbox);
    expect(Object.keys(before).length).toBe(Object.keys(beforeSandbox).length + 1);
    // an unknown environment among them: nothing either
    expect(synth(['sandbox', 'qa']).stderr).toContain('CD4ML_ENV: environment = "qa": is not a known environment preset. Fix: use one of sandbox, dev, staging, prod');
    expect(tree(join(dir, 'dist'))).toEqual(beforeSandbox);
    // once the migration is done, acknowledging it lets the synth through
    expect(synth(['sandbox', 'dev'], { CD4ML_ACKNOWLEDGE_DATA_CHANGE: 'cd4ml/postgres' }).status).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain('storage: 20Gi');
    expect(existsSync(join(dir, 'dist', 'sandbox', 'pipelines', 'argo.yaml'))).toBe(true);
  });

  test('fails on an unknown environment and writes nothing', () => {
    const run = synth([], { CD4ML_ENV: 'qa' });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('CD4ML_ENV: environment = "qa": is not a known environment preset. Fix: use one of sandbox, dev, staging, prod');
    expect(existsSync(join(dir, 'dist'))).toBe(false);
  });

  test('npm run synth and Pulumi.yaml run the sources as they are: the launcher compiles what changed first', () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.synth).toBe('node stacks/fresh.js stacks/synth');
    expect(parse(readFileSync(join(ROOT, 'Pulumi.yaml'), 'utf8')).main).toBe('stacks/pulumi.js');
    expect(readFileSync(join(ROOT, 'stacks', 'pulumi.js'), 'utf8')).toContain("require('./fresh').load('stacks/pulumi-main')");
  });
});

describe('the cdk8s CLI (cdk8s.yaml)', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'cd4ml-cli-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const cdk8s = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'node_modules', 'cdk8s-cli', 'bin', 'cdk8s'), 'synth', '--no-check-upgrade', ...args], { cwd: dir, env: { ...process.env, CD4ML_ENV: 'staging' }, encoding: 'utf8' });

  test('--output DIR and --stdout: the environment as one file in apply order; the default output is not the GitOps folder', () => {
    writeFileSync(join(dir, 'cdk8s.yaml'), `language: typescript\napp: ${JSON.stringify(`${process.execPath} ${MAIN}`)}\n`);
    const out = cdk8s(['--output', 'elsewhere']);
    expect(out.status).toBe(0);
    expect(readdirSync(join(dir, 'elsewhere'))).toEqual(['staging.k8s.yaml']);
    expect(out.stderr).toMatch(/kubectl -n staging-argo port-forward svc\/argo-server/);
    const stdout = cdk8s(['--stdout']);
    expect(stdout.status).toBe(0);
    const objects = docs(stdout.stdout);
    expect(objects.length).toBeGreaterThan(50);
    // namespaces, then CRDs, then the other cluster-scoped objects, then everything namespaced
    const rank = (o: { kind: string; metadata: { namespace?: string } }) => (o.metadata.namespace ? 3 : o.kind === 'Namespace' ? 0 : o.kind === 'CustomResourceDefinition' ? 1 : 2);
    expect(objects.map(rank)).toEqual([...objects.map(rank)].sort());
    expect(objects[0]).toMatchObject({ kind: 'Namespace', metadata: { name: 'staging-cd4ml' } });
    expect(parse(readFileSync(join(ROOT, 'cdk8s.yaml'), 'utf8')).output).toBe('dist/cdk8s');
  });
});

describe('the npm package', () => {
  // A team's own project outside this repository: its platform and its pipeline, defined once, deployed through both
  // engines from the packed package (cdk8s: the GitOps layout; Pulumi: under Pulumi's mocks), and validated.
  const TEAM = [
    "import { EnvironmentDefinition, EnvironmentName, ParameterType, Pipeline } from 'cd4ml';",
    'export const definition: EnvironmentDefinition = {',
    '  environment: EnvironmentName.DEV,',
    "  platform: { namespace: 'team-ml', workflowNamespace: 'team-argo', pipelineNamespace: 'team-pipelines' },",
    '  pipelines: (scope, platform) => {',
    "    const churn = new Pipeline(scope, 'churn', { runner: platform.pipelineRunner, description: 'churn model' });",
    "    const prepare = churn.addStep('prepare', { image: 'ghcr.io/team/churn:1.0.0', command: ['python', '-m', 'churn.prepare'], outputs: { data_uri: ParameterType.STRING } });",
    "    churn.addStep('train', { image: 'ghcr.io/team/churn:1.0.0', command: ['python', '-m', 'churn.train'], inputs: { data_uri: prepare.output('data_uri') }, resources: { cpu: '1', memory: '1Gi' } });",
    '  },',
    '};',
  ].join('\n');
  const CDK8S = [
    "import { synthesizeEnvironment, writeEnvironment } from 'cd4ml';",
    "import { definition } from './team';",
    "console.log(writeEnvironment('gitops', synthesizeEnvironment(definition)).join(' '));",
  ].join('\n');
  const PULUMI = [
    "import * as pulumi from '@pulumi/pulumi';",
    "import { writeFileSync } from 'fs';",
    'const registered: Array<Record<string, unknown>> = [];',
    'async function main(): Promise<void> {',
    '  await pulumi.runtime.setMocks({',
    "    newResource: (a) => { if (a.type.startsWith('kubernetes:')) registered.push(a.inputs); return { id: `${a.name}-id`, state: a.inputs }; },",
    '    call: (a) => a.inputs,',
    "  }, 'team', 'dev', false);",
    "  const { Cd4mlPlatform } = await import('cd4ml/pulumi');",
    "  const { definition } = await import('./team');",
    "  const platform = new Cd4mlPlatform('team', { definition });",
    '  const uri = await new Promise<string>((resolve) => platform.trackingUri.apply(resolve));',
    '  await new Promise((r) => setTimeout(r, 200));',
    "  writeFileSync('registered.json', JSON.stringify(registered));",
    '  console.log(uri);',
    '}',
    'main().catch((e) => { console.error(e); process.exit(1); });',
  ].join('\n');

  test('a consumer project deploys its own platform and pipeline with the packed package, through both engines, and validates both', () => {
    // given the package as `npm pack` makes it, installed beside its peer dependencies
    const dir = mkdtempSync(join(tmpdir(), 'cd4ml-consumer-'));
    try {
      const tgz = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
      const modules = join(dir, 'node_modules');
      mkdirSync(join(modules, 'cd4ml'), { recursive: true });
      mkdirSync(join(modules, '.bin'), { recursive: true });
      execFileSync('tar', ['xzf', join(dir, tgz), '-C', join(modules, 'cd4ml'), '--strip-components=1']);
      const pkg = JSON.parse(readFileSync(join(modules, 'cd4ml', 'package.json'), 'utf8'));
      for (const dep of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies), '@types']) {
        const scope = dep.startsWith('@') && dep.includes('/') ? dep.split('/')[0] : undefined;
        if (scope) mkdirSync(join(modules, scope), { recursive: true });
        if (!existsSync(join(modules, dep))) symlinkSync(join(ROOT, 'node_modules', dep), join(modules, dep));
      }
      symlinkSync(join(modules, 'cd4ml', pkg.bin.cd4ml), join(modules, '.bin', 'cd4ml'));
      const packed = execFileSync('tar', ['tzf', join(dir, tgz)], { encoding: 'utf8' });
      expect(packed).toContain('package/build/index.d.ts');
      expect(packed).toContain('package/build/pulumi/index.d.ts');
      expect(packed).toContain('package/build/constructs/platform/generate-credentials.py');
      expect(packed).not.toContain('package/test/');
      expect(packed).not.toContain('package/build/stacks/');
      // @pulumi/* are optional peers: a cdk8s-only team installs neither, and the main entry never loads them
      expect(pkg.peerDependenciesMeta).toEqual({ '@pulumi/pulumi': { optional: true }, '@pulumi/kubernetes': { optional: true } });
      const main = spawnSync(process.execPath, ['-e', "require('cd4ml'); console.log(Object.keys(require.cache).filter((f) => f.includes('/@pulumi/')).length)"], { cwd: dir, encoding: 'utf8' });
      expect(main.stdout.trim()).toBe('0');
      // when the team writes its definition once, and a few lines per engine
      writeFileSync(join(dir, 'team.ts'), TEAM);
      writeFileSync(join(dir, 'synth.ts'), CDK8S);
      writeFileSync(join(dir, 'pulumi.ts'), PULUMI);
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'commonjs', target: 'ES2022', moduleResolution: 'node', types: ['node'], skipLibCheck: true }, files: ['team.ts', 'synth.ts', 'pulumi.ts'] }));
      execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, encoding: 'utf8' });
      // then cdk8s writes its GitOps folder
      const written = execFileSync(process.execPath, ['synth.js'], { cwd: dir, encoding: 'utf8' });
      expect(written).toContain('dev/kustomization.yaml');
      const gitops = Object.entries(tree(join(dir, 'gitops'))).filter(([f]) => !f.endsWith('kustomization.yaml')).flatMap(([, text]) => parseAllDocuments(text).map((d) => d.toJSON() as Record<string, unknown> & { kind: string; metadata: { name: string; namespace?: string } }));
      expect(gitops.find((o) => o.kind === 'WorkflowTemplate')).toMatchObject({ metadata: { name: 'churn', namespace: 'team-pipelines' } });
      // and Pulumi deploys exactly those objects
      const uri = execFileSync(process.execPath, ['pulumi.js'], { cwd: dir, encoding: 'utf8' });
      expect(uri.trim()).toBe('http://mlflow.team-ml.svc.cluster.local:5000');
      const registered = JSON.parse(readFileSync(join(dir, 'registered.json'), 'utf8')) as typeof gitops;
      const key = (o: { kind: string; metadata: { name: string; namespace?: string } }) => `${o.metadata.namespace ?? ''}/${o.kind}/${o.metadata.name}`;
      expect(registered.map(key).sort()).toEqual(gitops.map(key).sort());
      const byKey = new Map(registered.map((o) => [key(o), o]));
      for (const o of gitops) expect(byKey.get(key(o))).toEqual(o);
      // and the shipped validator passes both outputs
      mkdirSync(join(dir, 'pulumi-out'));
      writeFileSync(join(dir, 'pulumi-out', 'objects.yaml'), registered.map((o) => stringify(o)).join('---\n'));
      for (const out of ['gitops/dev', 'pulumi-out']) {
        // (npm install would make the bin executable; this test unpacks the tarball itself)
        const validate = spawnSync(process.execPath, [join(modules, '.bin', 'cd4ml'), 'validate', out], { cwd: dir, encoding: 'utf8' });
        expect({ out, status: validate.status, stdout: validate.stdout, stderr: validate.stderr }).toMatchObject({ out, status: 0 });
        expect(validate.stdout).toMatch(/0 findings/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('cdk8s, cdk8s-plus-27 and constructs resolve to exactly one copy each', () => {
  const tree = JSON.parse(execFileSync('npm', ['ls', 'cdk8s', 'cdk8s-plus-27', 'constructs', '--all', '--json'], { cwd: ROOT, encoding: 'utf8' }));
  const versions = new Map<string, Set<string>>();
  const walk = (deps: Record<string, { version: string; dependencies?: Record<string, unknown> }> = {}) => {
    for (const [name, d] of Object.entries(deps)) {
      if (['cdk8s', 'cdk8s-plus-27', 'constructs'].includes(name)) versions.set(name, new Set([...(versions.get(name) ?? []), d.version]));
      walk(d.dependencies as never);
    }
  };
  walk(tree.dependencies);
  const found = Object.fromEntries([...versions.entries()].map(([n, v]) => [n, [...v]]));
  for (const name of ['cdk8s', 'cdk8s-plus-27', 'constructs']) expect({ name, versions: found[name]?.length }).toEqual({ name, versions: 1 });
});
