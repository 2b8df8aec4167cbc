import { ApiObject } from 'cdk8s';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { parse, parseAllDocuments } from 'yaml';
import {
  buildEnvironment, Cd4mlValidationError, EnvironmentDefinition, EnvironmentName, gitopsFiles, ModelEndpoint, Pipeline, readEnvironmentOutput, synthesizeEnvironment, writeEnvironment,
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
      ['team-ml-dev-cluster', '-2', 'clusters/dev/dev/cluster'],
      ['team-ml-dev-platform', '-1', 'clusters/dev/dev/platform'],
      ['team-ml-dev-pipelines', '0', 'clusters/dev/dev/pipelines'],
    ]);
    for (const a of apps) {
      expect(a).toMatchObject({ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { namespace: 'argocd' }, spec: { project: 'default', source: { targetRevision: 'HEAD' }, destination: { server: 'https://kubernetes.default.svc' } } });
      expect(a.spec.syncPolicy.syncOptions).toContain('ServerSideApply=true');
    }
    // the output at the repository's root: relative paths (Argo CD refuses absolute ones); SSH URLs with git's user
    for (const path of ['', '.']) {
      const root = parseAllDocuments(gitopsFiles(env, { argoCd: { repoURL: 'git@github.com:example-org/gitops.git', path } }).find((f) => f.path === 'argocd/dev.yaml')!.content).map((d) => d.toJSON());
      expect(root.map((a) => a.spec.source.path)).toEqual(['dev/cluster', 'dev/platform', 'dev/pipelines']);
    }
    expect(() => writeEnvironment(dir, env, { argoCd: { repoURL: 'ssh://git@github.com/example-org/gitops.git' } })).not.toThrow();
    // every folder an Application syncs holds files, and nothing outside them is left out
    const folders = new Set(files.filter((f) => f.path.startsWith('dev/') && !f.path.endsWith('kustomization.yaml')).map((f) => f.path.split('/')[1]));
    expect([...folders].sort()).toEqual(['cluster', 'pipelines', 'platform']);
  });

  test('the Application of a folder with model endpoints leaves their rolled version to the delivery; the others compare everything', () => {
    const env = synthesizeEnvironment({
      ...team,
      pipelines: (scope, platform) => {
        new ModelEndpoint(scope, 'churn-prod', { platform, model: 'churn', version: '1', image: 'ghcr.io/team/churn:1.0.0' });
      },
    });
    const files = gitopsFiles(env, { argoCd: { repoURL: 'https://github.com/example-org/gitops.git' } });
    const apps = parseAllDocuments(files.find((f) => f.path === 'argocd/dev.yaml')!.content).map((d) => d.toJSON());
    const pipelines = apps.find((a) => a.metadata.name.endsWith('-pipelines'));
    expect(pipelines.spec.ignoreDifferences).toEqual([{
      group: 'apps', kind: 'Deployment', name: 'churn-prod', namespace: env.platform.trackingServer.namespace,
      jqPathExpressions: ['.spec.template.spec.containers[] | select(.name == "model") | .env[] | select(.name == "CD4ML_MODEL_VERSION") | .value'],
    }]);
    // a sync keeps the ignored value too, not only the diff
    expect(pipelines.spec.syncPolicy.syncOptions).toContain('RespectIgnoreDifferences=true');
    for (const a of apps.filter((x) => x !== pipelines)) {
      expect(a.spec.ignoreDifferences).toBeUndefined();
      expect(a.spec.syncPolicy.syncOptions).not.toContain('RespectIgnoreDifferences=true');
    }
  });

  test('a repository URL with a credential in it is refused without echoing it, and nothing is written', () => {
    const env = synthesizeEnvironment(team);
    // a token as the URL's user, as GitHub and GitLab accept it
    for (const repoURL of ['https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r.git', 'https://0123456789abcdef0123456789abcdef01234567@github.com/o/r.git', 'ssh://git:hunter2@github.com/o/r.git']) {
      const m = reportOf(() => writeEnvironment(dir, env, { argoCd: { repoURL } }));
      expect(m).toMatch(/argoCd.repoURL = "\(redacted\)": carries a credential, which would be written to a committed file/);
      expect(m).not.toMatch(/ghp_|0123456789abcdef|hunter2/);
    }
    const message = reportOf(() => writeEnvironment(dir, env, { argoCd: { repoURL: 'https://bot:ghp_s3cr3tT0ken@github.com/example-org/gitops.git', path: '/abs' } }));
    expect(message).toMatch(/argoCd.repoURL = "\(redacted\)": carries a credential/);
    expect(message).toMatch(/argoCd.path = "\/abs": is not a relative path/);
    expect(message).not.toMatch(/s3cr3t/);
    expect(readdirSync(dir)).toEqual([]);
  });

  test('a write cut short between its two renames: the old folder set aside is found by the guard, then put back', () => {
    const env = synthesizeEnvironment(team);
    writeEnvironment(dir, env);
    const count = readEnvironmentOutput(dir, EnvironmentName.DEV).length;
    // given the process died after setting the old folder aside, before the new one took its place
    renameSync(join(dir, 'dev'), join(dir, '.cd4ml-previous-dev-4242'));
    mkdirSync(join(dir, '.cd4ml-staging-dev-4242', 'dev'), { recursive: true });
    // then the previous output is still what the data-loss guard compares with
    expect(readEnvironmentOutput(dir, EnvironmentName.DEV).length).toBe(count);
    // and the next write restores it, then replaces it, leaving nothing aside
    writeEnvironment(dir, env);
    expect(readdirSync(dir).sort()).toEqual(['dev']);
    expect(readEnvironmentOutput(dir, EnvironmentName.DEV).length).toBe(count);
  });

  test('an output directory that is a file, and a namespaced object without its namespace, are refused', () => {
    const file = join(dir, 'dist');
    writeFileSync(file, 'not a folder');
    expect(reportOf(() => writeEnvironment(file, synthesizeEnvironment(team)))).toMatch(/outdir = ".*dist": is a file, not a directory/);
    const message = reportOf(() => synthesizeEnvironment({
      pipelines: (scope) => { new ApiObject(scope, 'settings', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'team-settings' } }); },
    }));
    expect(message).toMatch(/sandbox: ConfigMap team-settings.metadata.namespace = \(missing\): is missing on a namespaced object. Fix: set metadata.namespace/);
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
