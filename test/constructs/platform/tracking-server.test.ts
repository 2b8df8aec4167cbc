import { Chart } from 'cdk8s';
import { CredentialsGenerator, MinioObjectStore, PostgresServer, TrackingServer, TrackingServerProps } from '../../../constructs';
import { synth } from '../../support/manifests';

function mlflow(chart: Chart, props: Partial<TrackingServerProps> = {}) {
  const credentials = new CredentialsGenerator(chart, 'creds', { namespace: 'ml', image: 'python:3.13.14-slim', resources: { cpu: '10m', memory: '32Mi', memoryLimit: '64Mi' } });
  const store = new MinioObjectStore(chart, 'minio', { namespace: 'ml', credentials });
  const pg = new PostgresServer(chart, 'pg', { namespace: 'ml', credentials });
  return new TrackingServer(chart, 'mlflow', { namespace: 'ml', database: pg.addDatabase('mlflow'), artifactBucket: store.addBucket('mlflow-artifacts'), ...props });
}

describe('TrackingServer', () => {
  test('serves with a Postgres backend store whose URI holds no credential, and proxies artifacts to its bucket', () => {
    const m = synth((chart) => mlflow(chart));
    const c = m.container('Deployment', 'mlflow', 'mlflow', 'ml');
    expect(c.image).toBe('ghcr.io/mlflow/mlflow:v3.17.0-full');
    const arg = (flag: string) => c.args[c.args.indexOf(flag) + 1];
    expect(arg('--backend-store-uri')).toBe('postgresql+psycopg2://postgres.ml.svc.cluster.local:5432/mlflow?sslmode=disable');
    expect(arg('--artifacts-destination')).toBe('s3://mlflow-artifacts');
    expect(c.args).toContain('--serve-artifacts');
    expect(arg('--host')).toBe('0.0.0.0');
    expect(arg('--workers')).toBe('1');
    expect(m.env('Deployment', 'mlflow', 'mlflow', 'PGPASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'postgres-mlflow', key: 'password' });
    expect(m.env('Deployment', 'mlflow', 'mlflow', 'AWS_SECRET_ACCESS_KEY').valueFrom.secretKeyRef).toEqual({ name: 'minio-mlflow', key: 'AWS_SECRET_ACCESS_KEY' });
    expect(m.env('Deployment', 'mlflow', 'mlflow', 'MLFLOW_S3_ENDPOINT_URL').value).toBe('http://minio.ml.svc.cluster.local:9000');
  });

  test('turns MLflow\'s usage telemetry off in the server and its migration, and gets no API token', () => {
    const m = synth((chart) => mlflow(chart));
    for (const container of ['mlflow', 'migrate']) {
      const env = m.container('Deployment', 'mlflow', container, 'ml').env;
      // DO_NOT_TRACK counts only as "true" (mlflow 3.17 mlflow/telemetry/utils.py is_telemetry_disabled)
      expect(env.filter((e: { name: string }) => ['MLFLOW_DISABLE_TELEMETRY', 'DO_NOT_TRACK'].includes(e.name))).toEqual([
        { name: 'MLFLOW_DISABLE_TELEMETRY', value: 'true' },
        { name: 'DO_NOT_TRACK', value: 'true' },
      ]);
    }
    expect(m.find('Deployment', 'mlflow', 'ml').spec.template.spec.automountServiceAccountToken).toBe(false);
    // its NetworkPolicy opens no egress to an address block (the API server is reached by address only)
    expect(JSON.stringify(m.find('NetworkPolicy', 'mlflow', 'ml').spec.egress)).not.toContain('ipBlock');
  });

  test('derives --allowed-hosts from the names it is reached by, never "*"', () => {
    const m = synth((chart) => mlflow(chart, { extraAllowedHosts: ['mlflow.example.com'] }));
    const c = m.container('Deployment', 'mlflow', 'mlflow', 'ml');
    const hosts = c.args[c.args.indexOf('--allowed-hosts') + 1].split(',');
    expect(hosts).toEqual(expect.arrayContaining(['mlflow', 'mlflow:5000', 'mlflow.ml', 'mlflow.ml.svc:5000', 'mlflow.ml.svc.cluster.local:5000', 'localhost:*', 'mlflow.example.com']));
    expect(hosts).not.toContain('*');
  });

  test('migrates the schema in an init container before serving', () => {
    const m = synth((chart) => mlflow(chart));
    const init = m.container('Deployment', 'mlflow', 'migrate', 'ml');
    expect(init.command).toEqual(['python', '/scripts/migrate.py']);
    expect(m.find('ConfigMap', 'mlflow-migrate', 'ml').data['migrate.py']).toContain('["mlflow", "db", "upgrade", uri]');
    const c = m.container('Deployment', 'mlflow', 'mlflow', 'ml');
    expect(c.readinessProbe.httpGet.path).toBe('/health');
    expect(c.livenessProbe.httpGet.path).toBe('/version');
    expect(c.startupProbe.httpGet.path).toBe('/health');
  });

  test('gets a PodDisruptionBudget that never blocks every eviction once it has replicas', () => {
    const m = synth((chart) => mlflow(chart, { replicas: 2, workers: 4, port: 5050 }));
    expect(m.find('Deployment', 'mlflow', 'ml').spec.replicas).toBe(2);
    expect(m.find('PodDisruptionBudget', 'mlflow', 'ml').spec.maxUnavailable).toBe(1);
    expect(m.find('Service', 'mlflow', 'ml').spec.ports[0].port).toBe(5050);
  });

  test('fails when it would accept any Host header or has no workers', () => {
    expect(() => synth((chart) => mlflow(chart, { extraAllowedHosts: ['*'], workers: 0 }))).toThrow(/workers = 0: must be a whole number of at least 1[\s\S]*extraAllowedHosts\[0\] = "\*": is not a host, host:port, host:\* or \*\.domain\.tld pattern/);
    for (const wildcard of ['*:*', '*.*', '**', ' *', 'mlflow.*']) {
      expect(() => synth((chart) => mlflow(chart, { extraAllowedHosts: [wildcard] }))).toThrow(/would accept any Host header/);
    }
    for (const fine of ['mlflow.example.com', 'mlflow.example.com:443', 'mlflow:*', '*.ml.example.com']) {
      expect(() => synth((chart) => mlflow(chart, { extraAllowedHosts: [fine] }))).not.toThrow();
    }
  });

  test('fails when asked to run as root', () => {
    expect(() => synth((chart) => mlflow(chart, { uid: 0 }))).toThrow(/test\/mlflow: uid = 0: is not a non-root uid/);
  });
});
