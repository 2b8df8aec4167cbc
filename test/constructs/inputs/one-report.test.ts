import { mkdtempSync, readdirSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App, Chart } from 'cdk8s';
import { FanOut, ParameterType, Pipeline, Platform } from '../../../constructs';
import { Cd4mlValidationError, Problem } from '../../../lib';

// Given an app with several mistakes in several constructs, when it is synthesized, then one report lists every one
// of them (construct, field, value, fix), and nothing is written: a bad Platform prop does not hide a bad step.

const IMAGE = 'ghcr.io/example/train:1.0.0';

function synthErrors(build: (chart: Chart) => void): { problems: Problem[]; written: string[] } {
  const outdir = mkdtempSync(join(tmpdir(), 'cd4ml-one-report-'));
  const app = new App({ outdir });
  let problems: Problem[] = [];
  try {
    build(new Chart(app, 'env', { disableResourceNameHashes: true }));
    app.synth();
  } catch (e) {
    if (!(e instanceof Cd4mlValidationError)) throw e;
    problems = [...e.problems];
  }
  return { problems, written: readdirSync(outdir) };
}

const where = (problems: Problem[]) => problems.map((p) => `${p.path} ${p.field} = ${JSON.stringify(p.value)}`);

describe('one report per synth', () => {
  test('a bad Platform prop, a bad pipeline prop, parameter, step and schedule are all in the one report; nothing is written', () => {
    const r = synthErrors((chart) => {
      const platform = new Platform(chart, 'platform', { namespace: 'Bad_NS', trackingServerHosts: ['mlflow..example.com'] });
      const pipeline = new Pipeline(chart, 'train', { runner: platform.pipelineRunner, timeout: '2 hours' });
      const n = pipeline.addParameter('n_estimators', { type: ParameterType.INTEGER, default: 1.5 });
      const prep = pipeline.addStep('prepare', { image: IMAGE, resources: { cpu: '1Gi' }, outputs: { path: ParameterType.STRING } });
      pipeline.addStep('train', { image: 'train:latest', inputs: { n, data: prep.output('path') }, after: [prep] });
      pipeline.addSchedule('nightly', { cron: '0 25 * * *' });
    });
    expect(where(r.problems)).toEqual([
      'env/platform namespace = "Bad_NS"',
      'env/platform trackingServerHosts[0] = "mlflow..example.com"',
      'env/train timeout = "2 hours"',
      'env/train parameters.n_estimators.default = 1.5',
      'env/train/prepare resources.cpu = "1Gi"',
      'env/train/train image = "train:latest"',
      'env/train/nightly cron = "0 25 * * *"',
    ]);
    // every problem carries its fix
    for (const p of r.problems) expect(p.fix.length).toBeGreaterThan(10);
    expect(r.written).toEqual([]);
  });

  test('a problem that stops construction carries every problem deferred before it', () => {
    const r = synthErrors((chart) => {
      new Platform(chart, 'platform', { workflowNamespace: 'kube-system' });
      new Pipeline(chart, 'train', { runner: undefined as never });
    });
    expect(where(r.problems)).toEqual(['env/platform workflowNamespace = "kube-system"', 'env/train runner = "missing"']);
    expect(r.written).toEqual([]);
  });

  test('a step refused for its name is reported once: the steps wired to it are not reported as depending on an unknown step', () => {
    const r = synthErrors((chart) => {
      const platform = new Platform(chart, 'platform');
      const pipeline = new Pipeline(chart, 'train', { runner: platform.pipelineRunner });
      pipeline.addStep('prepare', { image: IMAGE, outputs: { path: ParameterType.STRING } });
      const again = pipeline.addStep('prepare', { image: IMAGE, outputs: { path: ParameterType.STRING } });
      pipeline.addStep('train', { image: IMAGE, inputs: { data: again.output('path') } });
    });
    expect(where(r.problems)).toEqual(['env/train/prepare name = "prepare"']);
    expect(r.problems[0].message).toMatch(/duplicate step name/);
  });

  test('with every mistake fixed as the report says, the same app synthesizes', () => {
    const r = synthErrors((chart) => {
      const platform = new Platform(chart, 'platform', { namespace: 'bad-ns', trackingServerHosts: ['mlflow.example.com'] });
      const pipeline = new Pipeline(chart, 'train', { runner: platform.pipelineRunner, timeout: '2h' });
      const n = pipeline.addParameter('n_estimators', { type: ParameterType.INTEGER, default: 100 });
      const prep = pipeline.addStep('prepare', { image: IMAGE, resources: { cpu: '1' }, outputs: { path: ParameterType.STRING } });
      pipeline.addStep('train', { image: IMAGE, inputs: { n, data: prep.output('path') } });
      pipeline.addSchedule('nightly', { cron: '0 23 * * *' });
    });
    expect(r.problems).toEqual([]);
    expect(r.written).toEqual(['env.k8s.yaml']);
  });
});

describe('the construct and value the user wrote', () => {
  test.each<[string, Record<string, unknown>, string, string]>([
    ['objectStoreStorage', { objectStoreStorage: '10GB' }, 'objectStoreStorage', '"10GB"'],
    ['databaseStorage', { databaseStorage: 'lots' }, 'databaseStorage', '"lots"'],
    ['trackingServerReplicas', { trackingServerReplicas: NaN }, 'trackingServerReplicas', 'NaN'],
    ['workflowServerReplicas', { workflowServerReplicas: 1.5 }, 'workflowServerReplicas', '1.5'],
    ['workflowAuthMode', { workflowAuthMode: 'sso-ish' }, 'workflowAuthMode', '"sso-ish"'],
    ['kubeApi', { kubeApi: { cidr: '10.0.0.0/33' } }, 'kubeApi.cidr', '"10.0.0.0/33"'],
    ['kubeApi ports', { kubeApi: { ports: 443 } }, 'kubeApi.ports', '443'],
  ])('a Platform prop its components use (%s) is reported as the Platform\'s, with the value given', (_what, props, field, shown) => {
    const r = synthErrors((chart) => { new Platform(chart, 'platform', props as never); });
    expect(r.problems.map((p) => `${p.path} ${p.field}`)).toEqual([`env/platform ${field}`]);
    expect(new Cd4mlValidationError(r.problems).message).toContain(`env/platform: ${field} = ${shown}: `);
  });

  test('messages read as written: "an integer", "1 GPU"', () => {
    const r = synthErrors((chart) => {
      const platform = new Platform(chart, 'platform', { gpu: { nodeSelector: { 'nvidia.com/gpu.present': 'true' }, maxPerStep: 1 } });
      const pipeline = new Pipeline(chart, 'train', { runner: platform.pipelineRunner });
      pipeline.addParameter('n', { type: ParameterType.INTEGER, default: 0.5 });
      pipeline.addParameter('name', { type: 'text' as never, default: 'x' });
      pipeline.addStep('fit', { image: IMAGE, resources: { gpu: { count: 2 } } });
    });
    const text = new Cd4mlValidationError(r.problems).message;
    expect(text).toContain('Fix: give an integer default');
    expect(text).toContain('parameters.name.type = "text": is not a parameter type');
    expect(text).toContain('exceeds the runner\'s 1 GPU per step');
  });
});

describe('props changed by the caller after the call', () => {
  test('do not reach the output: what was checked is what renders', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'cd4ml-mutated-'));
    const app = new App({ outdir });
    const chart = new Chart(app, 'env', { disableResourceNameHashes: true });
    const platformProps = { trackingServerHosts: ['mlflow.example.com'] };
    const platform = new Platform(chart, 'platform', platformProps);
    const pipelineProps = { runner: platform.pipelineRunner, timeout: '2h' };
    const pipeline = new Pipeline(chart, 'train', pipelineProps);
    const stepProps = { image: IMAGE, env: { MODE: 'fast' }, args: ['--epochs', '3'] };
    pipeline.addStep('fit', stepProps);
    const scheduleProps = { cron: '0 2 * * *' };
    pipeline.addSchedule('nightly', scheduleProps);
    // when the caller changes every one of those objects afterwards, to values the checks would refuse
    platformProps.trackingServerHosts.push('evil..example.com');
    pipelineProps.timeout = 'forever';
    stepProps.image = 'train:latest';
    stepProps.env.MODE = 'postgresql://u:hunter2@db/x';
    stepProps.args.push('--password=hunter2');
    scheduleProps.cron = 'never';
    app.synth();
    const out = readFileSync(join(outdir, 'env.k8s.yaml'), 'utf8');
    expect(out).not.toMatch(/evil\.\.example|forever|train:latest|hunter2|cron.*never/);
    expect(out).toContain(IMAGE);
    expect(out).toMatch(/activeDeadlineSeconds: 7200/);
  });
});

describe('what is refused is reported once, not again by what is built on it', () => {
  test('a refused pipeline name gives way to a valid one: its schedules and triggers raise nothing more', () => {
    const r = synthErrors((chart) => {
      const platform = new Platform(chart, 'platform');
      const pipeline = new Pipeline(chart, 'Training', { runner: platform.pipelineRunner, name: 'training_v2' });
      pipeline.addStep('fit', { image: IMAGE });
      pipeline.addSchedule('nightly', { cron: '0 2 * * *' });
      pipeline.addEventTrigger('new-data');
    });
    expect(where(r.problems)).toEqual(['env/Training name = "training_v2"']);
  });

  test('a refused parameter used by a step, a schedule and a trigger is reported once', () => {
    const r = synthErrors((chart) => {
      const platform = new Platform(chart, 'platform');
      const pipeline = new Pipeline(chart, 'train', { runner: platform.pipelineRunner });
      const n = pipeline.addParameter('n-estimators', { type: ParameterType.INTEGER, default: 100 });
      pipeline.addStep('fit', { image: IMAGE, inputs: { n } });
      pipeline.addSchedule('nightly', { cron: '0 2 * * *', arguments: { 'n-estimators': 50 } });
      pipeline.addEventTrigger('retrain', { arguments: { 'n-estimators': 'payload.n' } });
    });
    expect(where(r.problems)).toEqual(['env/train parameters.n-estimators = "n-estimators"']);
  });

  test('one refused namespace brings all three back to their defaults, so they cannot clash, and the rest is still checked', () => {
    const r = synthErrors((chart) => {
      const platform = new Platform(chart, 'platform', { pipelineNamespace: 'argo', workflowNamespace: 'Bad_NS' });
      new Pipeline(chart, 'train', { runner: platform.pipelineRunner, timeout: 'soon' }).addStep('fit', { image: IMAGE });
    });
    // (with only workflowNamespace back to its default, "argo", it would clash with the pipelines' and stop here)
    expect(where(r.problems)).toEqual(['env/platform workflowNamespace = "Bad_NS"', 'env/train timeout = "soon"']);
  });

  test('a refused gpu prop is reported once: the GPU steps raise nothing more', () => {
    const r = synthErrors((chart) => {
      const platform = new Platform(chart, 'platform', { gpu: { nodeSelector: { 'nvidia.com/gpu.present': 'true' }, tolerations: [{ key: 'Bad Key', operator: 'Exists' }] } as never });
      const pipeline = new Pipeline(chart, 'train', { runner: platform.pipelineRunner });
      pipeline.addStep('fit', { image: IMAGE, resources: { gpu: { count: 1 } } });
    });
    expect(r.problems.map((p) => p.path)).toEqual(r.problems.map(() => 'env/platform'));
    expect(r.problems.length).toBeGreaterThan(0);
  });

  test('the fan-out item keeps its identity: a step that does not fan out may not read it, and a cached fan-out keys on it once', () => {
    const r = synthErrors((chart) => {
      const platform = new Platform(chart, 'platform');
      new Pipeline(chart, 'train', { runner: platform.pipelineRunner }).addStep('fit', { image: IMAGE, inputs: { lr: FanOut.ITEM } });
    });
    expect(r.problems.map((p) => p.message)).toEqual(['is the fan-out item of a step that does not fan out']);
    const outdir = mkdtempSync(join(tmpdir(), 'cd4ml-item-'));
    const app = new App({ outdir });
    const chart = new Chart(app, 'env', { disableResourceNameHashes: true });
    const platform = new Platform(chart, 'platform');
    new Pipeline(chart, 'train', { runner: platform.pipelineRunner }).addStep('sweep', { image: IMAGE, inputs: { lr: FanOut.ITEM }, fanOut: FanOut.items([0.1, 0.2]), cache: { version: '1' } });
    app.synth();
    expect(readFileSync(join(outdir, 'env.k8s.yaml'), 'utf8')).not.toContain("'item=' + string(item)");
  });

  test('a JavaScript caller\'s wrong after, fanOut or inputArtifacts, and props with a cycle, are problems, not TypeErrors', () => {
    const cyclic: Record<string, unknown> = { MODE: 'fast' };
    cyclic.self = cyclic;
    const r = synthErrors((chart) => {
      const platform = new Platform(chart, 'platform');
      const pipeline = new Pipeline(chart, 'train', { runner: platform.pipelineRunner });
      pipeline.addStep('a', { image: IMAGE, after: [undefined as never] });
      pipeline.addStep('b', { image: IMAGE, fanOut: {} as never });
      pipeline.addStep('c', { image: IMAGE, inputArtifacts: { m: 'x' as never } });
      pipeline.addStep('d', { image: IMAGE, env: cyclic as never });
    });
    expect(r.problems.map((p) => `${p.path} ${p.field}`).slice(0, 3)).toEqual(['env/train/a after[0]', 'env/train/b fanOut', 'env/train/c inputArtifacts.m']);
    expect(r.problems.some((p) => p.path === 'env/train/d')).toBe(true);
  });

  test('a bad grant stops at once, carrying what was deferred before it', () => {
    const r = synthErrors((chart) => {
      const platform = new Platform(chart, 'platform', { namespace: 'Bad_NS' });
      platform.trackingServer.grantUser(platform.pipelineRunner, 'Bad_User');
    });
    expect(where(r.problems)).toEqual(['env/platform namespace = "Bad_NS"', 'env/platform/TrackingServer grantUser(user) = "Bad_User"']);
  });
});
