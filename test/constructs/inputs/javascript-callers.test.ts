import {
  CredentialsGenerator, ExternalObjectStore, ExternalPostgresDatabase, MinioObjectStore, NetworkPeer, Pipeline, PipelineRunner, Platform, PlatformNamespace,
  PostgresServer, SecretRef, SeaweedObjectStore, WorkflowEngine,
} from '../../../constructs';
import { formatProblem, Problem } from '../../../lib';
import { chart, problemsOf } from './support';

// Given a JavaScript caller (no compiler), when a prop is undefined, null or of the wrong type, then the construct
// refuses it with a Problem naming the prop: never a TypeError, and never "undefined" or "[object Object]" in a name.

/** What a JavaScript caller might pass instead of the right type. */
const WRONG: Array<[string, unknown]> = [['undefined', undefined], ['null', null], ['a number', 42], ['an object', { name: 'x' }], ['an array', ['x']], ['a boolean', true]];
const WRONG_NOT_MISSING = WRONG.filter(([what]) => what !== 'undefined');
const as = <T>(v: unknown): T => v as T;

/** Runs `build` and returns its problems, asserting it threw some and rendered no junk. */
function refusedAt(build: () => unknown, field: string): Problem[] {
  const problems = problemsOf(build);
  // the prop itself, or a field inside it (an object given as a toleration lacks its key)
  expect([field, problems.some((p) => p.field === field || p.field.startsWith(`${field}.`)) ? 'refused' : problems.map((p) => p.field)]).toEqual([field, 'refused']);
  for (const p of problems) expect(formatProblem(p)).not.toMatch(/\[object Object\]|"undefined"|undefined\./);
  return problems;
}

const gen = (c: ReturnType<typeof chart>) => new CredentialsGenerator(c, 'creds', { namespace: 'store' });
const s3 = () => SecretRef.fromSecretName('s3', ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
const pg = () => SecretRef.fromSecretName('pg', ['username', 'password']);

describe.each(WRONG)('a prop that is %s', (_what, value) => {
  test('is refused as a namespace by every component, and as a Platform namespace', () => {
    refusedAt(() => { const c = chart(); return new SeaweedObjectStore(c, 's', { namespace: as(value), credentials: gen(c) }); }, 'namespace');
    refusedAt(() => { const c = chart(); return new MinioObjectStore(c, 'm', { namespace: as(value), credentials: gen(c) }); }, 'namespace');
    refusedAt(() => { const c = chart(); return new PostgresServer(c, 'p', { namespace: as(value), credentials: gen(c) }); }, 'namespace');
    refusedAt(() => new CredentialsGenerator(chart(), 'g', { namespace: as(value) }), 'namespace');
    refusedAt(() => new PlatformNamespace(chart(), 'n', { name: as(value) }), 'name');
    if (value !== undefined) refusedAt(() => new Platform(chart(), 'platform', { namespace: as(value) }), 'namespace');
  });

  test('is refused as the credentials of a store, with no TypeError', () => {
    refusedAt(() => new SeaweedObjectStore(chart(), 's', { namespace: 'store', credentials: as(value) }), 'credentials');
    refusedAt(() => new ExternalObjectStore(chart(), 's3', { endpoint: 'https://s3.example.com', credentials: as(value) }), 'credentials');
    refusedAt(() => new ExternalPostgresDatabase(chart(), 'db', { host: 'db.example.com', databaseName: 'mlflow', credentials: as(value) }), 'credentials');
  });

  test('is refused as a host, an endpoint, a region', () => {
    refusedAt(() => new ExternalPostgresDatabase(chart(), 'db', { host: as(value), databaseName: 'mlflow', credentials: pg() }), 'host');
    refusedAt(() => new ExternalObjectStore(chart(), 's3', { endpoint: as(value), sharedCredentials: s3() }), 'endpoint');
    if (value !== undefined) refusedAt(() => new ExternalObjectStore(chart(), 's3', { endpoint: 'https://s3.example.com', sharedCredentials: s3(), region: as(value) }), 'region');
  });

  test('is refused as a NetworkPeer\'s namespace, labels or CIDR', () => {
    refusedAt(() => NetworkPeer.namespace(as(value)), 'name');
    refusedAt(() => NetworkPeer.pods(as(value), {}), 'namespace');
    if (!(value !== null && typeof value === 'object' && !Array.isArray(value))) refusedAt(() => NetworkPeer.pods('ingress', as(value)), 'labels');
    refusedAt(() => NetworkPeer.cidr(as(value)), 'cidr');
  });

  test('is refused as a WorkflowEngine\'s runner and artifact bucket', () => {
    refusedAt(() => new WorkflowEngine(chart(), 'engine', { namespace: 'wf', runner: as(value), artifactBucket: as(value) }), 'runner');
    refusedAt(() => new WorkflowEngine(chart(), 'engine', { namespace: 'wf', runner: as(value), artifactBucket: as(value) }), 'artifactBucket');
  });
});

describe.each(WRONG_NOT_MISSING)('an optional prop that is %s', (_what, value) => {
  test('is refused as an image by every component', () => {
    refusedAt(() => { const c = chart(); return new SeaweedObjectStore(c, 's', { namespace: 'store', credentials: gen(c), image: as(value) }); }, 'image');
    refusedAt(() => { const c = chart(); return new MinioObjectStore(c, 'm', { namespace: 'store', credentials: gen(c), clientImage: as(value) }); }, 'clientImage');
    refusedAt(() => { const c = chart(); return new PostgresServer(c, 'p', { namespace: 'store', credentials: gen(c), image: as(value) }); }, 'image');
    refusedAt(() => new CredentialsGenerator(chart(), 'g', { namespace: 'store', image: as(value) }), 'image');
  });

  test('is refused as the platform\'s buckets, hosts, ingress peers, GPU scheduling or images', () => {
    const platform = (props: Record<string, unknown>) => () => new Platform(chart(), 'platform', props);
    if (!(typeof value === 'object' && value !== null && !Array.isArray(value))) {
      refusedAt(platform({ buckets: value }), 'buckets');
      refusedAt(platform({ gpu: value }), 'gpu');
      refusedAt(platform({ images: value }), 'images');
    }
    refusedAt(platform({ buckets: { data: value } }), 'buckets.data');
    if (!Array.isArray(value)) refusedAt(platform({ trackingServerHosts: value }), 'trackingServerHosts');
    refusedAt(platform({ trackingServerHosts: [value] }), 'trackingServerHosts[0]');
    if (!Array.isArray(value)) refusedAt(platform({ uiIngressFrom: value }), 'uiIngressFrom');
    refusedAt(platform({ uiIngressFrom: [value] }), 'uiIngressFrom[0]');
    refusedAt(platform({ gpu: { resourceName: value } }), 'gpu.resourceName');
    if (!Array.isArray(value)) refusedAt(platform({ gpu: { tolerations: value } }), 'gpu.tolerations');
    refusedAt(platform({ gpu: { tolerations: [value] } }), 'gpu.tolerations[0]');
  });

  test('is refused as a pipeline step\'s env value or argument', () => {
    const step = (props: Record<string, unknown>) => () => {
      const c = chart();
      const platform = new Platform(c, 'platform');
      new Pipeline(c, 'train', { runner: platform.pipelineRunner }).addStep('train', { image: 'registry.example/train:1.0.0', ...props });
    };
    refusedAt(step({ env: { LOG_LEVEL: value } }), 'env.LOG_LEVEL');
    refusedAt(step({ args: [value] }), 'args[0]');
    if (!Array.isArray(value)) refusedAt(step({ args: value }), 'args');
    if (!Array.isArray(value)) refusedAt(step({ command: value }), 'command');
  });

  test('is refused as a runner\'s buckets', () => {
    const c = chart();
    const p = new Platform(c, 'platform');
    refusedAt(() => new PipelineRunner(c, 'runner', { namespace: 'other', objectStore: p.objectStore, trackingServer: p.trackingServer, buckets: as(value) }), 'buckets');
  });
});

test('a number where a string belongs gets a fix that writes it as a string', () => {
  const problems = problemsOf(() => NetworkPeer.pods('ingress', { replicas: as(3) }));
  expect(problems.map((p) => formatProblem(p))).toEqual(['NetworkPeer.pods: labels["replicas"] = 3: is a number, but label values are strings. Fix: write it as a string, "3"']);
});

const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);

describe('the methods a JavaScript caller calls after construction', () => {
  // each is called on a valid platform and pipeline with the wrong kind of argument; the problem names the argument
  const platformAnd = (c: ReturnType<typeof chart>) => {
    const platform = new Platform(c, 'platform');
    const pipeline = new Pipeline(c, 'train', { runner: platform.pipelineRunner });
    return { platform, pipeline, step: pipeline.addStep('prepare', { image: 'ghcr.io/acme/prepare:1.0.0' }) };
  };
  const METHODS: Array<[string, string, (v: unknown) => unknown]> = [
    ['PostgresServer.enableBackups(props)', 'enableBackups(props)', (v) => platformAnd(chart()).platform.postgres!.enableBackups(as(v))],
    ['TrackingServer.grantUser(grantee)', 'grantUser(grantee)', (v) => platformAnd(chart()).platform.trackingServer.grantUser(as(v), 'analyst')],
    ['ObjectStore.grantReadWrite(grantee)', 'grantReadWrite(grantee)', (v) => { const { platform } = platformAnd(chart()); return platform.objectStore.grantReadWrite(as(v), 'analyst', [platform.dataBucket]); }],
    ['PostgresDatabase.grantConnect(grantee)', 'grantConnect(grantee)', (v) => platformAnd(chart()).platform.postgres!.addDatabase('reports').grantConnect(as(v))],
    ['CredentialsGenerator.addSecret(keys)', 'keys', (v) => platformAnd(chart()).platform.credentials.addSecret('extra', as(v))],
    ['Pipeline.addStep(props)', 'props', (v) => platformAnd(chart()).pipeline.addStep('train', as(v))],
    ['Pipeline.addSchedule(props)', 'props', (v) => platformAnd(chart()).pipeline.addSchedule('nightly', as(v))],
    ['Pipeline.addParameter(options)', 'parameters.n options', (v) => platformAnd(chart()).pipeline.addParameter('n', as(v))],
  ];
  describe.each(WRONG)('given %s', (_what, value) => {
    test.each(METHODS)('%s is refused with a problem naming it (or, for an object, a field inside it), never a TypeError', (_m, field, call) => {
      if (isObject(value)) expect(problemsOf(() => call(value)).length).toBeGreaterThan(0);
      else refusedAt(() => call(value), field);
    });
  });

  test('Pipeline.addEventTrigger(props) takes undefined as no props, and refuses null or a string', () => {
    expect(problemsOf(() => platformAnd(chart()).pipeline.addEventTrigger('new-data', undefined))).toEqual([]);
    for (const v of [null, 'payload.bucket']) refusedAt(() => platformAnd(chart()).pipeline.addEventTrigger('new-data', as(v)), 'props');
  });
});
