import { spawnSync } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { stringify } from 'yaml';
import { EnvironmentName } from '../../lib';
import { main } from '../../lib/cli';
import { formatFinding, formatSummary, validateDirectory, validateObjects, ValidationFinding, ValidationReport } from '../../lib/validate';
import { loadTypeScript } from '../../lib/validate/schemas';
import { synthesizeEnvironment } from '../../constructs';
import { buildApp, loadStack } from '../../stacks/app';
import { Obj } from '../support/manifests';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'build', 'lib', 'cli.js');

/** Writes objects as a multi-document YAML file (creating its directory). */
function writeYaml(path: string, objects: readonly unknown[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, objects.map((o) => stringify(o)).join('---\n'));
}

/** The sandbox platform and its pipelines, as `npm run synth` renders them. */
function sandbox(): { platform: Obj[]; pipelines: Obj[] } {
  const { platform, pipelines } = buildApp('sandbox' as EnvironmentName, join(tmpdir(), 'cd4ml-unused'));
  return JSON.parse(JSON.stringify({ platform: platform.toJson(), pipelines: pipelines.toJson() }));
}

/** An Argo CD Application, as a GitOps repository holds beside the manifests (its CRD comes with Argo CD). */
const application = (name: string): Obj => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Application',
  metadata: { name, namespace: 'argocd' },
  spec: { project: 'default', source: { repoURL: 'https://git.example.com/platform.git', path: 'sandbox', targetRevision: 'HEAD' }, destination: { server: 'https://kubernetes.default.svc' } },
});

/** A GitOps repository: the sandbox's files under `sandbox/`, their kustomization, an Application, a CI workflow. */
function writeRepository(dir: string, { platform, pipelines }: { platform: Obj[]; pipelines: Obj[] }, resources = ['platform.yaml', 'pipelines.yaml']): void {
  writeYaml(join(dir, 'sandbox', 'platform.yaml'), platform);
  // an empty document and a comment-only one are skipped
  writeFileSync(join(dir, 'sandbox', 'pipelines.yaml'), `---\n# the pipelines\n---\n${pipelines.map((o) => stringify(o)).join('---\n')}`);
  writeYaml(join(dir, 'sandbox', 'kustomization.yaml'), [{ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources }]);
  writeYaml(join(dir, 'argocd', 'sandbox.yml'), [application('cd4ml-sandbox')]);
  // not a manifest: directories starting with a dot are not read
  writeYaml(join(dir, '.github', 'workflows', 'ci.yml'), [{ on: 'push', jobs: { validate: { 'runs-on': 'ubuntu-latest' } } }]);
}

const find = (objects: Obj[], kind: string, name: string): Obj => objects.find((o) => o.kind === kind && o.metadata.name === name)!;
const findingsOf = (report: ValidationReport, object: string): ValidationFinding[] => report.findings.filter((f) => f.object === object);

describe('validateDirectory', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'cd4ml-validate-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('the sandbox output, laid out as a GitOps repository, validates clean; the Application is counted, not checked', async () => {
    // given
    const output = sandbox();
    const objects = [...output.platform, ...output.pipelines];
    writeRepository(dir, output);
    // when
    const report = await validateDirectory(dir);
    // then
    expect(report.findings).toEqual([]);
    expect(report.counts).toEqual({ 'schema': 0, 'strict-schema': 0, 'reference': 0, 'security': 0 });
    expect(report).toMatchObject({ files: 3, objects: objects.length + 1, notSchemaChecked: { Application: 1 } });
    // every cd4ml object against its schema and for unknown fields; the controllers' embedded defaults too (the
    // platform's and the three pipeline domains', two documents each)
    expect(report.schema).toMatchObject({ checked: objects.length, embedded: 8 });
    // (the sandbox's three pipeline domains add a controller and the seed pipeline each; its delivery adds the CI
    // namespace's controller, three model endpoints and three delivery templates)
    expect(report.schema.byKind).toMatchObject({ Deployment: 3 + 3 + 4, StatefulSet: 2, CustomResourceDefinition: 8, WorkflowTemplate: 1 + 3 + 3, Workflow: 1 + 3, Pod: 1 + 3 });
    expect(report.strict).toEqual({ checked: objects.length });
    expect(formatSummary(report)).toBe(`cd4ml validate: ${objects.length + 1} objects in 3 files, 0 findings (schema ${objects.length}, strict ${objects.length}, references, security); not schema-checked: Application x1`);
  });

  test('finds each seeded defect with the right check, in the right file', async () => {
    // given the sandbox with one defect of each kind
    const output = sandbox();
    const objects = output.platform;
    const mlflow = find(objects, 'Deployment', 'mlflow').spec.template.spec.containers[0];
    mlflow.imagePullPolicyy = 'Always'; // unknown field
    mlflow.env.push({ name: 'EXTERNAL_DB', valueFrom: { secretKeyRef: { name: 'external-db', key: 'password' } } }); // supplied: known
    mlflow.env.push({ name: 'OTHER_DB', valueFrom: { secretKeyRef: { name: 'other-db', key: 'password' } } }); // created by no one
    find(objects, 'Service', 'seaweedfs').spec.publishNotReadyAddresses = 'yes'; // wrong type
    find(objects, 'Deployment', 'argo-server').spec.template.spec.containers[0].envFrom = [{ configMapRef: { name: 'argo-extra' } }]; // missing ConfigMap
    find(objects, 'StatefulSet', 'seaweedfs').spec.template.spec.containers[0].securityContext.privileged = true;
    delete find(objects, 'StatefulSet', 'postgres').spec.template.spec.securityContext.runAsNonRoot;
    writeRepository(dir, output, ['platform.yaml', 'pipelines.yaml', 'monitoring.yaml']);
    writeYaml(join(dir, 'notes', 'values.yaml'), [{ replicas: 2 }]);
    // when
    const report = await validateDirectory(dir, { knownSecrets: [{ namespace: 'cd4ml', name: 'external-db', keys: ['password'] }] });
    // then
    const platform = join(dir, 'sandbox', 'platform.yaml');
    expect(findingsOf(report, 'Deployment cd4ml/mlflow')).toEqual([
      { file: platform, object: 'Deployment cd4ml/mlflow', check: 'strict-schema', message: expect.stringMatching(/^\/spec\/template\/spec\/containers\/0\/imagePullPolicyy: .*'imagePullPolicyy' does not exist/) },
      { file: platform, object: 'Deployment cd4ml/mlflow', check: 'reference', message: 'container mlflow: env OTHER_DB reads cd4ml/other-db[password], which no one creates' },
    ]);
    expect(findingsOf(report, 'Service cd4ml/seaweedfs')).toEqual([
      { file: platform, object: 'Service cd4ml/seaweedfs', check: 'schema', message: '/spec/publishNotReadyAddresses must be boolean' },
      { file: platform, object: 'Service cd4ml/seaweedfs', check: 'strict-schema', message: expect.stringMatching(/^\/spec\/publishNotReadyAddresses: Type 'string' is not assignable to type 'boolean \| undefined'\.$/) },
    ]);
    expect(findingsOf(report, 'Deployment argo/argo-server')).toEqual([{ file: platform, object: 'Deployment argo/argo-server', check: 'reference', message: 'container argo-server: envFrom missing ConfigMap argo-extra' }]);
    expect(findingsOf(report, 'StatefulSet cd4ml/seaweedfs')).toEqual([{ file: platform, object: 'StatefulSet cd4ml/seaweedfs', check: 'security', message: 'container seaweedfs: privileged (rule 5)' }]);
    expect(findingsOf(report, 'StatefulSet cd4ml/postgres')).toEqual([{ file: platform, object: 'StatefulSet cd4ml/postgres', check: 'security', message: 'pod runAsNonRoot is not true (rule 1)' }]);
    expect(findingsOf(report, 'Kustomization sandbox')).toEqual([{ file: join(dir, 'sandbox', 'kustomization.yaml'), object: 'Kustomization sandbox', check: 'reference', message: 'resources lists monitoring.yaml, which does not exist. Fix: write monitoring.yaml, or remove it from resources' }]);
    expect(findingsOf(report, 'document 1')).toEqual([{ file: join(dir, 'notes', 'values.yaml'), object: 'document 1', check: 'schema', message: expect.stringMatching(/^not a Kubernetes object/) }]);
    // nothing else: the known Secret resolves, the Application is not a finding, the CI workflow is not read
    expect(report.findings).toHaveLength(9);
    expect(report.counts).toEqual({ 'schema': 2, 'strict-schema': 2, 'reference': 3, 'security': 2 });
    expect(report.files).toBe(4);
    expect(formatFinding(report.findings.find((f) => f.check === 'security')!)).toBe(`${platform}: StatefulSet cd4ml/seaweedfs: security: container seaweedfs: privileged (rule 5)`);
  });

  test('refuses what is not a directory, with the fix', async () => {
    await expect(validateDirectory(join(dir, 'missing'))).rejects.toThrow(/missing is not a directory. Fix: name the directory of the manifests/);
  });
});

describe('validateObjects', () => {
  test('takes objects without files: findings name the object, a v1 List stands for its items, a broken check is one finding', async () => {
    // given a namespace and its default deny, in a List, and a ConfigMap holding what looks like a credential
    const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team', labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'v1.27' } } };
    const deny = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace: 'team' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } };
    const creds = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'creds', namespace: 'team' }, data: { DB_PASSWORD: 'hunter2' } };
    // when
    const report = await validateObjects([{ apiVersion: 'v1', kind: 'List', items: [namespace, deny] }, creds, 'not an object']);
    // then
    expect(report.findings).toEqual([
      { object: 'document 3', check: 'schema', message: expect.stringMatching(/^not a Kubernetes object/) },
      { file: undefined, object: 'ConfigMap team/creds', check: 'security', message: 'key DB_PASSWORD looks like a credential (rule 11)' },
    ]);
    expect(report).toMatchObject({ files: 0, objects: 3, schema: { checked: 3, embedded: 0 }, strict: { checked: 3 }, notSchemaChecked: {} });
    // given a Deployment without a pod template: the schema says what is missing; the whole-output checks stop there
    const broken = await validateObjects([namespace, deny, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'team' }, spec: { selector: {} } }]);
    expect(broken.findings.map((f) => [f.object, f.check])).toEqual([['Deployment team/web', 'schema'], ['Deployment team/web', 'strict-schema'], ['(output)', 'reference'], ['(output)', 'security']]);
    expect(broken.findings[0].message).toBe('/spec must have required property template');
    expect(broken.findings[2].message).toMatch(/^the reference checks stopped at a malformed object \(.*\)\. Fix: correct the schema findings/);
  });

  test('without typescript, the unknown-field pass is skipped with the reason and the fix, not failed', () => {
    const missing = () => { throw new Error('Cannot find module'); };
    expect(loadTypeScript('/nowhere', missing)).toBe('typescript is not installed (looked from /nowhere and from cd4ml). Fix: npm install --save-dev typescript, to also catch unknown fields');
    expect(typeof loadTypeScript(ROOT)).toBe('object');
  });
});

describe('cd4ml validate', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cd4ml-validate-cli-'));
    // a clean namespace beside an Application; and a second repository that defines the namespace twice and has a
    // ConfigMap that holds a credential
    const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team', labels: { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'v1.27' } } };
    const deny = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace: 'team' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } };
    for (const repo of ['clean', 'dirty']) {
      writeYaml(join(dir, repo, 'team.yaml'), [namespace, deny]);
      writeYaml(join(dir, repo, 'argocd', 'team.yaml'), [application('team')]);
    }
    writeYaml(join(dir, 'dirty', 'config.yaml'), [namespace, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'creds', namespace: 'team' }, data: { DB_PASSWORD: 'hunter2' } }]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the built CLI (`npx tsc -p tsconfig.json` first). */
  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'validate', ...args], { encoding: 'utf8' });

  test('exit code 0 and the summary when clean, 1 with one line per finding, 2 on a usage error', () => {
    expect(existsSync(CLI)).toBe(true);
    const clean = cli(join(dir, 'clean'));
    expect([clean.status, clean.stdout, clean.stderr]).toEqual([0, 'cd4ml validate: 3 objects in 2 files, 0 findings (schema 2, strict 2, references, security); not schema-checked: Application x1\n', '']);
    const dirty = cli(join(dir, 'dirty'));
    expect([dirty.status, dirty.stdout.split('\n'), dirty.stderr]).toEqual([1, [
      `${join(dir, 'dirty', 'team.yaml')}: Namespace team: reference: defined again (first in ${join(dir, 'dirty', 'config.yaml')}). Fix: keep one definition; validate each environment's folder on its own`,
      `${join(dir, 'dirty', 'config.yaml')}: ConfigMap team/creds: security: key DB_PASSWORD looks like a credential (rule 11)`,
      'cd4ml validate: 5 objects in 3 files, 2 findings (schema 4, strict 4, references, security); not schema-checked: Application x1',
      '',
    ], '']);
    const missing = cli(join(dir, 'nowhere'));
    expect([missing.status, missing.stdout, missing.stderr.split('\n')]).toEqual([2, '', [
      `cd4ml validate: ${join(dir, 'nowhere')} is not a directory. Fix: synthesize first (npm run synth, or cdk8s synth), or name the directory of the manifests`,
      'usage: cd4ml validate DIR [--known-secret NS/NAME:KEY1,KEY2]... [--known-namespace NS]... [--json]',
      '',
    ]]);
  });

  test('usage errors: an unknown option, no directory, a malformed --known-secret', async () => {
    for (const [argv, message] of [
      [['validate', dir, '--strict'], 'cd4ml validate: unknown option "--strict". Fix: use --known-secret, --known-namespace or --json'],
      [['validate'], 'cd4ml validate: no directory given. Fix: name the directory of the manifests, e.g. cd4ml validate dist'],
      [['validate', dir, '--known-secret', 'team/db'], 'cd4ml validate: --known-secret "team/db" is not NS/NAME:KEY1,KEY2. Fix: e.g. --known-secret cd4ml/postgres-mlflow:username,password'],
      [['validate', dir, '--known-secret'], 'cd4ml validate: --known-secret needs a value. Fix: e.g. --known-secret cd4ml/postgres-mlflow:username,password'],
    ] as const) {
      const err: string[] = [];
      expect(await main([...argv], () => undefined, (l) => err.push(l))).toBe(2);
      expect(err).toEqual([message, 'usage: cd4ml validate DIR [--known-secret NS/NAME:KEY1,KEY2]... [--known-namespace NS]... [--json]']);
    }
  });

  test('--json prints the report; --known-secret makes a supplied Secret resolve', async () => {
    // given a repository whose ConfigMap is fine, but whose Deployment reads a Secret it does not create
    const repo = join(dir, 'secrets');
    writeYaml(join(repo, 'app.yaml'), [
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'team' }, spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27', env: [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }] }] } } } },
    ]);
    const run = async (...extra: string[]) => {
      const out: string[] = [];
      const code = await main(['validate', repo, '--json', ...extra], (l) => out.push(l));
      return { code, report: JSON.parse(out.join('\n')) as ValidationReport };
    };
    // when / then: without it, the Secret dangles
    const without = await run();
    expect(without.code).toBe(1);
    expect(without.report.findings).toContainEqual({ file: join(repo, 'app.yaml'), object: 'Deployment team/web', check: 'reference', message: 'container web: env DB_PASSWORD reads team/db[password], which no one creates' });
    // with it (repeatable), it resolves; the security findings of the bare Deployment stay
    const known = await run('--known-secret', 'team/db:password,username', '--known-secret=team/other:x');
    expect(known.code).toBe(1);
    expect(known.report.findings.filter((f) => f.check === 'reference')).toEqual([]);
    expect(known.report.counts.security).toBeGreaterThan(0);
    expect(known.report).toMatchObject({ files: 1, objects: 1, schema: { checked: 1 }, strict: { checked: 1 } });
  });

  test('every environment `npm run synth` writes validates clean; prod once its supplied Secrets and its ingress controller\'s namespace are named', async () => {
    // given every environment's GitOps folder
    const out = join(dir, 'environments');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('../../stacks/synth').synth(['sandbox', 'dev', 'staging', 'prod', '--out', out]);
    for (const env of ['sandbox', 'dev', 'staging']) {
      const lines: string[] = [];
      expect({ env, code: await main(['validate', join(out, env)], (l) => lines.push(l)), lines: lines.filter((l) => !l.startsWith('cd4ml validate:')) }).toEqual({ env, code: 0, lines: [] });
    }
    // prod reads the external stores' Secrets (made by Pulumi from config, or by the team) and lets its ingress
    // controller in: named, they resolve
    const plan = loadStack('prod' as EnvironmentName);
    synthesizeEnvironment(plan.definition);
    const known = plan.externalSecrets.flatMap(({ ref }) => ref.requiredIn.map((ns) => `--known-secret=${ns}/${ref.secretName}:${ref.keys.join(',')}`));
    const bare: string[] = [];
    expect(await main(['validate', join(out, 'prod')], (l) => bare.push(l))).toBe(1);
    expect(bare.some((l) => /namespace ingress-nginx is not in the output/.test(l))).toBe(true);
    const named: string[] = [];
    expect(await main(['validate', join(out, 'prod'), ...known, '--known-namespace', 'ingress-nginx'], (l) => named.push(l))).toBe(0);
    expect(named[named.length - 1]).toMatch(/^cd4ml validate: \d+ objects in \d+ files, 0 findings/);
  });
});
