import { FanOut, Pipeline, Platform, PlatformProps } from '../../../constructs';
import { EnvironmentName } from '../../../lib';
import { Obj, synth } from '../../support/manifests';
import { chart, problemsOf, refused } from '../inputs/support';

const IMAGE = 'registry.example/steps:1.0.0';
const GPU_POOL = { nodeSelector: { 'nvidia.com/gpu.present': 'true' } };

describe('quota, step defaults and GPUs, set per platform over the preset', () => {
  test('pipelineQuota and stepDefaults override the preset field by field, in the ResourceQuota, the LimitRange and the steps', () => {
    const m = synth((c) => {
      const platform = new Platform(c, 'platform', { environment: EnvironmentName.DEV, pipelineQuota: { cpu: '32', gpus: 4 }, stepDefaults: { memory: '1Gi', memoryLimit: '3Gi' }, gpu: GPU_POOL });
      new Pipeline(c, 'train', { runner: platform.pipelineRunner }).addStep('a', { image: IMAGE });
    });
    const hard = m.find('ResourceQuota', 'pipelines', 'ml-pipelines').spec.hard;
    // the dev preset's memory and pods stay
    expect(hard).toEqual({ 'requests.cpu': '32', 'requests.memory': '64Gi', 'limits.memory': '96Gi', 'requests.nvidia.com/gpu': 4, pods: 200 });
    const limits = m.find('LimitRange', 'pipelines', 'ml-pipelines').spec.limits.find((l: Obj) => l.type === 'Container');
    expect(limits.defaultRequest).toMatchObject({ memory: '1Gi' });
    expect(limits.default).toMatchObject({ memory: '3Gi' });
    const step = m.find('WorkflowTemplate', 'train', 'ml-pipelines').spec.templates.find((t: Obj) => t.name === 'a');
    expect(step.container.resources).toMatchObject({ requests: { memory: '1Gi' }, limits: { memory: '3Gi' } });
  });

  test('a GKE pool names the GPU model by its own label', () => {
    const m = synth((c) => {
      const platform = new Platform(c, 'platform', { environment: EnvironmentName.DEV, gpu: { nodeSelector: { 'cloud.google.com/gke-nodepool': 'gpu' }, productLabel: 'cloud.google.com/gke-accelerator' } });
      new Pipeline(c, 'train', { runner: platform.pipelineRunner }).addStep('a', { image: IMAGE, resources: { gpu: { count: 1, product: 'nvidia-l4' } } });
    });
    const step = m.find('WorkflowTemplate', 'train', 'ml-pipelines').spec.templates.find((t: Obj) => t.name === 'a');
    expect(step.nodeSelector).toEqual({ 'cloud.google.com/gke-nodepool': 'gpu', 'cloud.google.com/gke-accelerator': 'nvidia-l4' });
  });

  test('bad sizes are refused under the field the user wrote, with a fix that passes', () => {
    const build = (props: PlatformProps) => () => new Platform(chart(), 'platform', props);
    refused((v) => build({ pipelineQuota: { cpu: v as string } })(), '4 cores', 'pipelineQuota.cpu');
    refused((v) => build({ stepDefaults: { memoryLimit: v as string } })(), '128Mi', 'stepDefaults.memoryLimit', /below|under|less/);
    refused((v) => build({ gpu: { ...GPU_POOL, productLabel: v as string } })(), 'gke accelerator', 'gpu.productLabel');
    const typo = problemsOf(build({ pipelineQuota: { gpu: 4 } as never, stepDefaults: 'small' as never }));
    expect(typo.map((p) => `${p.field}: ${p.message}`)).toEqual(['pipelineQuota.gpu: is not a field of pipelineQuota', 'stepDefaults: is a string, not an object']);
    expect(problemsOf(build({ pipelineQuota: { pods: 0, gpus: -1 } })).map((p) => p.field).sort()).toEqual(['pipelineQuota.gpus', 'pipelineQuota.pods']);
    // a quota no step with the defaults fits in, whichever side the user set
    refused((v) => build({ pipelineQuota: { cpu: v as string } })(), '100m', 'pipelineQuota.cpu', /below a single step's default cpu \(250m\)/);
    refused((v) => build({ stepDefaults: { memory: v as string, memoryLimit: '32Gi' } })(), '16Gi', 'stepDefaults.memory', /exceeds the pipeline namespace's whole quota \(8Gi\)/);
  });

  test('a fan-out whose GPUs together exceed the quota fails, and the parallelism it suggests passes', () => {
    const sweep = (parallelism?: number) => problemsOf(() => {
      const c = chart();
      const platform = new Platform(c, 'platform', { environment: EnvironmentName.DEV, gpu: { ...GPU_POOL, maxPerStep: 2 } });
      new Pipeline(c, 'sweep', { runner: platform.pipelineRunner, parallelism }).addStep('train', { image: IMAGE, fanOut: FanOut.items([1, 2, 3]), resources: { gpu: { count: 2 } } });
    });
    const [p] = sweep();
    expect(`${p.path} ${p.field} = ${JSON.stringify(p.value)}: ${p.message}. Fix: ${p.fix}`).toBe(
      "test/sweep/train fanOut = 3: runs 3 copies at once with 2 GPUs each, 6 GPUs together, more than the pipeline namespace's GPU quota (2), so copies would wait on the quota. Fix: set the pipeline's parallelism to 1, or raise the quota's gpus to 6",
    );
    expect(sweep(1)).toEqual([]);
    // the GPU sweep example fits whatever the quota: it sets its parallelism from it
    const example = synth((c) => {
      const platform = new Platform(c, 'platform', { environment: EnvironmentName.DEV, gpu: GPU_POOL });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('../../../stacks/pipelines').breastCancerGpuSweepPipeline(c, { runner: platform.pipelineRunner, image: IMAGE });
    });
    expect(example.find('WorkflowTemplate', 'breast-cancer-gpu-sweep', 'ml-pipelines').spec.parallelism).toBe(2);
  });
});
