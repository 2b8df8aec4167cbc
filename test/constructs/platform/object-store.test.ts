import { Chart } from 'cdk8s';
import { Connections, CredentialsGenerator, ExternalObjectStore, MinioObjectStore, SecretRef } from '../../../constructs';
import { Obj, synth } from '../../support/manifests';

function minio(chart: Chart, props: Partial<ConstructorParameters<typeof MinioObjectStore>[2]> = {}) {
  const credentials = new CredentialsGenerator(chart, 'creds', { namespace: 'store', image: 'python:3.13.14-slim', resources: { cpu: '10m', memory: '32Mi', memoryLimit: '64Mi' } });
  return new MinioObjectStore(chart, 'minio', { namespace: 'store', credentials, ...props });
}
const consumer = (chart: Chart, ns = 'apps') => ({ connections: new Connections(chart, `consumer-${ns}`, { name: 'consumer', namespace: ns, podSelector: { app: 'consumer' } }) });

describe('MinioObjectStore', () => {
  test('renders a StatefulSet on a retained PVC behind Service "minio" with S3 and console ports', () => {
    // given / when
    const m = synth((chart) => minio(chart));
    // then
    const svc = m.find('Service', 'minio', 'store');
    expect(svc.spec.ports).toEqual([
      { name: 's3', port: 9000, targetPort: 's3', protocol: 'TCP' },
      { name: 'console', port: 9001, targetPort: 'console', protocol: 'TCP' },
    ]);
    const sts = m.find('StatefulSet', 'minio', 'store');
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('10Gi');
    expect(sts.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    const c = m.container('StatefulSet', 'minio', 'minio');
    expect(c.image).toBe('quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z');
    expect(c.args).toEqual(['server', '/data', '--address', ':9000', '--console-address', ':9001']);
    expect(c.readinessProbe.httpGet).toMatchObject({ path: '/minio/health/ready', port: 's3' });
    expect(c.livenessProbe.httpGet).toMatchObject({ path: '/minio/health/live', port: 's3' });
    expect(m.env('StatefulSet', 'minio', 'minio', 'MINIO_ROOT_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'minio-root', key: 'MINIO_ROOT_PASSWORD' });
  });

  test('takes storage size, storage class, ports and image from its props', () => {
    const m = synth((chart) => minio(chart, { storage: '50Gi', storageClassName: 'fast-ssd', apiPort: 9100, consolePort: 9101, image: 'registry.example/minio:1.0', name: 'objects' }));
    const sts = m.find('StatefulSet', 'objects', 'store');
    expect(sts.spec.volumeClaimTemplates[0].spec).toMatchObject({ storageClassName: 'fast-ssd', resources: { requests: { storage: '50Gi' } } });
    expect(m.container('StatefulSet', 'objects', 'minio').args).toEqual(['server', '/data', '--address', ':9100', '--console-address', ':9101']);
    expect(m.container('StatefulSet', 'objects', 'minio').image).toBe('registry.example/minio:1.0');
    expect(m.find('Service', 'objects').spec.ports.map((p: Obj) => p.port)).toEqual([9100, 9101]);
  });

  test('creates every declared bucket and one user per grantee, with a policy limited to its buckets', () => {
    // given
    let secretName = '';
    const m = synth((chart) => {
      const store = minio(chart);
      const data = store.addBucket('data');
      store.addBucket('models');
      // when
      secretName = store.grantReadWrite(consumer(chart), 'trainer', [data]).secretName;
    });
    // then
    const setup = m.find('ConfigMap', 'minio-setup', 'store').data;
    expect(setup['setup.sh']).toContain('mc mb --ignore-existing "store/data"');
    expect(setup['setup.sh']).toContain('mc mb --ignore-existing "store/models"');
    expect(setup['setup.sh']).toContain('mc admin policy create store cd4ml-trainer /config/policy-trainer.json');
    const policy = JSON.parse(setup['policy-trainer.json']);
    expect(policy.Statement.flatMap((s: Obj) => s.Resource)).toEqual(['arn:aws:s3:::data', 'arn:aws:s3:::data/*']);
    expect(secretName).toBe('minio-trainer');
    const spec = JSON.parse(m.find('ConfigMap', 'cd4ml-credentials', 'store').data['secrets.json']);
    expect(spec.find((s: Obj) => s.name === 'minio-trainer')).toEqual({
      name: 'minio-trainer',
      namespaces: ['store', 'apps'],
      keys: { AWS_ACCESS_KEY_ID: { random: 20 }, AWS_SECRET_ACCESS_KEY: { random: 40 } },
    });
    // and the grantee may reach the S3 port, and only that
    const ingress = m.find('NetworkPolicy', 'minio', 'store').spec.ingress;
    expect(ingress).toEqual([{ from: expect.arrayContaining([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'apps' } }, podSelector: { matchLabels: { app: 'consumer' } } }]), ports: [{ protocol: 'TCP', port: 9000 }] }]);
    expect(m.find('NetworkPolicy', 'consumer', 'apps').spec.egress).toContainEqual(expect.objectContaining({ ports: [{ protocol: 'TCP', port: 9000 }] }));
  });

  test('fails when a bucket is declared twice', () => {
    expect(() => synth((chart) => {
      const store = minio(chart);
      store.addBucket('data');
      store.addBucket('data');
    })).toThrow(/test\/minio: bucket name = "data": is declared twice/);
  });

  test('fails when a bucket name is not a valid S3 name', () => {
    expect(() => synth((chart) => minio(chart).addBucket('Training_Data'))).toThrow(/bucket name = "Training_Data": is not a valid S3 bucket name.*Fix: use a name like "training-data"/);
  });

  test('fails when a user is granted twice or granted no bucket', () => {
    expect(() => synth((chart) => {
      const store = minio(chart);
      const b = store.addBucket('data');
      store.grantReadWrite(consumer(chart), 'trainer', [b]);
      store.grantReadWrite(consumer(chart, 'other'), 'trainer', [b]);
    })).toThrow(/grantReadWrite\(user\) = "trainer": is granted twice/);
    expect(() => synth((chart) => minio(chart).grantReadWrite(consumer(chart), 'trainer', []))).toThrow(/grantReadWrite\(buckets\) = \[\]: is empty/);
  });

  test('fails on ports out of range, a shared port and a malformed storage size, reporting all of them together', () => {
    expect(() => synth((chart) => minio(chart, { apiPort: 70000, consolePort: 70000, storage: '10 GB' }))).toThrow(
      /4 invalid inputs:[\s\S]*apiPort = 70000: is not a TCP port[\s\S]*consolePort = 70000: is not a TCP port[\s\S]*consolePort = 70000: equals apiPort[\s\S]*storage = "10 GB": is not a Kubernetes quantity/,
    );
  });
});

describe('ExternalObjectStore', () => {
  test('gives each consumer its own Secret, and names a missing one with its buckets; a shared one only by explicit choice', () => {
    const key = (user: string) => SecretRef.fromSecretName(`s3-${user}`, ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
    const granted: string[] = [];
    synth((chart) => {
      const store = new ExternalObjectStore(chart, 's3', { endpoint: 'https://s3.example.com', credentials: { mlflow: key('mlflow'), pipelines: key('pipelines') } });
      const b = store.addBucket('data');
      granted.push(store.grantReadWrite(consumer(chart), 'pipelines', [b]).secretName, store.grantReadWrite(consumer(chart, 'ml'), 'mlflow', [b]).secretName);
    });
    expect(granted).toEqual(['s3-pipelines', 's3-mlflow']);
    expect(() => synth((chart) => {
      const store = new ExternalObjectStore(chart, 's3', { endpoint: 'https://s3.example.com', credentials: { mlflow: key('mlflow') } });
      store.grantReadWrite(consumer(chart), 'workflows', [store.addBucket('argo-artifacts')]);
    })).toThrow(/test\/s3: credentials.workflows = \(missing\): is missing: the platform grants "workflows" the buckets argo-artifacts\. Fix: add credentials.workflows: SecretRef.fromSecretName\('s3-workflows'/);
    expect(() => synth((chart) => new ExternalObjectStore(chart, 's3', { endpoint: 'https://s3.example.com' }))).toThrow(/credentials = \(missing\): is missing: each consumer needs its own S3 key/);
    expect(() => synth((chart) => new ExternalObjectStore(chart, 's3', { endpoint: 'https://s3.example.com', credentials: { a: key('x'), b: key('x') } }))).toThrow(/credentials = "s3-x": serves two consumers/);
    expect(() => synth((chart) => new ExternalObjectStore(chart, 's3', { endpoint: 'https://s3.example.com', credentials: key('x') as never }))).toThrow(/credentials = .*is not a map of Secrets by user/);
  });

  const creds = () => SecretRef.fromSecretName('s3-credentials', ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);

  test('parses its endpoint and hands grantees the supplied credentials with egress to it', () => {
    let store: ExternalObjectStore | undefined;
    let granted = '';
    const m = synth((chart) => {
      store = new ExternalObjectStore(chart, 's3', { endpoint: 'https://s3.eu-central-1.amazonaws.com', sharedCredentials: creds(), region: 'eu-central-1', egressCidr: '52.219.0.0/16' });
      granted = store.grantReadWrite(consumer(chart), 'trainer', [store.addBucket('data')]).secretName;
    });
    expect(store!.endpoint.url()).toBe('https://s3.eu-central-1.amazonaws.com:443');
    expect(granted).toBe('s3-credentials');
    expect(m.find('NetworkPolicy', 'consumer', 'apps').spec.egress).toEqual([{ to: [{ ipBlock: { cidr: '52.219.0.0/16' } }], ports: [{ protocol: 'TCP', port: 443 }] }]);
  });

  test('records every namespace the supplied secret must exist in', () => {
    const secret = creds();
    synth((chart) => {
      const store = new ExternalObjectStore(chart, 's3', { endpoint: 'http://minio.shared:9000', sharedCredentials: secret });
      store.grantReadWrite(consumer(chart, 'a'), 'a', [store.addBucket('data')]);
      store.grantReadWrite(consumer(chart, 'b'), 'b', [store.bucket('data')]);
    });
    expect(secret.requiredIn).toEqual(['a', 'b']);
  });

  test('fails when the endpoint is missing, not a URL, or holds credentials', () => {
    expect(() => synth((chart) => new ExternalObjectStore(chart, 's3', { endpoint: '', sharedCredentials: creds() }))).toThrow(/test\/s3: endpoint = "": is required/);
    expect(() => synth((chart) => new ExternalObjectStore(chart, 's3', { endpoint: 's3.amazonaws.com', sharedCredentials: creds() }))).toThrow(/endpoint = "s3.amazonaws.com": is not a URL/);
    expect(() => synth((chart) => new ExternalObjectStore(chart, 's3', { endpoint: 'https://key:secret@s3.example.com', sharedCredentials: creds() }))).toThrow(/endpoint = "\(redacted\)": holds credentials/);
  });

  test('fails when the credentials lack an S3 key', () => {
    expect(() => synth((chart) => new ExternalObjectStore(chart, 's3', { endpoint: 'https://s3.example.com', sharedCredentials: SecretRef.fromSecretName('s3', ['accessKey']) }))).toThrow(/sharedCredentials = "s3": lacks the key AWS_ACCESS_KEY_ID/);
  });
});
