import { Chart } from 'cdk8s';
import {
  ConcurrencyPolicy, FanOut, ParameterType, Pipeline, PipelineProps, Platform, PlatformProps, RetryOn,
} from '../../../constructs';
import { EnvironmentName } from '../../../lib';
import { Obj, synth } from '../../support/manifests';

const IMAGE = 'registry.example/steps:1.0.0';

/** A platform (with or without GPUs) and a pipeline built on its runner. */
function withPipeline(build: (p: Pipeline, chart: Chart) => void, opts: { platform?: PlatformProps; pipeline?: Partial<PipelineProps> } = {}) {
  return synth((chart) => {
    const platform = new Platform(chart, 'platform', opts.platform);
    const pipeline = new Pipeline(chart, 'train', { runner: platform.pipelineRunner, ...opts.pipeline });
    build(pipeline, chart);
  });
}
const wt = (m: ReturnType<typeof synth>, name = 'train') => m.find('WorkflowTemplate', name, 'ml-pipelines');
const tmpl = (m: ReturnType<typeof synth>, step: string) => wt(m).spec.templates.find((t: Obj) => t.name === step);
const task = (m: ReturnType<typeof synth>, step: string) => wt(m).spec.templates[0].dag.tasks.find((t: Obj) => t.name === step);
const GPU: PlatformProps = { environment: EnvironmentName.DEV, gpu: { nodeSelector: { 'nvidia.com/gpu.present': 'true' }, maxPerStep: 2 } };

describe('Pipeline rendering', () => {
  test('wiring an output into an input creates the DAG edge and passes the value', () => {
    const m = withPipeline((p) => {
      const size = p.addParameter('test_size', { type: ParameterType.NUMBER, default: 0.3 });
      const prepare = p.addStep('prepare', { image: IMAGE, inputs: { test_size: size }, outputs: { data_uri: ParameterType.STRING } });
      p.addStep('train', { image: IMAGE, inputs: { data_uri: prepare.output('data_uri'), n: 10 } });
    });
    expect(wt(m).spec.entrypoint).toBe('dag');
    expect(wt(m).spec.arguments.parameters).toEqual([{ name: 'test_size', value: '0.3', description: 'number' }]);
    expect(task(m, 'train')).toMatchObject({
      dependencies: ['prepare'],
      arguments: { parameters: [{ name: 'data_uri', value: '{{tasks.prepare.outputs.parameters.data_uri}}' }, { name: 'n', value: '10' }] },
    });
    expect(task(m, 'prepare').dependencies).toBeUndefined();
    expect(tmpl(m, 'prepare').outputs.parameters).toEqual([{ name: 'data_uri', valueFrom: { path: '/tmp/outputs/data_uri' } }]);
    expect(tmpl(m, 'train').container.args).toEqual(['--data_uri', '{{inputs.parameters.data_uri}}', '--n', '{{inputs.parameters.n}}']);
  });

  test('`after` orders steps without passing data, and tasks render in execution order', () => {
    const m = withPipeline((p) => {
      const b = p.addStep('b', { image: IMAGE });
      const a = p.addStep('a', { image: IMAGE, after: [b] });
      p.addStep('c', { image: IMAGE, after: [a, b] });
    });
    expect(wt(m).spec.templates[0].dag.tasks.map((t: Obj) => [t.name, t.dependencies])).toEqual([['b', undefined], ['a', ['b']], ['c', ['a', 'b']]]);
  });

  test('every step runs as the runner\'s service account with the runner\'s defaults, the experiment and restricted contexts', () => {
    const m = withPipeline((p) => { p.addStep('s', { image: IMAGE }); }, { pipeline: { experiment: 'cancer', timeout: '2h', ttlAfterCompletion: '48h' } });
    const spec = wt(m).spec;
    expect(spec).toMatchObject({
      serviceAccountName: 'pipeline-runner',
      automountServiceAccountToken: false,
      executor: { serviceAccountName: 'pipeline-executor' },
      activeDeadlineSeconds: 7200,
      ttlStrategy: { secondsAfterCompletion: 172800 },
      podGC: { strategy: 'OnPodSuccess' },
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
    });
    const c = tmpl(m, 's').container;
    expect(c.env.map((e: Obj) => e.name)).toEqual(['MLFLOW_TRACKING_URI', 'MLFLOW_S3_ENDPOINT_URL', 'AWS_DEFAULT_REGION', 'CD4ML_BUCKET_DATA', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'MLFLOW_TRACKING_USERNAME', 'MLFLOW_TRACKING_PASSWORD', 'MLFLOW_EXPERIMENT_NAME', 'HOME', 'CD4ML_PIPELINE', 'CD4ML_STEP']);
    expect(c.env.find((e: Obj) => e.name === 'MLFLOW_EXPERIMENT_NAME').value).toBe('cancer');
    expect(c.env.find((e: Obj) => e.name === 'AWS_SECRET_ACCESS_KEY').valueFrom.secretKeyRef).toEqual({ name: 'seaweedfs-pipelines', key: 'AWS_SECRET_ACCESS_KEY' });
    expect(c.resources).toEqual({ requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } });
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
  });

  test('resources, retries with backoff and a timeout render per step', () => {
    const m = withPipeline((p) => {
      p.addStep('s', {
        image: IMAGE,
        resources: { cpu: '2', memory: '4Gi', memoryLimit: '6Gi', ephemeralStorage: '10Gi' },
        retry: { limit: 3, on: RetryOn.TRANSIENT, backoff: '1m', factor: 3, maxDuration: '30m' },
        timeout: '45m',
      });
    });
    const t = tmpl(m, 's');
    expect(t.container.resources).toEqual({ requests: { 'cpu': '2', 'memory': '4Gi', 'ephemeral-storage': '10Gi' }, limits: { 'memory': '6Gi', 'ephemeral-storage': '10Gi' } });
    expect(t.retryStrategy).toEqual({ limit: '3', retryPolicy: 'OnTransientError', backoff: { duration: '1m', factor: '3', maxDuration: '30m' } });
    expect(t.activeDeadlineSeconds).toBe(2700);
  });

  test('a GPU step requests whole GPUs and lands on the GPU pool, of a given model when asked', () => {
    const m = withPipeline((p) => { p.addStep('train', { image: IMAGE, resources: { gpu: { count: 2, product: 'NVIDIA-A100-SXM4-40GB' } } }); }, { platform: GPU });
    const t = tmpl(m, 'train');
    expect(t.container.resources.limits['nvidia.com/gpu']).toBe(2);
    expect(t.container.resources.requests['nvidia.com/gpu']).toBe(2);
    expect(t.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true', 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB' });
    expect(t.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
  });

  test('caching memoizes on a key of step, version, image and a hash of every input, in a cache ConfigMap only the controller may update', () => {
    const m = withPipeline((p) => {
      const size = p.addParameter('test_size', { type: ParameterType.NUMBER, default: 0.3 });
      p.addStep('prepare', { image: IMAGE, inputs: { test_size: size, seed: 42 }, cache: { version: '2', maxAge: '12h' } });
    });
    const t = tmpl(m, 'prepare');
    expect(t.memoize).toEqual({ key: '{{inputs.parameters.cache-key}}', maxAge: '12h', cache: { configMap: { name: 'train-cache' } } });
    const key = task(m, 'prepare').arguments.parameters.find((x: Obj) => x.name === 'cache-key').value;
    expect(key).toBe(`prepare-v2-${require('crypto').createHash('sha256').update(IMAGE).digest('hex').slice(0, 12)}-{{=replace(replace(replace(toBase64('test_size=' + string(workflow.parameters['test_size']) + '|' + 'seed=' + string('42')), '+', '-'), '/', '-'), '=', '')}}`);
    // Argo keeps caches in the controller's namespace (controller.go NewCacheFactory), so that is where they are
    expect(m.find('ConfigMap', 'train-cache', 'argo').metadata.labels['workflows.argoproj.io/configmap-type']).toBe('Cache');
    expect(m.all('ConfigMap').filter((c) => c.metadata.namespace === 'ml-pipelines' && c.metadata.name === 'train-cache')).toEqual([]);
    expect(m.find('Role', 'workflow-controller-cache', 'argo').rules).toEqual([{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['train-cache'], verbs: ['get', 'update', 'patch'] }]);
  });

  test('without cached steps the controller gets no ConfigMap write access', () => {
    const m = withPipeline((p) => { p.addStep('s', { image: IMAGE }); });
    expect(m.find('Role', 'workflow-controller-cache', 'argo').rules).toEqual([]);
  });

  test('fan-out runs a step per item, per worker or per element of an output, and a later step joins them', () => {
    const m = withPipeline((p) => {
      const list = p.addStep('list', { image: IMAGE, outputs: { shards: ParameterType.STRING } });
      const sweep = p.addStep('sweep', { image: IMAGE, inputs: { n: FanOut.ITEM }, fanOut: FanOut.items([50, 100]), outputs: { score: ParameterType.NUMBER } });
      p.addStep('workers', { image: IMAGE, inputs: { rank: FanOut.ITEM }, fanOut: FanOut.workers(4) });
      p.addStep('shards', { image: IMAGE, inputs: { shard: FanOut.ITEM }, fanOut: FanOut.overOutput(list.output('shards')) });
      p.addStep('join', { image: IMAGE, inputs: { scores: sweep.output('score') } });
    });
    expect(task(m, 'sweep')).toMatchObject({ withItems: [50, 100], arguments: { parameters: [{ name: 'n', value: '{{item}}' }] } });
    expect(task(m, 'workers').withSequence).toEqual({ count: '4' });
    expect(task(m, 'shards')).toMatchObject({ withParam: '{{tasks.list.outputs.parameters.shards}}', dependencies: ['list'] });
    expect(task(m, 'join').dependencies).toEqual(['sweep']);
  });

  test('a schedule renders a CronWorkflow with time zone and concurrency policy; events render WorkflowEventBindings', () => {
    let path = '';
    const m = withPipeline((p) => {
      p.addParameter('min_auc', { type: ParameterType.NUMBER, default: 0.95 });
      p.addStep('s', { image: IMAGE });
      p.addSchedule('nightly', { cron: '0 3 * * *', timezone: 'Europe/Berlin', concurrencyPolicy: ConcurrencyPolicy.REPLACE, arguments: { min_auc: 0.9 } });
      path = p.addEventTrigger('degraded', { selector: 'payload.metric == "roc_auc"', arguments: { min_auc: 'payload.min_auc' } }).path;
    });
    expect(m.find('CronWorkflow', 'train-nightly', 'ml-pipelines').spec).toMatchObject({
      schedules: ['0 3 * * *'],
      timezone: 'Europe/Berlin',
      concurrencyPolicy: 'Replace',
      workflowSpec: { workflowTemplateRef: { name: 'train' }, arguments: { parameters: [{ name: 'min_auc', value: '0.9' }] } },
    });
    expect(m.find('WorkflowEventBinding', 'train-degraded', 'ml-pipelines').spec).toEqual({
      event: { selector: 'discriminator == "train-degraded" && (payload.metric == "roc_auc")' },
      submit: {
        workflowTemplateRef: { name: 'train' },
        // argo-server evaluates them as expressions: string literals
        metadata: { labels: { 'cd4ml.io/pipeline': '"train"', 'cd4ml.io/trigger': '"degraded"' } },
        arguments: { parameters: [{ name: 'min_auc', valueFrom: { event: 'payload.min_auc' } }] },
      },
    });
    expect(path).toBe('/api/v1/events/ml-pipelines/train-degraded');
    expect(m.find('Role', 'pipeline-trigger', 'ml-pipelines').rules.map((r: Obj) => [r.resources[0], r.verbs])).toEqual([['workfloweventbindings', ['list']], ['workflowtemplates', ['get']], ['workflows', ['create']]]);
    expect(m.find('Secret', 'pipeline-trigger-token', 'ml-pipelines')).toMatchObject({ type: 'kubernetes.io/service-account-token', metadata: { annotations: { 'kubernetes.io/service-account.name': 'pipeline-trigger' } } });
  });

  test('toMermaid draws the DAG in execution order', () => {
    let mermaid = '';
    withPipeline((p) => {
      const a = p.addStep('prepare-data', { image: IMAGE, outputs: { uri: ParameterType.STRING }, cache: { version: '1' } });
      const b = p.addStep('train-model', { image: IMAGE, inputs: { uri: a.output('uri') }, resources: { gpu: { count: 1 } } });
      p.addStep('deploy-model', { image: IMAGE, after: [b] });
      mermaid = p.toMermaid();
    }, { platform: GPU });
    expect(mermaid).toBe([
      '---', 'title: train', '---', 'flowchart LR',
      '  prepare_data["prepare-data (cached)"]', '  train_model["train-model (1 GPU)"]', '  deploy_model["deploy-model"]',
      '  prepare_data --> train_model', '  train_model --> deploy_model', '',
    ].join('\n'));
  });
});

test('a cached fan-out keys each worker by its item, so workers do not share one result', () => {
  const m = withPipeline((p) => { p.addStep('shard', { image: IMAGE, fanOut: FanOut.workers(3), cache: { version: '1' } }); });
  expect(task(m, 'shard').arguments.parameters[0].value).toContain("toBase64('item=' + string(item))");
});

test('a cached step may also retry (argo-workflows#10426 is fixed in the Argo we pin)', () => {
  const m = withPipeline((p) => { p.addStep('a', { image: IMAGE, cache: { version: '1' }, retry: { limit: 1 } }); });
  const t = m.find('WorkflowTemplate', 'train', 'ml-pipelines').spec.templates.find((x: { name: string }) => x.name === 'a');
  expect(t.memoize).toMatchObject({ cache: { configMap: { name: 'train-cache' } } });
  expect(t.retryStrategy).toMatchObject({ limit: '1' });
});

test('durations Argo reads itself (retry backoff, its cap, cache age) take any Go duration; a step deadline counts whole seconds', () => {
  const m = withPipeline((p) => { p.addStep('a', { image: IMAGE, cache: { version: '1', maxAge: '90m30s' }, retry: { limit: 2, backoff: '500ms', maxDuration: '1.5m' } }); });
  const t = tmpl(m, 'a');
  expect(t.retryStrategy.backoff).toEqual({ duration: '500ms', factor: '2', maxDuration: '1.5m' });
  expect(t.memoize.maxAge).toBe('90m30s');
  expect(() => withPipeline((p) => { p.addStep('a', { image: IMAGE, timeout: '500ms' }); })).toThrow(/timeout = "500ms": is under one second, but the field it sets counts whole seconds. Fix: write "1s"/);
});

describe('Pipeline bad input', () => {
  test('fails when a cached step runs on a runner no workflow engine manages yet', () => {
    expect(() => synth((chart) => {
      const platform = new Platform(chart, 'platform');
      // a runner used on its own, before any WorkflowEngine manages it
      const runner = platform.pipelineRunner;
      jest.spyOn(runner, 'workflowControllerNamespace', 'get').mockReturnValue(undefined);
      new Pipeline(chart, 'p', { runner }).addStep('a', { image: IMAGE, cache: { version: '1' } });
    })).toThrow(/p\/a: cache = .*needs the workflow controller's namespace.*Fix: declare the WorkflowEngine \(or the Platform\) before the pipeline/);
  });

  test('fails when a step env would override the runner\'s values or carry a credential', () => {
    expect(() => withPipeline((p) => { p.addStep('a', { image: IMAGE, env: { AWS_SECRET_ACCESS_KEY: 'hunter2', MLFLOW_TRACKING_URI: 'http://elsewhere' } }); })).toThrow(
      /env.AWS_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY": would override a value the runner or pipeline sets[\s\S]*env.MLFLOW_TRACKING_URI/,
    );
    expect(() => withPipeline((p) => { p.addStep('a', { image: IMAGE, env: { DB_PASSWORD: 'x' } }); })).toThrow(/env.DB_PASSWORD = "DB_PASSWORD": looks like a credential/);
    expect(() => withPipeline((p) => { p.addStep('a', { image: IMAGE, env: { LOG_LEVEL: 'debug' } }); })).not.toThrow();
  });

  test('fails when the steps form a cycle, naming the steps on it', () => {
    expect(() => withPipeline((p) => {
      const a = p.addStep('a', { image: IMAGE });
      const b = p.addStep('b', { image: IMAGE, after: [a] });
      (a.dependencies as unknown as Array<unknown>).push(b); // only reachable by mutation: steps are added in order
    })).toThrow(/test\/train: steps = "a -> b -> a": the steps form a cycle: a -> b -> a. Fix: remove one of the edges on the cycle/);
  });

  test('fails when a pipeline has no steps', () => {
    expect(() => withPipeline(() => undefined)).toThrow(/test\/train: steps = \[\]: the pipeline has no steps. Fix: add at least one step/);
  });

  test('fails when a step is duplicated, or depends on a step of another pipeline', () => {
    expect(() => withPipeline((p) => { p.addStep('a', { image: IMAGE }); p.addStep('a', { image: IMAGE }); })).toThrow(/test\/train\/a: name = "a": is a duplicate step name/);
    expect(() => withPipeline((p, chart) => {
      const other = new Pipeline(chart, 'other', { runner: p.runner });
      const foreign = other.addStep('x', { image: IMAGE, outputs: { v: ParameterType.STRING } });
      p.addStep('a', { image: IMAGE, after: [foreign], inputs: { v: foreign.output('v') } });
    })).toThrow(/test\/train\/a: inputs.v = "other\/x.v": is an output of a step outside this pipeline[\s\S]*after = "other\/x": is a step outside this pipeline/);
  });

  test('fails when the image is missing or not pinned', () => {
    expect(() => withPipeline((p) => { p.addStep('a', { image: '' }); })).toThrow(/test\/train\/a: image = "": is missing. Fix: give the image/);
    expect(() => withPipeline((p) => { p.addStep('a', { image: 'python:latest' }); })).toThrow(/image = "python:latest": is not pinned/);
    expect(() => withPipeline((p) => { p.addStep('a', { image: 'python' }); })).toThrow(/image = "python": is not pinned/);
    expect(() => withPipeline((p) => { p.addStep('a', { image: 'Bad Image:1.0' }); })).toThrow(/image = "Bad Image:1.0": is not a valid image reference/);
    expect(() => withPipeline((p) => { p.addStep('a', { image: 'registry.local:5000/team/steps' }); })).toThrow(/is not pinned/);
    expect(() => withPipeline((p) => { p.addStep('a', { image: 'registry.local:5000/team/steps:1.0' }); })).not.toThrow();
  });

  test('fails on a malformed quantity and a fractional GPU count', () => {
    expect(() => withPipeline((p) => { p.addStep('a', { image: IMAGE, resources: { memory: '4 GB', cpu: 'two' } }); })).toThrow(/resources.cpu = "two": is not a Kubernetes quantity[\s\S]*resources.memory = "4 GB"/);
    expect(() => withPipeline((p) => { p.addStep('a', { image: IMAGE, resources: { gpu: { count: 0.5 } } }); }, { platform: GPU })).toThrow(/resources.gpu.count = 0.5: is not a whole number of GPUs/);
  });

  test('fails when a GPU step has no GPU nodes to land on', () => {
    expect(() => withPipeline((p) => { p.addStep('train', { image: IMAGE, resources: { gpu: { count: 1 } } }); })).toThrow(
      /test\/train\/train: resources.gpu = \{"count":1\}: asks for GPUs, but runner test\/platform\/PipelineRunner has no GPU scheduling, so the step could land on no node. Fix: configure the runner's \(or platform's\) gpu prop/,
    );
    expect(() => withPipeline((p) => { p.addStep('train', { image: IMAGE, resources: { gpu: { count: 3 } } }); }, { platform: GPU })).toThrow(/resources.gpu.count = 3: exceeds the runner's 2 GPUs per step/);
  });

  test('fails when a parameter default or a scheduled argument has the wrong type', () => {
    expect(() => withPipeline((p) => { p.addParameter('n_estimators', { type: ParameterType.INTEGER, default: 0.5 }); })).toThrow(
      /test\/train: parameters.n_estimators.default = 0.5: is not a whole number \(the parameter is declared integer\). Fix: give an integer default/,
    );
    expect(() => withPipeline((p) => {
      p.addParameter('min_auc', { type: ParameterType.NUMBER, default: 0.9 });
      p.addStep('s', { image: IMAGE });
      p.addSchedule('nightly', { cron: '0 3 * * *', arguments: { min_auc: 'high' } });
    })).toThrow(/arguments.min_auc = "high": is not a number/);
  });

  test('fails on names Kubernetes or Argo would reject', () => {
    expect(() => withPipeline((p) => { p.addStep('prepare_data', { image: IMAGE }); })).toThrow(/test\/train\/prepare_data: name = "prepare_data": is not a valid DNS-1123 label.*Fix: use a name like "prepare-data"/);
    expect(() => withPipeline(() => undefined, { pipeline: { name: 'Train' } })).toThrow(/test\/train: name = "Train": is not a valid DNS-1123 label/);
    expect(() => withPipeline((p) => { p.addParameter('test-size', { type: ParameterType.NUMBER, default: 1 }); })).toThrow(/parameters.test-size = "test-size": is not a valid parameter name/);
  });

  test('fails on a bad cron expression or time zone, and on an output that is not declared', () => {
    expect(() => withPipeline((p) => { p.addStep('s', { image: IMAGE }); p.addSchedule('x', { cron: 'every night', timezone: 'Mars/Olympus' }); })).toThrow(
      /cron = "every night": is not a cron expression with five fields[\s\S]*timezone = "Mars\/Olympus": is not an IANA time zone/,
    );
    expect(() => withPipeline((p) => { p.addStep('s', { image: IMAGE }).output('model'); })).toThrow(/test\/train\/s: output = "model": is not an output of this step. Fix: declare it in outputs/);
    expect(() => withPipeline((p) => { p.addStep('s', { image: IMAGE }); p.addSchedule('x', { cron: '99 3 * * *', timezone: 'europe/berlin' }); })).toThrow(/cron = "99 3 \* \* \*"[\s\S]*timezone = "europe\/berlin": is not an IANA time zone/);
    expect(() => withPipeline((p) => { p.addStep('s', { image: IMAGE }); p.addSchedule('every-night-at-three-in-the-morning-berlin-time', { cron: '0 3 * * *' }); })).toThrow(/longer than the 52 characters Argo accepts/);
    expect(() => withPipeline((p) => { p.addStep('s', { image: IMAGE }); p.addSchedule('x', { cron: '*/15 0-6 1,15 * 1-5', timezone: 'Europe/Berlin' }); })).not.toThrow();
  });
});

describe('Pipeline bad input, further', () => {
  test('fails on a duplicate schedule or trigger id, a duplicate artifact, and a selector that could escape its group', () => {
    expect(() => withPipeline((p) => { p.addStep('s', { image: IMAGE }); p.addSchedule('n', { cron: '@daily' }); p.addSchedule('n', { cron: '@hourly' }); })).toThrow(/test\/train\/n: id = "n": is a duplicate schedule id/);
    expect(() => withPipeline((p) => { p.addStep('s', { image: IMAGE }); p.addEventTrigger('e'); p.addEventTrigger('e'); })).toThrow(/id = "e": is a duplicate trigger id/);
    expect(() => withPipeline((p) => { p.addStep('s', { image: IMAGE, outputArtifacts: ['model', 'model'] }); })).toThrow(/outputArtifacts = \["model","model"\]: names an artifact twice/);
    expect(() => withPipeline((p) => { p.addStep('s', { image: IMAGE }); p.addEventTrigger('e', { selector: 'true) || (true' }); })).toThrow(/selector = "true\) \|\| \(true": has unbalanced parentheses/);
    expect(() => withPipeline((p) => { p.addStep('s', { image: IMAGE }); p.addEventTrigger('e', { selector: 'payload.a == ")" && (payload.b == "x")' }); })).not.toThrow();
  });
});
