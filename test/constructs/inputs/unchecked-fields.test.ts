import {
  CredentialsGenerator, DatabaseChoice, ExternalObjectStore, ExternalPostgresDatabase, MinioObjectStore, NetworkPeer, ObjectStoreChoice, Platform, PipelineRunner,
  SecretRef, SeaweedObjectStore,
} from '../../../constructs';
import { synth } from '../../support/manifests';
import { bucketEnvName } from '../../../constructs/platform/pipeline-runner';
import { checkBucketName, checkRegion, formatProblem, regionOfAwsHost } from '../../../lib';
import { accepted, chart, problemsOf, refused } from './support';

const pgSecret = () => SecretRef.fromSecretName('pg', ['username', 'password']);
const s3Secret = () => SecretRef.fromSecretName('s3', ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
const site = { path: 'test/store', field: 'bucket' };

describe('hosts', () => {
  const db = (host: unknown) => new ExternalPostgresDatabase(chart(), 'db', { host: host as string, databaseName: 'mlflow', credentials: pgSecret() });

  test.each(['db.example.com', 'postgres', 'DB.Example.COM', '10.0.0.5', 'my-db.cluster-abc.eu-central-1.rds.amazonaws.com'])('accepts the database host %j', (h) => accepted(db, h, 'host'));

  test.each<[string, RegExp]>([
    ['postgresql://db.example.com:5432/mlflow', /is a URL, not a host name/],
    ['db.example.com:5432', /includes a port/],
    [' db.example.com', /spaces around it/],
    ['db_server!', /is not a host name/],
    ['-db.example.com', /is not a host name/],
    [`${'a'.repeat(64)}.example.com`, /is not a host name/],
    ['/var/run/postgresql', /is not a host name/],
    ['::1', /IPv6/],
  ])('fails when the database host is %j, and suggests a host that passes', (h, message) => {
    const p = refused(db, h, 'host', message);
    expect(p.value).toBe(h);
  });

  test('fails when trackingServerHosts holds something other than host patterns, with the field the user wrote', () => {
    const platform = (hosts: unknown) => new Platform(chart(), 'platform', { trackingServerHosts: hosts as string[] });
    refused((v) => platform([v]), '*', 'trackingServerHosts[0]', /broader wildcard/);
    refused((v) => platform([v]), 'https://mlflow.example.com', 'trackingServerHosts[0]');
    accepted((v) => platform([v]), 'mlflow.example.com', 'trackingServerHosts[0]');
    expect(problemsOf(() => platform('mlflow.example.com')).map((p) => p.field)).toEqual(['trackingServerHosts']);
  });
});

describe('NetworkPeer', () => {
  test.each<[string, () => unknown, string]>([
    ['a namespace that is not a DNS label', () => NetworkPeer.namespace('Ingress_Nginx'), 'name'],
    ['a pods namespace that is not a DNS label', () => NetworkPeer.pods('ingress nginx', { app: 'x' }), 'namespace'],
    ['a label key with two slashes', () => NetworkPeer.pods('ingress', { 'a/b/c': 'x' }), 'labels["a/b/c"]'],
    ['a label key with an uppercase prefix', () => NetworkPeer.pods('ingress', { 'Example.COM/app': 'x' }), 'labels["Example.COM/app"]'],
    ['a label value with a space', () => NetworkPeer.pods('ingress', { app: 'ingress nginx' }), 'labels["app"]'],
    ['a label value longer than 63', () => NetworkPeer.pods('ingress', { app: 'x'.repeat(64) }), 'labels["app"]'],
    ['a CIDR without a prefix length', () => NetworkPeer.cidr('10.0.0.0'), 'cidr'],
    ['a CIDR with a bad address', () => NetworkPeer.cidr('10.0.0.256/8'), 'cidr'],
    ['a CIDR with a bad IPv6 address', () => NetworkPeer.cidr(':::::/64'), 'cidr'],
    ['a CIDR with a prefix too long', () => NetworkPeer.cidr('10.0.0.0/33'), 'cidr'],
  ])('fails on %s', (_what, build, field) => {
    const problems = problemsOf(build);
    expect(problems.map((p) => p.field)).toContain(field);
  });

  test('suggests label keys and values that pass', () => {
    refused((v) => NetworkPeer.pods('ingress', { [v as string]: 'x' }), 'my app', 'labels["my app"]', /not a label key/, () => ['my-app']);
    const p = refused((v) => NetworkPeer.pods('ingress', { app: v as string }), 'ingress nginx', 'labels["app"]', /not a label value/);
    expect(p.fix).toBe('use a value like "ingress-nginx"');
  });

  test('accepts namespaces, label maps and CIDRs Kubernetes accepts', () => {
    expect(NetworkPeer.namespace('ingress-nginx').toJson()).toEqual({ podSelector: { matchLabels: {} }, namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } });
    expect(NetworkPeer.pods('ingress', { 'app.kubernetes.io/name': 'ingress-nginx', 'tier': '' }).spec.podSelector).toEqual({ 'app.kubernetes.io/name': 'ingress-nginx', 'tier': '' });
    for (const cidr of ['10.0.0.0/8', '0.0.0.0/0', '2001:db8::/32', '::/0', '192.0.2.10/32']) expect(NetworkPeer.cidr(cidr).toJson()).toEqual({ ipBlock: { cidr } });
  });
});

describe('GPU scheduling', () => {
  const platform = (gpu: Record<string, unknown>) => new Platform(chart(), 'platform', { gpu });

  test.each(['gpu', 'nvidia.com/', 'kubernetes.io/gpu', 'nvidia.com/gpu/a100', 'NVIDIA.com/gpu', 'nvidia.com/-gpu'])('fails when the GPU resource name is %j', (name) => {
    refused((v) => platform({ resourceName: v }), name, 'gpu.resourceName');
  });

  test.each(['nvidia.com/gpu', 'amd.com/gpu', 'gpu.intel.com/i915', 'nvidia.com/mig-1g.5gb'])('accepts the resource name %j', (name) => accepted((v) => platform({ resourceName: v }), name, 'gpu.resourceName'));

  test('fails on node selector keys and values Kubernetes refuses', () => {
    const problems = problemsOf(() => platform({ nodeSelector: { 'nvidia.com/gpu present': 'true', 'pool': 'gpu pool', 'count': 2 } }));
    expect(problems.map((p) => p.field)).toEqual(['gpu.nodeSelector["nvidia.com/gpu present"]', 'gpu.nodeSelector["pool"]', 'gpu.nodeSelector["count"]']);
    refused((v) => platform({ nodeSelector: { pool: v } }), 'gpu pool', 'gpu.nodeSelector["pool"]');
    refused((v) => platform({ nodeSelector: { count: v } }), 2, 'gpu.nodeSelector["count"]', /label values are strings/);
    expect(problemsOf(() => platform({ nodeSelector: 'gpu=true' })).map((p) => p.field)).toEqual(['gpu.nodeSelector']);
  });

  test.each<[string, Record<string, unknown>, string, RegExp]>([
    ['an unknown operator', { key: 'nvidia.com/gpu', operator: 'In', effect: 'NoSchedule' }, 'gpu.tolerations[0].operator', /not a toleration operator/],
    ['an unknown effect', { key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoScheduling' }, 'gpu.tolerations[0].effect', /not a taint effect/],
    ['a value with Exists', { key: 'nvidia.com/gpu', operator: 'Exists', value: 'present' }, 'gpu.tolerations[0].value', /with the operator Exists/],
    ['no key without Exists', { operator: 'Equal', value: 'true' }, 'gpu.tolerations[0].key', /only the operator Exists allows/],
    ['a bad key', { key: 'nvidia gpu', operator: 'Exists' }, 'gpu.tolerations[0].key', /not a label key/],
    ['a bad value', { key: 'gpu', value: 'a b' }, 'gpu.tolerations[0].value', /not a label value/],
    ['tolerationSeconds without NoExecute', { key: 'gpu', operator: 'Exists', effect: 'NoSchedule', tolerationSeconds: 60 }, 'gpu.tolerations[0].tolerationSeconds', /NoExecute/],
  ])('fails on a toleration with %s', (_what, toleration, field, message) => {
    const problems = problemsOf(() => platform({ tolerations: [toleration] }));
    expect(problems.find((p) => p.field === field)?.message).toMatch(message);
  });

  test('suggested operators and effects pass', () => {
    refused((v) => platform({ tolerations: [{ key: 'gpu', operator: v }] }), 'In', 'gpu.tolerations[0].operator');
    refused((v) => platform({ tolerations: [{ key: 'gpu', operator: 'Exists', effect: v }] }), 'NoScheduling', 'gpu.tolerations[0].effect');
  });

  test('the runner checks the same on its own', () => {
    const c = chart();
    const p = new Platform(c, 'platform');
    const problems = problemsOf(() => new PipelineRunner(c, 'runner', {
      namespace: 'gpu-pipelines', objectStore: p.objectStore, buckets: { data: p.dataBucket }, trackingServer: p.trackingServer, quota: { ...p.preset.pipelineQuota, gpus: 1 },
      gpu: { resourceName: 'gpu', nodeSelector: { 'a b': 'c' }, tolerations: [{ key: 'gpu', operator: 'Maybe' }] },
    }));
    expect(problems.map((x) => x.field)).toEqual(['gpu.resourceName', 'gpu.nodeSelector["a b"]', 'gpu.tolerations[0].operator']);
  });
});

describe('regions', () => {
  test.each(['us-east-1', 'eu-central-1', 'ap-southeast-2', 'us-gov-west-1', 'cn-north-1', 'auto', 'fr-par', 'nyc3', 'us-west-004', 'garage'])('accepts the region %j for a server outside AWS', (r) => {
    expect(checkRegion(r, site)).toBeUndefined();
  });

  test.each(['', 'US-EAST-1', 'us_east_1', 'eu central 1', 'x', '1-east', 'us-east-1-', 'a'.repeat(40)])('fails when an in-cluster store\'s region is %j', (r) => {
    const c = chart();
    const credentials = new CredentialsGenerator(c, 'creds', { namespace: 'store' });
    refused((v) => new SeaweedObjectStore(chart(), 'seaweedfs', { namespace: 'store', credentials, region: v as string }), r, 'region');
    refused((v) => new MinioObjectStore(chart(), 'minio', { namespace: 'store', credentials, region: v as string }), r, 'region');
  });

  test('an AWS endpoint needs an AWS region, and the very one its host names', () => {
    const aws = (endpoint: string) => (region: unknown) => new ExternalObjectStore(chart(), 's3', { endpoint, sharedCredentials: s3Secret(), region: region as string });
    refused(aws('https://s3.amazonaws.com'), 'auto', 'region', /not an AWS region/);
    const p = refused(aws('https://s3.eu-central-1.amazonaws.com'), 'us-east-1', 'region', /differs from the region the endpoint's host names \(eu-central-1\)/);
    expect(p.fix).toBe('use "eu-central-1"');
    // the default region, us-east-1, against a Frankfurt endpoint: refused rather than signed wrongly
    expect(problemsOf(() => new ExternalObjectStore(chart(), 's3', { endpoint: 'https://s3.eu-central-1.amazonaws.com', sharedCredentials: s3Secret() })).map((x) => x.field)).toEqual(['region']);
    accepted(aws('https://s3.dualstack.us-east-2.amazonaws.com'), 'us-east-2', 'region');
    accepted(aws('https://storage.example.com'), 'auto', 'region');
    expect([regionOfAwsHost('s3-eu-west-1.amazonaws.com'), regionOfAwsHost('s3.amazonaws.com'), regionOfAwsHost('s3.cn-north-1.amazonaws.com.cn')]).toEqual(['eu-west-1', undefined, 'cn-north-1']);
  });
});

describe('bucket names', () => {
  test.each(['data', 'mlflow-artifacts', 'a.b.c', 'abc', 'a'.repeat(63), 'my-bucket-2024', '192.168.5.4x', 'xn-data'])('accepts %j', (name) => expect(checkBucketName(name, site)).toBeUndefined());

  test.each<[string, RegExp]>([
    ['ab', /has 2 characters/],
    ['a'.repeat(64), /has 64 characters/],
    ['Data', /characters other than/],
    ['data_set', /characters other than/],
    ['-data', /start and end/],
    ['data.', /start and end/],
    ['a..b', /two adjacent dots/],
    ['192.168.5.4', /like an IP address/],
    ['xn--data', /starts with "xn--"/],
    ['sthree-data', /starts with "sthree-"/],
    ['amzn-s3-demo-data', /starts with "amzn-s3-demo-"/],
    ['data-s3alias', /ends with "-s3alias"/],
    ['data--ol-s3', /ends with "--ol-s3"/],
    ['data.mrap', /ends with ".mrap"/],
    ['data--x-s3', /ends with "--x-s3"/],
  ])('refuses %j, and suggests a name that passes', (name, message) => {
    const p = checkBucketName(name, site)!;
    expect(p.message).toMatch(/^is not a valid S3 bucket name: it /);
    expect(p.message).toMatch(message);
    const suggestion = /use a name like "([^"]*)"/.exec(p.fix)![1];
    expect([suggestion, checkBucketName(suggestion, site)]).toEqual([suggestion, undefined]);
  });

  test('every store refuses them when they are declared', () => {
    const c = chart();
    const store = new SeaweedObjectStore(c, 'seaweedfs', { namespace: 'store', credentials: new CredentialsGenerator(c, 'creds', { namespace: 'store' }) });
    expect(() => store.addBucket('192.168.5.4')).toThrow(/bucket name = "192.168.5.4": is not a valid S3 bucket name: it is formatted like an IP address.*Fix: use a name like "192-168-5-4"/);
  });

  test('the platform refuses bad names with the field the user wrote, and names given twice', () => {
    const platform = (buckets: Record<string, unknown>) => () => new Platform(chart(), 'platform', { buckets });
    refused((v) => platform({ data: v })(), 'xn--data', 'buckets.data', /starts with "xn--"/);
    refused((v) => platform({ data: v })(), 'mlflow-artifacts', 'buckets.data', /also the name of buckets.trackingArtifacts/);
    expect(problemsOf(platform({ models: 'models' })).map((p) => p.field)).toEqual(['buckets.models']);
  });

  test('steps read buckets by role: renamed buckets keep CD4ML_BUCKET_DATA, whatever their names', () => {
    const m = synth((c) => { new Platform(c, 'platform', { buckets: { data: 'acme-ml-data.eu-central-1', trackingArtifacts: 'acme-mlflow', workflowArtifacts: 'acme-argo' } }); });
    expect(m.find('ConfigMap', 'pipeline-defaults', 'ml-pipelines').data).toMatchObject({ CD4ML_BUCKET_DATA: 'acme-ml-data.eu-central-1' });
    expect(Object.keys(m.find('ConfigMap', 'pipeline-defaults', 'ml-pipelines').data).filter((k) => k.startsWith('CD4ML_BUCKET_'))).toEqual(['CD4ML_BUCKET_DATA']);
    expect(bucketEnvName('features')).toBe('CD4ML_BUCKET_FEATURES');
  });

  test('a runner refuses a role that is no identifier, a bucket that is none, and no buckets at all', () => {
    const c = chart();
    const platform = new Platform(c, 'platform');
    const runner = (buckets: unknown) => () => new PipelineRunner(chart(), 'runner', { namespace: 'other', objectStore: platform.objectStore, buckets: buckets as never, trackingServer: platform.trackingServer });
    expect(problemsOf(runner({ 'My-Data': platform.dataBucket })).map((x) => [x.field, x.message, x.fix])).toEqual([['buckets.My-Data', expect.stringMatching(/not a bucket role/), 'name the role like "my_data"']]);
    expect(problemsOf(runner({ data: 'data' })).map((x) => [x.field, x.message])).toEqual([['buckets.data', 'is not a Bucket']]);
    expect(problemsOf(runner({})).map((x) => [x.field, x.message])).toEqual([['buckets', 'is empty']]);
    expect(problemsOf(runner([platform.dataBucket])).map((x) => [x.field, x.message])).toEqual([['buckets', 'is an array, not a map of buckets by role']]);
  });

  test('an external database choice is checked when the platform builds it', () => {
    const problems = problemsOf(() => new Platform(chart(), 'platform', {
      database: DatabaseChoice.external({
        trackingServer: { host: 'db.example.com:5432', databaseName: 'mlflow', credentials: pgSecret() },
        workflowArchive: { host: 'db.example.com', databaseName: 'argo', credentials: pgSecret() },
      }),
      objectStore: ObjectStoreChoice.external({ endpoint: 'https://s3.example.com', sharedCredentials: s3Secret() }),
    }));
    expect(problems.map((p) => `${p.path}: ${p.field}`)).toEqual(['test/platform/TrackingDatabase: host']);
  });
});
