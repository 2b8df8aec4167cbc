import { Chart } from 'cdk8s';
import {
  Condition, ExternalEndpoint, ParameterType, Pipeline, PipelineProps, Platform, PlatformProps, SecretRef, StepProps,
} from '../../../constructs';
import { EnvironmentName } from '../../../lib';
import { Obj, synth } from '../../support/manifests';
import { chart, problemsOf, refused } from '../inputs/support';

const IMAGE = 'registry.example/steps:1.0.0';
const WAREHOUSE: ExternalEndpoint = { name: 'warehouse', cidrs: ['203.0.113.10/32'], ports: [443], host: 'acme.snowflakecomputing.com' };

function withPipeline(build: (p: Pipeline, chart: Chart) => void, opts: { platform?: PlatformProps; pipeline?: Partial<PipelineProps> } = {}) {
  return synth((c) => {
    const platform = new Platform(c, 'platform', opts.platform);
    build(new Pipeline(c, 'train', { runner: platform.pipelineRunner, ...opts.pipeline }), c);
  });
}
const wt = (m: ReturnType<typeof synth>) => m.find('WorkflowTemplate', 'train', 'ml-pipelines');
const tmpl = (m: ReturnType<typeof synth>, step: string) => wt(m).spec.templates.find((t: Obj) => t.name === step);
const task = (m: ReturnType<typeof synth>, step: string) => wt(m).spec.templates[0].dag.tasks.find((t: Obj) => t.name === step);

/** One step with `props` on the sandbox platform. */
function buildStep(props: Partial<StepProps>): void {
  const c = chart();
  const p = new Pipeline(c, 'train', { runner: new Platform(c, 'platform').pipelineRunner });
  p.addStep('a', { image: IMAGE, ...props } as StepProps);
}
const stepProblems = (props: Partial<StepProps>) => problemsOf(() => buildStep(props));
const step = (props: Record<string, unknown>) => () => stepProblems(props as Partial<StepProps>);

describe('secrets for steps', () => {
  test('a Secret as files: read-only, only the keys asked for, readable by the step\'s user, and copied nowhere', () => {
    const gcp = SecretRef.fromSecretName('gcp-key', ['key.json', 'project']);
    const hub = SecretRef.fromSecretName('hub-token', ['token']);
    const m = withPipeline((p) => {
      p.addStep('a', { image: IMAGE, secretFiles: { gcp: { secret: gcp, keys: ['key.json'] } }, secretEnv: { HF_TOKEN: { secret: hub, key: 'token' } } });
    });
    const t = tmpl(m, 'a');
    expect(t.volumes).toContainEqual({ name: 'secret-gcp', secret: { secretName: 'gcp-key', items: [{ key: 'key.json', path: 'key.json' }], defaultMode: 0o440 } });
    expect(t.container.volumeMounts).toContainEqual({ name: 'secret-gcp', mountPath: '/var/run/secrets/cd4ml/gcp', readOnly: true });
    expect(t.container.env).toContainEqual({ name: 'HF_TOKEN', valueFrom: { secretKeyRef: { name: 'hub-token', key: 'token' } } });
    // the pod's fsGroup is the step's group, so 0440 is readable by the step and nobody else
    expect(wt(m).spec.securityContext.fsGroup).toBe(1000);
    // referenced, never rendered: no Secret object holds them, and the runner's namespace is where they must exist
    expect(m.objects.filter((o) => o.kind === 'Secret' && ['gcp-key', 'hub-token'].includes(o.metadata.name))).toEqual([]);
    expect(gcp.requiredIn).toEqual(['ml-pipelines']);
    expect(hub.requiredIn).toEqual(['ml-pipelines']);
  });

  test('every key of the Secret when keys are left out', () => {
    const m = withPipeline((p) => { p.addStep('a', { image: IMAGE, secretFiles: { tls: { secret: SecretRef.fromSecretName('client-tls', ['tls.crt', 'tls.key']) } } }); });
    expect(tmpl(m, 'a').volumes.find((v: Obj) => v.name === 'secret-tls').secret.items.map((i: Obj) => i.key)).toEqual(['tls.crt', 'tls.key']);
  });

  test('a key the Secret lacks, a name that cannot name a volume, and something that is not a Secret are refused', () => {
    const gcp = SecretRef.fromSecretName('gcp-key', ['key.json']);
    refused((k) => buildStep({ secretFiles: { gcp: { secret: gcp, keys: [k as string] } } }), 'key', 'secretFiles.gcp.keys', /is not a key of the Secret gcp-key/);
    refused((n) => buildStep({ secretFiles: { [n as string]: { secret: gcp } } }), 'GCP_Key', 'secretFiles.GCP_Key');
    refused((n) => buildStep({ secretFiles: { [n as string]: { secret: gcp } } }), 'a'.repeat(60), `secretFiles.${'a'.repeat(60)}`, /longer than 50/);
    // the secretEnv shape by mistake is refused, not silently mounted whole
    expect(stepProblems({ secretFiles: { gcp: { secret: gcp, key: 'key.json' } as never } }).map((x) => `${x.field}: ${x.message}`)).toEqual(['secretFiles.gcp.key: is not a field of secret files']);
    const p = step({ secretFiles: { gcp: 'gcp-key' } })();
    expect(p.map((x) => `${x.field}: ${x.message}`)).toEqual(['secretFiles.gcp: is not a Secret to mount']);
  });
});

describe('egress to named endpoints', () => {
  test('one NetworkPolicy per endpoint opens it to exactly the steps that list it, beside the runner\'s own policy', () => {
    const m = withPipeline((p) => {
      const load = p.addStep('load', { image: IMAGE, egress: [WAREHOUSE], outputs: { rows: ParameterType.INTEGER } });
      p.addStep('train', { image: IMAGE, inputs: { rows: load.output('rows') } });
      p.addStep('report', { image: IMAGE, egress: [WAREHOUSE, { name: 'slack', cidrs: ['198.51.100.0/24'] }], after: [load] });
    });
    const policy = m.find('NetworkPolicy', 'train-to-warehouse', 'ml-pipelines');
    expect(policy.metadata.annotations).toEqual({ 'cd4ml.io/endpoint-host': 'acme.snowflakecomputing.com' });
    expect(policy.spec).toEqual({
      podSelector: { matchLabels: { 'cd4ml.io/pipeline': 'train' }, matchExpressions: [{ key: 'cd4ml.io/step', operator: 'In', values: ['load', 'report'] }] },
      policyTypes: ['Egress'],
      egress: [{ to: [{ ipBlock: { cidr: '203.0.113.10/32' } }], ports: [{ protocol: 'TCP', port: 443 }] }],
    });
    expect(m.find('NetworkPolicy', 'train-to-slack', 'ml-pipelines').spec.podSelector.matchExpressions[0].values).toEqual(['report']);
    // the pods carry the labels the policies select on
    expect(wt(m).spec.podMetadata.labels['cd4ml.io/pipeline']).toBe('train');
    expect(tmpl(m, 'load').metadata.labels).toEqual({ 'cd4ml.io/step': 'load' });
    // a step that lists nothing gets nothing beyond the runner's policy
    expect(m.objects.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.name.startsWith('train-')).map((o) => o.metadata.name).sort()).toEqual(['train-to-slack', 'train-to-warehouse']);
  });

  test('an endpoint wider than a /8, a host-shaped address, a bad port, and one name with two definitions are refused', () => {
    refused((c) => buildStep({ egress: [{ name: 'w', cidrs: [c as string] }] }), '0.0.0.0/0', 'egress[0].cidrs[0]', /opens more than a \/8/);
    refused((c) => buildStep({ egress: [{ name: 'w', cidrs: [c as string] }] }), 'db.example.com', 'egress[0].cidrs[0]', /is not a CIDR block/);
    expect(step({ egress: [{ name: 'w', cidrs: ['203.0.113.10/32'], ports: [0] }] })().map((p) => `${p.field}: ${p.message}`)).toEqual(['egress[0].ports[0]: is not a TCP port']);
    expect(step({ egress: [{ name: 'w', cidrs: [] }] })().map((p) => p.field)).toEqual(['egress[0].cidrs']);
    expect(step({ egress: { name: 'w' } })().map((p) => p.field)).toEqual(['egress']);
    expect(step({ egress: [{ name: 'w', cidrs: ['203.0.113.10/32'], port: 443 }] })().map((p) => `${p.field}: ${p.message}`)).toEqual(['egress[0].port: is not a field of an endpoint']);
    const twice = problemsOf(() => {
      const c = chart();
      const p = new Pipeline(c, 'train', { runner: new Platform(c, 'platform').pipelineRunner });
      p.addStep('a', { image: IMAGE, egress: [WAREHOUSE] });
      p.addStep('b', { image: IMAGE, egress: [{ ...WAREHOUSE, cidrs: ['203.0.113.11/32'] }] });
    });
    expect(twice.map((p) => `${p.path} ${p.field}: ${p.message}. Fix: ${p.fix}`)).toEqual([
      expect.stringMatching(/^test\/train\/b egress\[0\]: is defined by another step of the pipeline as .*203\.0\.113\.10\/32.*Fix: declare the endpoint once/),
    ]);
  });
});

describe('room to work', () => {
  test('scratch follows ephemeralStorage, shared memory is memory-backed, datasets mount read-only by default', () => {
    const m = withPipeline((p) => {
      p.addStep('small', { image: IMAGE });
      p.addStep('big', {
        image: IMAGE,
        resources: { memory: '8Gi', ephemeralStorage: '50Gi' },
        sharedMemory: '2Gi',
        volumes: { imagenet: { claimName: 'imagenet', mountPath: '/data/imagenet' }, cache: { claimName: 'features', mountPath: '/data/cache', readOnly: false, subPath: 'v2' } },
      });
    });
    expect(tmpl(m, 'small').volumes).toEqual([{ name: 'tmp', emptyDir: { sizeLimit: '2Gi' } }]);
    const big = tmpl(m, 'big');
    expect(big.volumes).toEqual([
      { name: 'tmp', emptyDir: { sizeLimit: '50Gi' } },
      { name: 'volume-imagenet', persistentVolumeClaim: { claimName: 'imagenet', readOnly: true } },
      { name: 'volume-cache', persistentVolumeClaim: { claimName: 'features', readOnly: false } },
      { name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '2Gi' } },
    ]);
    expect(big.container.volumeMounts).toEqual([
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'volume-imagenet', mountPath: '/data/imagenet', readOnly: true },
      { name: 'volume-cache', mountPath: '/data/cache', readOnly: false, subPath: 'v2' },
      { name: 'shm', mountPath: '/dev/shm' },
    ]);
    expect(big.container.resources.limits['ephemeral-storage']).toBe('50Gi');
    // no workflow-wide volume is left to clash with a step's own
    expect(wt(m).spec.volumes).toBeUndefined();
  });

  test('shared memory above the memory limit, mounts over the step\'s own paths, and two volumes on one path are refused', () => {
    refused((s) => buildStep({ resources: { memoryLimit: '4Gi' }, sharedMemory: s as string }), '8Gi', 'sharedMemory', /exceeds the step's memory limit 4Gi/);
    refused((mp) => buildStep({ volumes: { data: { claimName: 'd', mountPath: mp as string } } }), '/tmp/data', 'volumes.data.mountPath', /overlaps \/tmp/);
    refused((mp) => buildStep({ volumes: { data: { claimName: 'd', mountPath: mp as string } } }), 'data', 'volumes.data.mountPath', /is not an absolute path/);
    refused((c) => buildStep({ volumes: { data: { claimName: c as string, mountPath: '/data' } } }), 'My_Claim', 'volumes.data.claimName');
    const same = step({ volumes: { a: { claimName: 'a', mountPath: '/data' }, b: { claimName: 'b', mountPath: '/data/' } } })();
    expect(same.map((p) => `${p.field}: ${p.message}`)).toEqual(['volumes.b.mountPath: is also the mount path of volumes.a']);
    expect(step({ volumes: { a: { claimName: 'a', mountPath: '/data', subPath: '../x' } } })().map((p) => p.field)).toEqual(['volumes.a.subPath']);
    // paths as the kernel resolves them
    for (const sneaky of ['//tmp', '/./tmp', '/tmp//cache']) expect([sneaky, step({ volumes: { d: { claimName: 'd', mountPath: sneaky } } })().map((p) => p.message)]).toEqual([sneaky, ['overlaps /tmp, which the step\'s scratch, inputs, Secrets or devices use']]);
    expect(step({ placement: { affinity: { nodeAffinity: 5 } } })().map((p) => `${p.field}: ${p.message}`)).toEqual(['placement.affinity.nodeAffinity: is a number, not a node affinity']);
  });

  test('placement: node selector and tolerations add to the GPU pool\'s, affinity passes through', () => {
    const GPU: PlatformProps = { environment: EnvironmentName.DEV, gpu: { nodeSelector: { 'nvidia.com/gpu.present': 'true' }, maxPerStep: 2 } };
    const affinity = { nodeAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['eu-central-1a'] }] } }] } };
    const m = withPipeline((p) => {
      p.addStep('gpu', { image: IMAGE, resources: { gpu: { count: 1 } }, placement: { nodeSelector: { 'cloud.example/spot': 'false' }, tolerations: [{ key: 'spot', operator: 'Exists', effect: 'NoSchedule' }], affinity } });
      p.addStep('cpu', { image: IMAGE, placement: { nodeSelector: { pool: 'batch' } } });
    }, { platform: GPU });
    expect(tmpl(m, 'gpu').nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true', 'cloud.example/spot': 'false' });
    expect(tmpl(m, 'gpu').tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }, { key: 'spot', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(tmpl(m, 'gpu').affinity).toEqual(affinity);
    expect(tmpl(m, 'cpu')).toMatchObject({ nodeSelector: { pool: 'batch' } });
    expect(tmpl(m, 'cpu').tolerations).toBeUndefined();
  });

  test('bad placement is refused field by field', () => {
    refused((v) => buildStep({ placement: { nodeSelector: { pool: v as string } } }), 'batch jobs', 'placement.nodeSelector["pool"]');
    expect(step({ placement: { tolerations: [{ key: 'spot', operator: 'Maybe' }] } })().map((p) => p.field)).toEqual(['placement.tolerations[0].operator']);
    expect(step({ placement: { affinity: { nodeAffinty: {} } } })().map((p) => `${p.field}: ${p.message}`)).toEqual(['placement.affinity.nodeAffinty: is not a kind of affinity']);
    expect(step({ placement: { nodeSelectors: {} } })().map((p) => p.field)).toEqual(['placement.nodeSelectors']);
  });

  test('a pipeline may run its steps as its own service account, still without an API token', () => {
    const m = withPipeline((p) => { p.addStep('a', { image: IMAGE }); }, { pipeline: { serviceAccountName: 'train-gcs-writer' } });
    expect(wt(m).spec).toMatchObject({ serviceAccountName: 'train-gcs-writer', automountServiceAccountToken: false, executor: { serviceAccountName: 'pipeline-executor' } });
    const bad = problemsOf(() => {
      const c = chart();
      new Pipeline(c, 'train', { runner: new Platform(c, 'platform').pipelineRunner, serviceAccountName: 'Train SA' }).addStep('a', { image: IMAGE });
    });
    expect(bad.map((p) => p.field)).toEqual(['serviceAccountName']);
  });
});

describe('conditional steps and the exit handler', () => {
  test('a step runs only when an earlier output says so; the condition creates the edge', () => {
    const m = withPipeline((p) => {
      const evaluate = p.addStep('evaluate', { image: IMAGE, outputs: { accuracy: ParameterType.NUMBER, verdict: ParameterType.STRING } });
      p.addStep('register', { image: IMAGE, when: Condition.atLeast(evaluate.output('accuracy'), 0.9) });
      p.addStep('alert', { image: IMAGE, when: Condition.equals(evaluate.output('verdict'), 'degraded') });
      const dry = p.addParameter('dry_run', { type: ParameterType.BOOLEAN, default: false });
      p.addStep('publish', { image: IMAGE, when: Condition.notEquals(dry, true), after: [evaluate] });
    });
    expect(task(m, 'register')).toMatchObject({ dependencies: ['evaluate'], when: '{{tasks.evaluate.outputs.parameters.accuracy}} >= 0.9' });
    expect(task(m, 'alert').when).toBe("'{{tasks.evaluate.outputs.parameters.verdict}}' == 'degraded'");
    expect(task(m, 'publish').when).toBe("'{{workflow.parameters.dry_run}}' != 'true'");
  });

  test('a numeric comparison with text, a quote in the operand, and a condition that is not one are refused', () => {
    const cond = (c: (p: Pipeline) => unknown) => problemsOf(() => {
      const ch = chart();
      const p = new Pipeline(ch, 'train', { runner: new Platform(ch, 'platform').pipelineRunner });
      const e = p.addStep('evaluate', { image: IMAGE, outputs: { accuracy: ParameterType.NUMBER } });
      p.addStep('b', { image: IMAGE, when: c(p) as Condition, after: [e] });
      void e;
    });
    expect(cond((p) => Condition.greaterThan(p.steps[0].output('accuracy'), 'high' as unknown as number)).map((x) => `${x.field}: ${x.message}`)).toEqual(['when: compares with >, which needs a number']);
    expect(cond((p) => Condition.equals(p.steps[0].output('accuracy'), "x' || 'a' == 'a")).map((x) => x.field)).toEqual(['when']);
    expect(cond(() => 'accuracy > 0.9').map((x) => `${x.field}: ${x.message}`)).toEqual(['when: is not a Condition']);
    const typed = problemsOf(() => {
      const ch = chart();
      const p = new Pipeline(ch, 'train', { runner: new Platform(ch, 'platform').pipelineRunner });
      const e = p.addStep('evaluate', { image: IMAGE, outputs: { verdict: ParameterType.STRING } });
      p.addStep('b', { image: IMAGE, when: Condition.atLeast(e.output('verdict'), 1) });
    });
    expect(typed.map((x) => `${x.field}: ${x.message}`)).toEqual(['when: compares the output verdict, declared string, as a number']);
  });

  test('the exit handler runs when the pipeline ends, reads the outcome, and reaches its endpoint', () => {
    const slack = SecretRef.fromSecretName('slack-webhook', ['url']);
    const m = withPipeline((p) => {
      const channel = p.addParameter('channel', { type: ParameterType.STRING, default: 'ml-alerts' });
      p.addStep('train', { image: IMAGE });
      p.addExitHandler('notify', { image: IMAGE, inputs: { channel }, secretEnv: { SLACK_WEBHOOK_URL: { secret: slack, key: 'url' } }, egress: [{ name: 'slack', cidrs: ['198.51.100.0/24'] }] });
    });
    expect(wt(m).spec.onExit).toBe('on-exit');
    expect(tmpl(m, 'on-exit')).toEqual({ name: 'on-exit', dag: { tasks: [{ name: 'notify', template: 'notify', arguments: { parameters: [{ name: 'channel', value: '{{workflow.parameters.channel}}' }] } }] } });
    expect(tmpl(m, 'notify').container.env).toEqual(expect.arrayContaining([
      { name: 'CD4ML_PIPELINE_STATUS', value: '{{workflow.status}}' },
      { name: 'CD4ML_PIPELINE_FAILURES', value: '{{workflow.failures}}' },
      { name: 'SLACK_WEBHOOK_URL', valueFrom: { secretKeyRef: { name: 'slack-webhook', key: 'url' } } },
    ]));
    // not a node of the DAG
    expect(wt(m).spec.templates[0].dag.tasks.map((t: Obj) => t.name)).toEqual(['train']);
    expect(m.find('NetworkPolicy', 'train-to-slack', 'ml-pipelines').spec.podSelector.matchExpressions[0].values).toEqual(['notify']);
    expect(slack.requiredIn).toEqual(['ml-pipelines']);
  });

  test('an exit handler that reads a step\'s output, orders itself, or comes twice is refused', () => {
    const problems = problemsOf(() => {
      const c = chart();
      const p = new Pipeline(c, 'train', { runner: new Platform(c, 'platform').pipelineRunner });
      const t = p.addStep('train', { image: IMAGE, outputs: { run_id: ParameterType.STRING } });
      p.addExitHandler('notify', { image: IMAGE, inputs: { run: t.output('run_id') }, after: [t] });
      p.addExitHandler('cleanup', { image: IMAGE });
      p.addExitHandler('train', { image: IMAGE });
    });
    // the first stands without its faulty fields, so the others are second ones
    expect(problems.map((p) => `${p.path} ${p.field}: ${p.message}`)).toEqual([
      "test/train/notify inputs.run: is a step's output, which may not exist when the pipeline ends",
      'test/train/notify after: does not apply to an exit handler, which runs once when the pipeline ends',
      'test/train/cleanup name: is a second exit handler (the pipeline has "notify")',
      'test/train/train name: is the name of a step of the pipeline',
      'test/train/train name: is a second exit handler (the pipeline has "notify")',
    ]);
  });
});
