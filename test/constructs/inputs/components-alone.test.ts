import {
  CredentialsGenerator, ExternalObjectStore, MinioObjectStore, Platform, PlatformNamespace, PostgresServer, SecretRef, SeaweedObjectStore, WorkflowEngine,
  PipelineRunner,
} from '../../../constructs';
import { chart, problemsOf, refused } from './support';

// Given each component on its own, without the Platform that used to check its namespace and images for it,
// when it is handed a bad namespace or image, then it refuses it itself, and the fix it suggests passes.

const CLUSTER_OWNED = ['default', 'kube-system', 'kube-public', 'kube-node-lease', 'kube-anything'];
const NOT_LABELS = ['ML_Ops', 'Store', 'a'.repeat(64), '-store', 'store.ns', ''];
const BAD_IMAGES: Array<[unknown, RegExp]> = [
  ['chrislusf/seaweedfs', /is not pinned/],
  ['chrislusf/seaweedfs:latest', /is not pinned/],
  ['Bad Image:1.0', /is not a valid image reference/],
  [' ', /is missing/],
];

const generator = (c: ReturnType<typeof chart>, namespace: unknown = 'store') => new CredentialsGenerator(c, 'creds', { namespace: namespace as string });
const s3Secret = () => SecretRef.fromSecretName('s3', ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);

/** Each component, built with one prop set to `value`. */
const components: Record<string, { build: (prop: string, value: unknown) => unknown; images: string[] }> = {
  SeaweedObjectStore: {
    build: (prop, value) => { const c = chart(); return new SeaweedObjectStore(c, 'seaweedfs', { namespace: 'store', credentials: generator(c), [prop]: value }); },
    images: ['image', 'setupImage'],
  },
  MinioObjectStore: {
    build: (prop, value) => { const c = chart(); return new MinioObjectStore(c, 'minio', { namespace: 'store', credentials: generator(c), [prop]: value }); },
    images: ['image', 'clientImage'],
  },
  PostgresServer: {
    build: (prop, value) => { const c = chart(); return new PostgresServer(c, 'postgres', { namespace: 'store', credentials: generator(c), [prop]: value }); },
    images: ['image'],
  },
  CredentialsGenerator: {
    build: (prop, value) => new CredentialsGenerator(chart(), 'creds', { namespace: 'store', [prop]: value }),
    images: ['image'],
  },
  PlatformNamespace: {
    build: (prop, value) => new PlatformNamespace(chart(), 'ns', { name: 'store', [prop === 'namespace' ? 'name' : prop]: value }),
    images: [],
  },
};

/** The platform's runner and buckets, to build a second engine or runner against. */
function withPlatform<T>(build: (p: Platform, c: ReturnType<typeof chart>) => T): T {
  const c = chart();
  return build(new Platform(c, 'platform', { pipelineNamespace: 'pipes', workflowNamespace: 'wf' }), c);
}
components.WorkflowEngine = {
  build: (prop, value) => withPlatform((p, c) => new WorkflowEngine(c, 'engine', { namespace: 'wf', runner: p.pipelineRunner, artifactBucket: p.workflowArtifacts, [prop]: value })),
  images: ['controllerImage', 'serverImage', 'executorImage'],
};
components.PipelineRunner = {
  build: (prop, value) => withPlatform((p, c) => new PipelineRunner(c, 'runner', { objectStore: p.objectStore, buckets: { data: p.dataBucket }, trackingServer: p.trackingServer, [prop]: value })),
  images: [],
};

describe.each(Object.keys(components))('%s on its own', (name) => {
  const { build, images } = components[name];
  const field = name === 'PlatformNamespace' ? 'name' : 'namespace';
  const withNamespace = (v: unknown) => build('namespace', v);

  test.each(CLUSTER_OWNED)('fails when its namespace is the cluster-owned %j, and suggests one of its own', (ns) => {
    const p = refused(withNamespace, ns, field, /is a namespace the cluster owns/);
    expect(p.value).toBe(ns);
  });

  test.each(NOT_LABELS)('fails when its namespace %j is not a DNS-1123 label', (ns) => {
    refused(withNamespace, ns, field, ns === '' ? /is missing/ : /DNS-1123 label/);
  });

  if (images.length > 0) {
    test.each(images.flatMap((prop) => BAD_IMAGES.map(([image, message]) => [prop, image, message] as const)))('fails when %s is %j', (prop, image, message) => {
      refused((v) => build(prop, v), image, prop, message);
    });
  }
});

describe('ExternalObjectStore on its own', () => {
  const store = (props: Record<string, unknown>) => new ExternalObjectStore(chart(), 's3', { endpoint: 'https://s3.example.com', sharedCredentials: s3Secret(), ...props });

  test('reports every problem of its props together', () => {
    const problems = problemsOf(() => store({ endpoint: 'ftp://s3.example.com', egressCidr: '10.0.0.0', region: 'EU Central' }));
    expect(problems.map((p) => p.field)).toEqual(['endpoint', 'egressCidr', 'region']);
  });
});

describe('Platform', () => {
  test.each(CLUSTER_OWNED.flatMap((ns) => ['namespace', 'workflowNamespace', 'pipelineNamespace'].map((f) => [f, ns])))('fails when %s is the cluster-owned %j', (field, ns) => {
    const p = refused((v) => new Platform(chart(), 'platform', { [field]: v }), ns, field, /cluster owns/);
    expect(p.path).toBe('test/platform');
  });

  test('reports cluster-owned namespaces of all three props together', () => {
    const problems = problemsOf(() => new Platform(chart(), 'platform', { namespace: 'default', workflowNamespace: 'kube-system', pipelineNamespace: 'kube-public' }));
    expect(problems.map((p) => p.field)).toEqual(['namespace', 'workflowNamespace', 'pipelineNamespace']);
  });
});
