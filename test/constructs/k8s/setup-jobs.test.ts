import { Chart } from 'cdk8s';
import { k8s } from 'cdk8s-plus-27';
import { CredentialsGenerator, KEEP_ON_PRUNE, ObjectStoreChoice, Platform, PlatformProps, PostgresServer } from '../../../constructs';
import { configMapNamesOf, HashNamedJob } from '../../../constructs/k8s/workload';
import { checkDataSafeUpgrade, EnvironmentName } from '../../../lib';
import { Manifests, matches, Obj, podTemplates, synth } from '../../support/manifests';
import { danglingReferences } from '../../support/references';

const platform = (props: PlatformProps = {}) => synth((chart) => new Platform(chart, 'platform', props));

/** A setup Job's name without its hash. */
const baseName = (name: string) => name.replace(/-[0-9a-f]{8}$/, '');

/** Every Job's rendered name, by its name without the hash. */
const jobNames = (m: Manifests): Record<string, string> => Object.fromEntries(m.all('Job').map((j) => [baseName(j.metadata.name), j.metadata.name]));

/** The setup Jobs whose names differ between two outputs. */
const renamed = (a: Manifests, b: Manifests): string[] => {
  const before = jobNames(a);
  const after = jobNames(b);
  expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
  return Object.keys(before).filter((k) => before[k] !== after[k]).sort();
};

const variants: Array<[string, PlatformProps, string[]]> = [
  ['sandbox', {}, ['cd4ml-credentials', 'postgres-setup', 'seaweedfs-setup']],
  ['prod', { environment: EnvironmentName.PROD }, ['cd4ml-credentials', 'postgres-setup', 'seaweedfs-setup']],
  ['MinIO', { objectStore: ObjectStoreChoice.minio() }, ['cd4ml-credentials', 'minio-setup', 'postgres-setup']],
];

describe('setup Jobs under GitOps (Argo CD, Flux) and Pulumi', () => {
  test.each(variants)('the %s platform\'s setup Jobs have no TTL, are no hooks, may be pruned, and carry a valid hashed name', (_, props, expected) => {
    const m = platform(props);
    const jobs = m.all('Job');
    expect(jobs.map((j) => baseName(j.metadata.name)).sort()).toEqual(expected);
    for (const job of jobs) {
      const name: string = job.metadata.name;
      // a DNS label that fits a label value (the pods' job-name label), ending in 8 hex digits
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?-[0-9a-f]{8}$/);
      expect(name.length).toBeLessThanOrEqual(63);
      // a finished Job stays: a TTL would delete it and GitOps would re-create (re-run) it
      expect(job.spec.ttlSecondsAfterFinished).toBeUndefined();
      expect(job.spec.backoffLimit).toBeGreaterThan(0);
      expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(0);
      // part of the application's state, not a hook (hooks run again on every sync); prunable once superseded
      const annotations: Record<string, string> = job.metadata.annotations ?? {};
      expect(Object.keys(annotations).filter((k) => /hook|sync-options|kustomize\.toolkit\.fluxcd\.io/.test(k))).toEqual([]);
      for (const k of Object.keys(KEEP_ON_PRUNE)) expect(annotations[k]).toBeUndefined();
    }
  });

  test('the same input renders the same names, in every synth and whatever else changes', () => {
    expect(jobNames(platform())).toEqual(jobNames(platform()));
    expect(renamed(platform(), platform({ components: { trackingServer: { replicas: 3 } }, images: { mlflow: 'ghcr.io/mlflow/mlflow:v3.1.4' } }))).toEqual([]);
  });

  test('a changed script, spec or image renders a new name for that Job only', () => {
    const sandbox = platform();
    // a bucket more: SeaweedFS's setup script changes
    expect(renamed(sandbox, platform({ buckets: { data: 'datasets' } }))).toEqual(['seaweedfs-setup']);
    // another Postgres image (same major version): the database setup's pod template changes
    expect(renamed(sandbox, platform({ images: { postgres: 'postgres:17.10-alpine3.24' } }))).toEqual(['postgres-setup']);
    // another Python image: the credentials Job and SeaweedFS's setup run it
    expect(renamed(sandbox, platform({ images: { python: 'python:3.13.13-slim' } }))).toEqual(['cd4ml-credentials', 'seaweedfs-setup']);
    // generated Secrets copied to another namespace: the credentials Job's secrets.json changes
    expect(renamed(sandbox, platform({ pipelineNamespace: 'training' }))).toEqual(['cd4ml-credentials']);
  });

  test('the hash covers the data of every ConfigMap the pods read, and nothing of a ConfigMap elsewhere', () => {
    // given one Job whose pod template stays the same while the data of the ConfigMap it mounts changes
    const job = (script: string, elsewhere = 'x') => synth((chart: Chart) => {
      new k8s.KubeConfigMap(chart, 'script', { metadata: { name: 'task', namespace: 'ns' }, data: { 'run.sh': script } });
      // same name in another namespace: not what the Job reads
      new k8s.KubeConfigMap(chart, 'other', { metadata: { name: 'task', namespace: 'other' }, data: { 'run.sh': elsewhere } });
      new HashNamedJob(chart, 'job', {
        metadata: { name: 'task', namespace: 'ns' },
        spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'run', image: 'busybox:1.37.0', command: ['sh', '/config/run.sh'] }], volumes: [{ name: 'config', configMap: { name: 'task' } }] } } },
      });
    }).findHashed('Job', 'task', 'ns').metadata.name;
    // then its name follows the script, and only it
    expect(job('echo one')).toBe(job('echo one'));
    expect(job('echo one')).not.toBe(job('echo two'));
    expect(job('echo one', 'a')).toBe(job('echo one', 'b'));
  });

  test('every way a pod reads a ConfigMap counts', () => {
    expect(configMapNamesOf({
      volumes: [{ name: 'a', configMap: { name: 'vol' } }, { name: 'b', projected: { sources: [{ configMap: { name: 'projected' } }, { secret: { name: 's' } }] } }, { name: 'c', secret: { secretName: 's' } }],
      initContainers: [{ name: 'i', envFrom: [{ configMapRef: { name: 'env-from' } }, { secretRef: { name: 's' } }] }],
      containers: [{ name: 'c', env: [{ name: 'K', valueFrom: { configMapKeyRef: { name: 'key-ref', key: 'k' } } }, { name: 'S', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }] }],
    })).toEqual(['env-from', 'key-ref', 'projected', 'vol']);
  });

  test.each(variants)('every reference to a setup Job of the %s platform resolves: by its own labels, never by its hashed name', (_, props) => {
    const m = platform(props);
    expect(danglingReferences(m.objects)).toEqual([]);
    const policies = m.all('NetworkPolicy');
    for (const job of m.all('Job')) {
      const template = podTemplates(m.objects).find((t) => t.owner === `Job ${job.metadata.namespace}/${job.metadata.name}`)!;
      // its NetworkPolicy (named without the hash) selects its pods by cd4ml's labels
      const own = policies.find((p) => p.metadata.namespace === job.metadata.namespace && p.metadata.name === baseName(job.metadata.name))!;
      expect(own).toBeDefined();
      expect(matches(own.spec.podSelector.matchLabels, template.labels)).toBe(true);
      expect(Object.keys(own.spec.podSelector.matchLabels).some((k) => k.includes('job-name'))).toBe(false);
      // nothing else names the Job (a selector on job-name, RBAC resourceNames, an admission policy would go stale)
      const naming = m.objects.filter((o: Obj) => o !== job && JSON.stringify(o).includes(job.metadata.name));
      expect(naming.map((o: Obj) => `${o.kind} ${o.metadata.name}`)).toEqual([]);
    }
  });

  test('a renamed setup Job is no data-safety problem for the upgrade guard', () => {
    const before = platform();
    const after = platform({ buckets: { data: 'datasets' }, images: { python: 'python:3.13.13-slim' } });
    expect(renamed(before, after)).toEqual(['cd4ml-credentials', 'seaweedfs-setup']);
    expect(checkDataSafeUpgrade(before.objects, after.objects)).toEqual([]);
  });

  test('a store whose name leaves no room for the Job\'s hash is refused at synth', () => {
    const name = 'p'.repeat(49);
    expect(() => synth((chart) => {
      const credentials = new CredentialsGenerator(chart, 'creds', { namespace: 'data' });
      new PostgresServer(chart, 'pg', { namespace: 'data', credentials, name }).addDatabase('mlflow');
    })).toThrow(new RegExp(`test/pg: metadata.name = "${name}-setup-[0-9a-f]{8}": is 64 characters: a Job name may have at most 63`));
    // 48 characters fit: the Job's name is 63 characters
    const m = synth((chart) => {
      const credentials = new CredentialsGenerator(chart, 'creds', { namespace: 'data' });
      new PostgresServer(chart, 'pg', { namespace: 'data', credentials, name: 'p'.repeat(48) }).addDatabase('mlflow');
    });
    expect(m.findHashed('Job', `${'p'.repeat(48)}-setup`).metadata.name).toHaveLength(63);
  });
});
