import { Chart, Testing } from 'cdk8s';
import { FanOut, Pipeline, Platform } from '../../../constructs';
import { Obj, synth } from '../../support/manifests';
import { chart, problemsOf } from '../inputs/support';

const IMAGE = 'registry.example/steps:1.0.0';
const SECOND = { namespace: 'cd4ml-b', workflowNamespace: 'argo-b', pipelineNamespace: 'ml-b' };

describe('sharing a cluster', () => {
  test('two platforms in one app that would both render the cluster-wide objects get one problem each, with a fix that passes', () => {
    const problems = problemsOf(() => {
      const c = chart();
      new Platform(c, 'a');
      new Platform(c, 'b', SECOND);
    });
    expect(problems.map((p) => `${p.path}: ${p.message}. Fix: ${p.fix}`)).toEqual([
      'test/b: renders the cluster-wide StorageClass cd4ml-retain, which test/a renders too. Fix: render the StorageClass once per cluster: set retainedStorage: false and storageClassName: "cd4ml-retain" on every Platform but one',
      'test/b/ArgoCrds: renders the cluster-wide CustomResourceDefinition clusterworkflowtemplates.argoproj.io, which test/a/ArgoCrds renders too. Fix: render the Argo CRDs once per cluster: set argoCrds: false on every Platform but one (the others use the same CRDs)',
    ]);
    const m = synth((c) => {
      new Platform(c, 'a');
      new Platform(c, 'b', { ...SECOND, argoCrds: false, retainedStorage: false, storageClassName: 'cd4ml-retain' });
    });
    expect(m.objects.filter((o) => o.kind === 'CustomResourceDefinition')).toHaveLength(8);
    expect(m.find('StatefulSet', 'postgres', 'cd4ml-b').spec.volumeClaimTemplates[0].spec.storageClassName).toBe('cd4ml-retain');
  });

  test('an Argo instance ID: the controller\'s config, and every Argo object of the pipelines carries it', () => {
    const m = synth((c) => {
      const platform = new Platform(c, 'platform', { workflowInstanceId: 'ml-platform' });
      const p = new Pipeline(c, 'train', { runner: platform.pipelineRunner });
      p.addStep('a', { image: IMAGE, fanOut: FanOut.workers(2) });
      p.addSchedule('nightly', { cron: '0 2 * * *' });
      p.addEventTrigger('new-data');
    });
    expect(JSON.parse(m.find('ConfigMap', 'workflow-controller-configmap', 'argo').data.instanceID)).toBe('ml-platform');
    const label = { 'workflows.argoproj.io/controller-instanceid': 'ml-platform' };
    expect(m.find('WorkflowTemplate', 'train', 'ml-pipelines').metadata.labels).toMatchObject(label);
    const cron = m.find('CronWorkflow', 'train-nightly', 'ml-pipelines');
    expect(cron.metadata.labels).toMatchObject(label);
    expect(cron.spec.workflowMetadata.labels).toMatchObject(label);
    expect(m.find('WorkflowEventBinding', 'train-new-data', 'ml-pipelines').metadata.labels).toMatchObject(label);
    // without one, no label at all
    const plain = new Chart(Testing.app(), 'plain');
    const platform = new Platform(plain, 'platform');
    new Pipeline(plain, 'train', { runner: platform.pipelineRunner }).addStep('a', { image: IMAGE });
    const wt = Testing.synth(plain).find((o: Obj) => o.kind === 'WorkflowTemplate');
    expect(Object.keys(wt.metadata.labels)).not.toContain('workflows.argoproj.io/controller-instanceid');
  });

  test('a bad instance ID or argoCrds is refused', () => {
    const problems = problemsOf(() => new Platform(chart(), 'platform', { workflowInstanceId: 'ML Platform', argoCrds: 'no' as never }));
    expect(problems.map((p) => p.field).sort()).toEqual(['argoCrds', 'workflowInstanceId']);
    expect(problemsOf(() => new Platform(chart(), 'platform', { workflowInstanceId: '' })).map((p) => `${p.field}: ${p.message}`)).toEqual(['workflowInstanceId: is empty']);
  });
});
