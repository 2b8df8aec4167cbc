import { execFileSync, spawnSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parseAllDocuments } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const MAIN = join(ROOT, 'build', 'stacks', 'main.js');

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error('build/ is missing: run `npm test`, which builds first');
});

describe('the cdk8s app (what `npm run synth` runs)', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'cd4ml-app-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('writes the sandbox platform into dist/ as plain manifests', () => {
    // when
    execFileSync(process.execPath, [MAIN], { cwd: dir, env: { ...process.env, CD4ML_ENV: '' } });
    // then
    expect(readdirSync(join(dir, 'dist'))).toEqual(['0000-sandbox-platform.k8s.yaml', '0001-sandbox-pipelines.k8s.yaml']);
    const read = (f: string) => parseAllDocuments(readFileSync(join(dir, 'dist', f), 'utf8')).map((d) => d.toJSON());
    const platform = read('0000-sandbox-platform.k8s.yaml');
    expect(platform[0]).toMatchObject({ kind: 'Namespace', metadata: { name: 'cd4ml' } });
    expect(platform.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(expect.arrayContaining(['Service/seaweedfs', 'Service/postgres', 'Service/mlflow', 'Service/argo-server']));
    const pipelines = read('0001-sandbox-pipelines.k8s.yaml');
    expect(pipelines.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(expect.arrayContaining(['WorkflowTemplate/breast-cancer', 'CronWorkflow/breast-cancer-nightly']));
  });

  test('writes where the cdk8s CLI says (--output, --stdout), and tells people where the UIs are on stderr only', () => {
    const run = spawnSync(process.execPath, [MAIN], { cwd: dir, env: { ...process.env, CD4ML_ENV: '', CDK8S_OUTDIR: join(dir, 'elsewhere') }, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(readdirSync(join(dir, 'elsewhere'))).toEqual(['0000-sandbox-platform.k8s.yaml', '0001-sandbox-pipelines.k8s.yaml']);
    expect(existsSync(join(dir, 'dist'))).toBe(false);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/MLflow UI: http:\/\/localhost:5000[\s\S]*kubectl -n argo port-forward svc\/argo-server 2746:2746/);
    // the CLI's --stdout: every manifest on stdout, so `cdk8s synth --stdout | kubectl apply -f -` applies the platform
    writeFileSync(join(dir, 'cdk8s.yaml'), `language: typescript\napp: ${JSON.stringify(`${process.execPath} ${MAIN}`)}\n`);
    const cli = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'cdk8s-cli', 'bin', 'cdk8s'), 'synth', '--stdout', '--no-check-upgrade'], { cwd: dir, env: { ...process.env, CD4ML_ENV: '' }, encoding: 'utf8' });
    expect(cli.status).toBe(0);
    const kinds = parseAllDocuments(cli.stdout).map((d) => (d.toJSON() as { kind: string }).kind);
    expect(kinds.length).toBeGreaterThan(50);
    expect(kinds).toEqual(expect.arrayContaining(['Namespace', 'StatefulSet', 'WorkflowTemplate']));
  });

  test('a resynth over its own output passes; one that would resize, move or reformat a store is refused and writes nothing', () => {
    execFileSync(process.execPath, [MAIN], { cwd: dir, env: { ...process.env, CD4ML_ENV: '' } });
    execFileSync(process.execPath, [MAIN], { cwd: dir, env: { ...process.env, CD4ML_ENV: '' } });
    // given a deployed output whose Postgres volume was made at 3Gi with Postgres 16's data directory
    const file = join(dir, 'dist', '0000-sandbox-platform.k8s.yaml');
    const deployed = readFileSync(file, 'utf8').replace(/storage: 5Gi/, 'storage: 3Gi').replace('cd4ml.io/data-format: postgres 17', 'cd4ml.io/data-format: postgres 16');
    writeFileSync(file, deployed);
    // when the next synth renders 5Gi and Postgres 17
    const run = spawnSync(process.execPath, [MAIN], { cwd: dir, env: { ...process.env, CD4ML_ENV: '', CD4ML_ACKNOWLEDGE_DATA_CHANGE: '' }, encoding: 'utf8' });
    // then both are refused with the procedure, and the deployed output is untouched
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('StatefulSet cd4ml/postgres: volumeClaimTemplates.data.storage = "5Gi": differs from the 3Gi the existing volume was made with');
    expect(run.stderr).toContain('StatefulSet cd4ml/postgres: data format = "postgres 17": differs from the "postgres 16" its volume holds');
    expect(readFileSync(file, 'utf8')).toBe(deployed);
    // and once the migration is done, acknowledging it lets the synth through
    execFileSync(process.execPath, [MAIN], { cwd: dir, env: { ...process.env, CD4ML_ENV: '', CD4ML_ACKNOWLEDGE_DATA_CHANGE: 'cd4ml/postgres' } });
    expect(readFileSync(file, 'utf8')).toContain('storage: 5Gi');
  });

  test('`npm run synth` runs the guard before the cdk8s CLI empties dist/: a refused change leaves dist/ as it was', () => {
    execFileSync(process.execPath, [MAIN], { cwd: dir, env: { ...process.env, CD4ML_ENV: '' } });
    const file = join(dir, 'dist', '0000-sandbox-platform.k8s.yaml');
    const deployed = readFileSync(file, 'utf8').replace(/storage: 5Gi/, 'storage: 3Gi');
    writeFileSync(file, deployed);
    const guard = spawnSync(process.execPath, [join(ROOT, 'build', 'stacks', 'guard-main.js')], { cwd: dir, env: { ...process.env, CD4ML_ENV: '', CD4ML_ACKNOWLEDGE_DATA_CHANGE: '' }, encoding: 'utf8' });
    expect(guard.status).toBe(1);
    expect(guard.stderr).toContain('StatefulSet cd4ml/postgres: volumeClaimTemplates.data.storage = "5Gi": differs from the 3Gi the existing volume was made with');
    expect(readFileSync(file, 'utf8')).toBe(deployed);
    // and the npm script runs it first
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.synth).toMatch(/node build\/stacks\/guard-main\.js && cdk8s synth/);
  });

  test('another preset rendered into the same directory is another deployment, not a change', () => {
    execFileSync(process.execPath, [MAIN], { cwd: dir, env: { ...process.env, CD4ML_ENV: '' } });
    execFileSync(process.execPath, [MAIN], { cwd: dir, env: { ...process.env, CD4ML_ENV: 'dev' } });
  });

  test('fails on an unknown environment and writes nothing', () => {
    const run = spawnSync(process.execPath, [MAIN], { cwd: dir, env: { ...process.env, CD4ML_ENV: 'qa' }, encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('CD4ML_ENV: environment = "qa": is not a known environment preset. Fix: use one of sandbox, dev, staging, prod');
    expect(existsSync(join(dir, 'dist'))).toBe(false);
  });
});

describe('the npm package', () => {
  test('a consumer stack outside this repository composes the platform from the packed package', () => {
    // given the package as `npm pack` makes it, installed beside its peer dependencies
    const dir = mkdtempSync(join(tmpdir(), 'cd4ml-consumer-'));
    try {
      const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
      const modules = join(dir, 'node_modules');
      mkdirSync(join(modules, 'cd4ml'), { recursive: true });
      execFileSync('tar', ['xzf', join(dir, tgz), '-C', join(modules, 'cd4ml'), '--strip-components=1']);
      for (const peer of ['cdk8s', 'cdk8s-plus-27', 'constructs', '@types']) symlinkSync(join(ROOT, 'node_modules', peer), join(modules, peer));
      const packed = execFileSync('tar', ['tzf', join(dir, tgz)], { encoding: 'utf8' });
      expect(packed).toContain('package/build/index.d.ts');
      expect(packed).toContain('package/build/constructs/platform/generate-credentials.py');
      expect(packed).not.toContain('package/test/');
      // when a platform team writes a few lines against it
      writeFileSync(join(dir, 'stack.ts'), [
        "import { App, Chart } from 'cdk8s';",
        "import { EnvironmentName, Platform } from 'cd4ml';",
        "const app = new App({ outdir: 'out' });",
        "const chart = new Chart(app, 'team-platform', { disableResourceNameHashes: true });",
        "const platform = new Platform(chart, 'platform', { environment: EnvironmentName.DEV, namespace: 'team-ml' });",
        "console.log(platform.trackingServer.endpoint.url());",
        'app.synth();',
      ].join('\n'));
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'commonjs', target: 'ES2022', moduleResolution: 'node', types: ['node'] }, files: ['stack.ts'] }));
      execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir, encoding: 'utf8' });
      const printed = execFileSync(process.execPath, ['stack.js'], { cwd: dir, encoding: 'utf8' });
      // then it type-checks, runs and synthesizes
      expect(printed.trim()).toBe('http://mlflow.team-ml.svc.cluster.local:5000');
      const docs = parseAllDocuments(readFileSync(join(dir, 'out', 'team-platform.k8s.yaml'), 'utf8')).map((d) => d.toJSON());
      expect(docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'mlflow').metadata.namespace).toBe('team-ml');
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
