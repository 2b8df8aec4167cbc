import { Chart } from 'cdk8s';
import { Connections, CredentialsGenerator, ObjectStoreChoice, Platform, SeaweedObjectStore } from '../../../constructs';
import { EnvironmentName } from '../../../lib';
import { Obj, synth } from '../../support/manifests';

function seaweed(chart: Chart, props: Partial<ConstructorParameters<typeof SeaweedObjectStore>[2]> = {}) {
  const credentials = new CredentialsGenerator(chart, 'creds', { namespace: 'store', image: 'python:3.13.14-slim', resources: { cpu: '10m', memory: '32Mi', memoryLimit: '64Mi' } });
  return new SeaweedObjectStore(chart, 'seaweedfs', { namespace: 'store', credentials, ...props });
}
const consumer = (chart: Chart, ns = 'apps') => ({ connections: new Connections(chart, `consumer-${ns}`, { name: 'consumer', namespace: ns, podSelector: { app: 'consumer' } }) });

describe('SeaweedObjectStore', () => {
  test('is the default in-cluster store; MinIO only by explicit choice', () => {
    expect(synth((chart) => new Platform(chart, 'platform')).has('StatefulSet', 'seaweedfs', 'cd4ml')).toBe(true);
    const m = synth((chart) => new Platform(chart, 'platform', { objectStore: ObjectStoreChoice.minio() }));
    expect([m.has('StatefulSet', 'minio', 'cd4ml'), m.has('StatefulSet', 'seaweedfs', 'cd4ml')]).toEqual([true, false]);
  });

  test('GitOps never prunes what holds data: the stores\' namespace, their StatefulSets, the Argo CRDs', () => {
    const m = synth((chart) => new Platform(chart, 'platform'));
    const keep = { 'argocd.argoproj.io/sync-options': 'Prune=false,Delete=false', 'kustomize.toolkit.fluxcd.io/prune': 'disabled' };
    const kept = m.objects.filter((o: Obj) => o.metadata?.annotations?.['kustomize.toolkit.fluxcd.io/prune'] === 'disabled').map((o: Obj) => `${o.kind}/${o.metadata.name}`).sort();
    const crds = m.all('CustomResourceDefinition').map((o: Obj) => `CustomResourceDefinition/${o.metadata.name}`);
    expect(crds.length).toBeGreaterThanOrEqual(6);
    expect(kept).toEqual([...crds, 'Namespace/cd4ml', 'StatefulSet/postgres', 'StatefulSet/seaweedfs', 'StorageClass/cd4ml-retain'].sort());
    expect(m.find('Namespace', 'cd4ml').metadata.annotations).toEqual(keep);
    expect(m.find('StatefulSet', 'postgres', 'cd4ml').metadata.annotations).toEqual({ ...keep, 'cd4ml.io/data-format': 'postgres 17' });
    expect(m.find('StatefulSet', 'seaweedfs', 'cd4ml').metadata.annotations['cd4ml.io/data-format']).toBe('seaweedfs');
  });

  test('volumes outlive their claims: the sandbox renders a StorageClass that retains them; elsewhere it is asked for', () => {
    const sandbox = synth((chart) => new Platform(chart, 'platform'));
    expect(sandbox.find('StorageClass', 'cd4ml-retain')).toMatchObject({ provisioner: 'rancher.io/local-path', reclaimPolicy: 'Retain', volumeBindingMode: 'WaitForFirstConsumer' });
    for (const store of ['seaweedfs', 'postgres']) expect(sandbox.find('StatefulSet', store, 'cd4ml').spec.volumeClaimTemplates[0].spec.storageClassName).toBe('cd4ml-retain');
    // another cluster: none by default (its provisioner is unknown), or the one asked for, or the user's own class
    expect(synth((chart) => new Platform(chart, 'platform', { environment: EnvironmentName.DEV })).all('StorageClass')).toEqual([]);
    const eks = synth((chart) => new Platform(chart, 'platform', { environment: EnvironmentName.DEV, retainedStorage: { provisioner: 'ebs.csi.aws.com', parameters: { type: 'gp3' } } }));
    expect(eks.find('StorageClass', 'cd4ml-retain')).toMatchObject({ provisioner: 'ebs.csi.aws.com', parameters: { type: 'gp3' }, reclaimPolicy: 'Retain' });
    const own = synth((chart) => new Platform(chart, 'platform', { storageClassName: 'fast-retain' }));
    expect([own.all('StorageClass'), own.find('StatefulSet', 'postgres', 'cd4ml').spec.volumeClaimTemplates[0].spec.storageClassName]).toEqual([[], 'fast-retain']);
    expect(() => synth((chart) => new Platform(chart, 'platform', { storageClassName: 'fast', retainedStorage: { provisioner: 'ebs.csi.aws.com' } }))).toThrow(/retainedStorage = "ebs.csi.aws.com": is given together with storageClassName "fast"/);
    expect(() => synth((chart) => new Platform(chart, 'platform', { retainedStorage: { provisioner: 'not a provisioner' } }))).toThrow(/retainedStorage.provisioner = "not a provisioner": is not a provisioner name. Fix: name the cluster's provisioner, e.g. "ebs.csi.aws.com"/);
  });

  test('exposes only the S3 port; master, volume and filer listen on the pod\'s loopback', () => {
    const m = synth((chart) => seaweed(chart));
    expect(m.find('Service', 'seaweedfs', 'store').spec.ports).toEqual([{ name: 's3', port: 8333, targetPort: 's3', protocol: 'TCP' }]);
    const c = m.container('StatefulSet', 'seaweedfs', 'seaweedfs');
    expect(c.image).toBe('chrislusf/seaweedfs:4.53');
    expect(c.command).toEqual(['weed']);
    expect(c.args).toEqual(expect.arrayContaining(['server', '-dir=/data', '-ip=127.0.0.1', '-ip.bind=127.0.0.1', '-s3.ip.bind=0.0.0.0', '-s3.port=8333', '-master.telemetry=false', '-s3.iam=false', '-s3.config=/run/seaweedfs/s3.json']));
    expect(c.ports).toEqual([{ name: 's3', containerPort: 8333, protocol: 'TCP' }]);
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/healthz', port: 's3' });
    const sts = m.find('StatefulSet', 'seaweedfs', 'store');
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(sts.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
    // the identities file lives in memory only
    expect(sts.spec.template.spec.volumes.find((v: Obj) => v.name === 'identities').emptyDir.medium).toBe('Memory');
  });

  test('sizes its volumes to the claim: 64 volumes of a 64th each, never the 30 GB default on a small disk', () => {
    const arg = (storage: string) => synth((chart) => seaweed(chart, { storage })).container('StatefulSet', 'seaweedfs', 'seaweedfs').args.filter((a: string) => /volumeSizeLimitMB|volume\.max/.test(a));
    expect(arg('10Gi')).toEqual(['-master.volumeSizeLimitMB=160', '-volume.max=64']);
    expect(arg('500Gi')).toEqual(['-master.volumeSizeLimitMB=8000', '-volume.max=64']);
    expect(arg('1Gi')).toEqual(['-master.volumeSizeLimitMB=64', '-volume.max=64']);
  });

  test('gives every grantee its own random keys, limited to its buckets; the admin only to the setup Job', () => {
    let secretName = '';
    const m = synth((chart) => {
      const store = seaweed(chart);
      const data = store.addBucket('data');
      store.addBucket('models');
      secretName = store.grantReadWrite(consumer(chart), 'trainer', [data]).secretName;
    });
    expect(secretName).toBe('seaweedfs-trainer');
    const spec = JSON.parse(m.find('ConfigMap', 'cd4ml-credentials', 'store').data['secrets.json']);
    expect(spec.find((s: Obj) => s.name === 'seaweedfs-trainer')).toEqual({ name: 'seaweedfs-trainer', namespaces: ['store', 'apps'], keys: { AWS_ACCESS_KEY_ID: { random: 20 }, AWS_SECRET_ACCESS_KEY: { random: 40 } } });
    expect(spec.find((s: Obj) => s.name === 'seaweedfs-admin').keys).toEqual({ AWS_ACCESS_KEY_ID: { random: 20 }, AWS_SECRET_ACCESS_KEY: { random: 40 } });
    // the identities spec names env variables and actions, never a key
    const ids = JSON.parse(m.find('ConfigMap', 'seaweedfs-config', 'store').data['identities.json']).identities;
    expect(ids).toEqual([
      { name: 'admin', accessKeyEnv: 'IDENTITY0_ACCESS_KEY', secretKeyEnv: 'IDENTITY0_SECRET_KEY', actions: ['Admin'] },
      { name: 'trainer', accessKeyEnv: 'IDENTITY1_ACCESS_KEY', secretKeyEnv: 'IDENTITY1_SECRET_KEY', actions: ['Read:data', 'Write:data', 'List:data'] },
    ]);
    const init = m.find('StatefulSet', 'seaweedfs', 'store').spec.template.spec.initContainers[0];
    expect(init.env.find((e: Obj) => e.name === 'IDENTITY1_SECRET_KEY').valueFrom.secretKeyRef).toEqual({ name: 'seaweedfs-trainer', key: 'AWS_SECRET_ACCESS_KEY' });
    // the setup Job creates the buckets as the admin; only it holds the admin keys
    const setup = m.find('ConfigMap', 'seaweedfs-setup', 'store').data;
    expect(setup['setup.sh']).toContain('exec python3 /config/s3-client.py create-buckets data models');
    const holders = m.objects.filter((o: Obj) => JSON.stringify(o.spec ?? {}).includes('"name":"seaweedfs-admin"')).map((o: Obj) => `${o.kind}/${o.metadata.name}`);
    expect(holders.sort()).toEqual(['Job/' + m.findHashed('Job', 'seaweedfs-setup', 'store').metadata.name, 'StatefulSet/seaweedfs']);
    // and the grantee reaches the S3 port only
    expect(m.find('NetworkPolicy', 'seaweedfs', 'store').spec.ingress).toEqual([{ from: expect.arrayContaining([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'apps' } }, podSelector: { matchLabels: { app: 'consumer' } } }]), ports: [{ protocol: 'TCP', port: 8333 }] }]);
  });

  test('refuses a user granted twice or named "admin", no buckets, and a port SeaweedFS uses inside the pod', () => {
    expect(() => synth((chart) => {
      const store = seaweed(chart);
      store.grantReadWrite(consumer(chart), 'admin', [store.addBucket('data')]);
    })).toThrow(/grantReadWrite\(user\) = "admin": is granted twice \(or is a name the store reserves\)/);
    expect(() => synth((chart) => seaweed(chart).grantReadWrite(consumer(chart), 'trainer', []))).toThrow(/grantReadWrite\(buckets\) = \[\]: is empty/);
    expect(() => synth((chart) => seaweed(chart, { apiPort: 8888, storage: '10 GB' }))).toThrow(/2 invalid inputs:[\s\S]*apiPort = 8888: is one of the ports[\s\S]*Fix: use 8333[\s\S]*storage = "10 GB"/);
  });
});
