import { App, Chart } from 'cdk8s';
import { FanOut, ParameterType, Pipeline, Platform, SeaweedObjectStore, CredentialsGenerator } from '../../../constructs';
import { chart, problemsOf } from './support';

// What only the whole output shows: two objects with one name, objects the API server would refuse for their size,
// names longer than their kind allows; and a step bigger than its namespace's whole quota.

const IMAGE = 'registry.example/steps:1.0.0';

/** Synthesizes the app (every validation runs), returning the error message or '' when it passes. */
function synthError(build: (c: Chart) => void): string {
  const app = new App({ outdir: '/tmp/cd4ml-output-test' });
  const c = new Chart(app, 'test', { disableResourceNameHashes: true });
  try {
    build(c);
    app.synthYaml();
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

describe('the whole output', () => {
  test('passes the sandbox platform with a pipeline', () => {
    expect(synthError((c) => {
      const p = new Platform(c, 'platform');
      new Pipeline(c, 'train', { runner: p.pipelineRunner }).addStep('fit', { image: IMAGE });
    })).toBe('');
  });

  test('refuses two pipelines of one name, naming both constructs', () => {
    const message = synthError((c) => {
      const p = new Platform(c, 'platform');
      new Pipeline(c, 'train', { runner: p.pipelineRunner }).addStep('fit', { image: IMAGE });
      new Pipeline(c, 'retrain', { runner: p.pipelineRunner, name: 'train' }).addStep('fit', { image: IMAGE });
    });
    expect(message).toMatch(/test\/retrain: metadata.name = "train": renders WorkflowTemplate ml-pipelines\/train, which test\/train renders too/);
    expect(message).toMatch(/Fix: give one of them another name or namespace, e.g. "train-2"/);
  });

  test('refuses two schedules whose names derive to one string', () => {
    const message = synthError((c) => {
      const p = new Platform(c, 'platform');
      const a = new Pipeline(c, 'a', { runner: p.pipelineRunner, name: 'a-b' });
      a.addStep('fit', { image: IMAGE });
      a.addSchedule('c', { cron: '0 3 * * *' });
      const b = new Pipeline(c, 'b', { runner: p.pipelineRunner, name: 'a' });
      b.addStep('fit', { image: IMAGE });
      b.addSchedule('b-c', { cron: '0 4 * * *' });
    });
    expect(message).toMatch(/test\/b: metadata.name = "a-b-c": renders CronWorkflow ml-pipelines\/a-b-c, which test\/a renders too/);
  });

  test('refuses an object larger than etcd stores (a fan-out of 300,000 listed items)', () => {
    const message = synthError((c) => {
      const p = new Platform(c, 'platform');
      const pipe = new Pipeline(c, 'sweep', { runner: p.pipelineRunner });
      pipe.addStep('fit', { image: IMAGE, inputs: { seed: FanOut.ITEM }, fanOut: FanOut.items(Array.from({ length: 300000 }, (_, i) => i)) });
    });
    expect(message).toMatch(/test\/sweep: WorkflowTemplate ml-pipelines\/sweep = "\d+ bytes": is larger than the 1572864 bytes etcd stores in one object. Fix: make it smaller: fan out over a step's output \(FanOut.overOutput\)/);
  });

  test('refuses names longer than their kind allows, from a store\'s name', () => {
    const name = 'objects-for-the-machine-learning-platform-of-team-a-in-eu';
    const message = synthError((c) => {
      const credentials = new CredentialsGenerator(c, 'creds', { namespace: 'store' });
      new SeaweedObjectStore(c, 'store', { namespace: 'store', credentials, name }).addBucket('data');
    });
    expect(message).toMatch(new RegExp(`test/store: metadata.name = "${name}": is ${name.length} characters: a StatefulSet name may have at most 52`));
    expect(message).toMatch(/a Job name may have at most 63/);
  });

  test('refuses a step bigger than its namespace\'s whole quota, and a fix that fits passes', () => {
    const step = (cpu: string) => problemsOf(() => {
      const c = chart();
      const p = new Platform(c, 'platform');
      new Pipeline(c, 'train', { runner: p.pipelineRunner }).addStep('fit', { image: IMAGE, resources: { cpu }, outputs: { x: ParameterType.STRING } });
    });
    const [problem] = step('64');
    expect(problem).toMatchObject({ field: 'resources.cpu', value: '64', message: expect.stringMatching(/exceeds the pipeline namespace's whole quota \((\d+m?)\)/) });
    const fix = /request at most "([^"]+)"/.exec(problem.fix)![1];
    expect(step(fix)).toEqual([]);
  });
});
