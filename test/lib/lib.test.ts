import { checkBucketName, checkDnsLabel, checkPort, Endpoint, footprint, Quantity, QuantityKind, Scheme, suggestName } from '../../lib';

const site = { path: 'p', field: 'f' };

describe('names', () => {
  test.each(['a', 'ml-pipelines', 'x1', 'a'.repeat(63)])('accepts the DNS label %s', (n) => expect(checkDnsLabel(n, site)).toBeUndefined());
  test.each(['', 'A', '-a', 'a-', 'a_b', 'a.b', 'a'.repeat(64)])('rejects the DNS label %j', (n) => expect(checkDnsLabel(n, site)?.message).toMatch(/DNS-1123 label/));
  test('suggests a valid name', () => expect(suggestName('My_Pipeline!')).toBe('my-pipeline'));
  test.each(['data', 'mlflow-artifacts', 'a.b.c'])('accepts the bucket %s', (n) => expect(checkBucketName(n, site)).toBeUndefined());
  test.each(['ab', 'Data', 'a..b', '-data', 'data_set'])('rejects the bucket %s', (n) => expect(checkBucketName(n, site)).toBeDefined());
});

describe('Quantity', () => {
  test.each([['500m', 0.5], ['2', 2], ['1.5', 1.5], ['512Mi', 512 * 2 ** 20], ['1Gi', 2 ** 30], ['1G', 1e9], ['1e3', 1000]])('parses %s', (text, value) => {
    expect(Quantity.parse(text).value).toBeCloseTo(value);
  });
  test.each(['', '1 Gi', 'ten', '1GiB', '--1'])('rejects %j', (text) => expect(Quantity.check(text, QuantityKind.BYTES, site)?.message).toBe('is not a Kubernetes quantity'));
  test('rejects zero and a milli-byte memory size', () => {
    expect(Quantity.check('0', QuantityKind.CPU, site)?.message).toBe('must be greater than zero');
    expect(Quantity.check('512m', QuantityKind.BYTES, site)?.fix).toMatch(/Mi or M/);
  });
});

test('ports are whole numbers from 1 to 65535', () => {
  expect(checkPort(5000, site)).toBeUndefined();
  for (const bad of [0, 65536, 1.5, NaN]) expect(checkPort(bad, site)?.fix).toBe('use a whole number from 1 to 65535');
});

test('an Endpoint derives every URL from its service, namespace and port', () => {
  const e = Endpoint.ofService('mlflow', 'cd4ml', 5000, Scheme.HTTP);
  expect(e.url('/health')).toBe('http://mlflow.cd4ml.svc.cluster.local:5000/health');
  expect(e.hostPort).toBe('mlflow.cd4ml.svc.cluster.local:5000');
});

test('footprint sums requests of long-running pods times replicas, jobs apart', () => {
  const pod = (cpu: string, memory: string, limit: string) => ({ template: { spec: { containers: [{ resources: { requests: { cpu, memory }, limits: { memory: limit } } }] } } });
  const f = footprint([
    { kind: 'Deployment', spec: { replicas: 2, ...pod('100m', '128Mi', '256Mi') } },
    { kind: 'StatefulSet', spec: pod('250m', '512Mi', '1Gi') },
    { kind: 'Job', spec: pod('1', '1Gi', '1Gi') },
    { kind: 'Service', spec: {} },
  ]);
  expect(f.steadyText).toEqual({ cpu: '450m', memory: '768Mi', memoryLimit: '1536Mi' });
  expect(f.jobs.cpu).toBe(1);
});
