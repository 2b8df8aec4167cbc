import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parse, parseAllDocuments } from 'yaml';
import {
  buildEnvironment, Cd4mlValidationError, EnvironmentDefinition, EnvironmentName, gitopsFiles, Pipeline, readEnvironmentOutput, synthesizeEnvironment, writeEnvironment,
} from '../../../index';

/** The report a call throws (failing the test when it throws none, or throws something else). */
function reportOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(Cd4mlValidationError);
    return (e as Error).message;
  }
  throw new Error('expected a Cd4mlValidationError');
}

const team: EnvironmentDefinition = {
  environment: EnvironmentName.DEV,
  platform: { namespace: 'team-ml', workflowNamespace: 'team-argo', pipelineNamespace: 'team-pipelines' },
  pipelines: (scope, platform) => {
    const p = new Pipeline(scope, 'churn', { runner: platform.pipelineRunner });
    p.addStep('train', { image: 'ghcr.io/team/churn:1.0.0', command: ['python', '-m', 'churn.train'] });
  },
};

describe('an environment defined once', () => {
  test('builds the platform chart, then the pipelines chart the callback fills, on the platform\'s runner', () => {
    const env = synthesizeEnvironment(team);
    expect(env.environment).toBe(EnvironmentName.DEV);
    expect(env.platform.namespaces).toEqual(['team-ml', 'team-argo', 'team-pipelines']);
    expect(env.pipelineObjects.find((o) => o.kind === 'WorkflowTemplate')).toMatchObject({ metadata: { name: 'churn', namespace: 'team-pipelines' } });
    expect(env.pipelinesChart.node.dependencies).toContain(env.platformChart);
    // the sandbox, with nothing given
    expect(synthesizeEnvironment({}).platform.namespaces).toEqual(['cd4ml', 'argo', 'ml-pipelines']);
  });

  test('bad definitions, from TypeScript or plain JavaScript, fail with one report and never a TypeError', () => {
    const js = (x: unknown) => x as EnvironmentDefinition;
    expect(reportOf(() => buildEnvironment(js(undefined)))).toMatch(/EnvironmentDefinition: \(definition\) = \(missing\): is not an object. Fix: give \{ environment/);
    const all = reportOf(() => buildEnvironment(js({ environment: 'qa', platform: 'big', pipelines: ['churn'] })));
    expect(all).toMatch(/3 invalid inputs/);
    expect(all).toMatch(/environment = "qa": is not a known environment preset/);
    expect(all).toMatch(/platform = "big": is not an object/);
    expect(all).toMatch(/pipelines = "object": is not a function/);
    expect(reportOf(() => buildEnvironment({ environment: EnvironmentName.DEV, platform: { environment: EnvironmentName.PROD } as never }))).toMatch(/platform.environment = "prod": is set twice. Fix: set the environment once, as definition.environment/);
  });

  test('the platform\'s and the pipelines\' problems come in one report', () => {
    const message = reportOf(() => synthesizeEnvironment({
      platform: { namespace: 'Team ML' },
      pipelines: (scope, platform) => {
        const p = new Pipeline(scope, 'churn', { runner: platform.pipelineRunner });
        p.addStep('train', { image: 'ghcr.io/team/churn:latest', command: ['python'] });
      },
    }));
    expect(message).toMatch(/namespace = "Team ML"/);
    expect(message).toMatch(/image = "ghcr.io\/team\/churn:latest": is not pinned/);
  });
});

describe('the GitOps output', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'cd4ml-gitops-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('Argo CD Applications per folder, in sync waves: cluster-scoped first, then the platform, then the pipelines', () => {
    const env = synthesizeEnvironment(team);
    const files = gitopsFiles(env, { argoCd: { repoURL: 'https://github.com/example-org/gitops.git', path: 'clusters/dev' } });
    const apps = parseAllDocuments(files.find((f) => f.path === 'argocd/dev.yaml')!.content).map((d) => d.toJSON());
    expect(apps.map((a) => [a.metadata.name, a.metadata.annotations['argocd.argoproj.io/sync-wave'], a.spec.source.path])).toEqual([
      ['cd4ml-dev-cluster', '-2', 'clusters/dev/dev/cluster'],
      ['cd4ml-dev-platform', '-1', 'clusters/dev/dev/platform'],
      ['cd4ml-dev-pipelines', '0', 'clusters/dev/dev/pipelines'],
    ]);
    for (const a of apps) {
      expect(a).toMatchObject({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { namespace: 'argocd' }, spec: { project: 'default', source: { targetRevision: 'HEAD' }, destination: { server: 'https://kubernetes.default.svc' } } });
      expect(a.spec.syncPolicy.syncOptions).toContain('ServerSideApply=true');
    }
    // every folder an Application syncs holds files, and nothing outside them is left out
    const folders = new Set(files.filter((f) => f.path.startsWith('dev/') && !f.path.endsWith('kustomization.yaml')).map((f) => f.path.split('/')[1]));
    expect([...folders].sort()).toEqual(['cluster', 'pipelines', 'platform']);
  });

  test('a repository URL with a credential in it is refused without echoing it, and nothing is written', () => {
    const env = synthesizeEnvironment(team);
    const message = reportOf(() => writeEnvironment(dir, env, { argoCd: { repoURL: 'https://bot:ghp_s3cr3tT0ken@github.com/example-org/gitops.git', path: '/abs' } }));
    expect(message).toMatch(/argoCd.repoURL = .*: is not a Git URL without credentials/);
    expect(message).toMatch(/argoCd.path = "\/abs": is not a relative path/);
    expect(message).not.toMatch(/s3cr3t/);
    expect(readdirSync(dir)).toEqual([]);
  });

  test('writing is all or nothing: an object that cannot be written leaves the previous output as it was', () => {
    const env = synthesizeEnvironment(team);
    writeEnvironment(dir, env, { argoCd: { repoURL: 'https://github.com/example-org/gitops.git' } });
    const before = readFileSync(join(dir, 'dev', 'platform', 'team-ml.yaml'), 'utf8');
    const broken = { ...env, platformObjects: [...env.platformObjects, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'team-ml' }, data: { n: Number.NaN } }] };
    expect(() => writeEnvironment(dir, broken)).toThrow(/NaN/);
    expect(readFileSync(join(dir, 'dev', 'platform', 'team-ml.yaml'), 'utf8')).toBe(before);
    expect(existsSync(join(dir, 'argocd', 'dev.yaml'))).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['argocd', 'dev']);
    // written again without Argo CD: its Applications go too
    writeEnvironment(dir, env);
    expect(existsSync(join(dir, 'argocd', 'dev.yaml'))).toBe(false);
    // and what was written reads back as the objects
    expect(readEnvironmentOutput(dir, EnvironmentName.DEV).length).toBe(env.platformObjects.length + env.pipelineObjects.length);
    expect(parse(readFileSync(join(dir, 'dev', 'kustomization.yaml'), 'utf8')).resources[0]).toBe('cluster/namespaces.yaml');
  });
});
