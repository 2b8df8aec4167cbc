import { Chart } from 'cdk8s';
import { Connections, CredentialsGenerator, MinioObjectStore, PostgresServer, TrackingServer, TrackingServerProps } from '../../../constructs';
import { synth } from '../../support/manifests';

function mlflow(chart: Chart, props: Partial<TrackingServerProps> = {}) {
  const credentials = new CredentialsGenerator(chart, 'creds', { namespace: 'ml', image: 'python:3.13.14-slim', resources: { cpu: '10m', memory: '32Mi', memoryLimit: '64Mi' } });
  const store = new MinioObjectStore(chart, 'minio', { namespace: 'ml', credentials });
  const pg = new PostgresServer(chart, 'pg', { namespace: 'ml', credentials });
  return new TrackingServer(chart, 'mlflow', { namespace: 'ml', database: pg.addDatabase('mlflow'), artifactBucket: store.addBucket('mlflow-artifacts'), credentials, ...props });
}

describe('TrackingServer', () => {
  test('serves only with MLflow\'s basic-auth: admin, session key and every user from generated Secrets, the users kept in line by the migration', () => {
    let secret = '';
    const m = synth((chart) => {
      const server = mlflow(chart);
      const team = { connections: new Connections(chart, 'team', { name: 'team', namespace: 'apps', podSelector: { app: 'team' } }) };
      secret = server.grantUser(team, 'team').secretName;
    });
    const c = m.container('Deployment', 'mlflow', 'mlflow', 'ml');
    expect(c.args.slice(-2)).toEqual(['--app-name', 'basic-auth']);
    const env = (container: string, name: string) => m.env('Deployment', 'mlflow', container, name);
    expect(env('mlflow', 'MLFLOW_AUTH_CONFIG_PATH').value).toBe('/auth/basic_auth.ini');
    expect(env('mlflow', 'MLFLOW_AUTH_ADMIN_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'mlflow-admin', key: 'MLFLOW_TRACKING_PASSWORD' });
    expect(env('mlflow', 'MLFLOW_FLASK_SERVER_SECRET_KEY').valueFrom.secretKeyRef).toEqual({ name: 'mlflow-flask-secret-key', key: 'MLFLOW_FLASK_SERVER_SECRET_KEY' });
    const ini = m.find('ConfigMap', 'mlflow-auth', 'ml').data['basic_auth.ini'];
    expect(ini).toContain('default_permission = READ');
    expect(ini).toContain('database_uri = postgresql+psycopg2://postgres.ml.svc.cluster.local:5432/mlflow?sslmode=disable');
    expect(ini).not.toMatch(/admin_password/);
    // only the migration holds the users' passwords
    expect(JSON.parse(env('migrate', 'CD4ML_AUTH_USERS').value)).toEqual([
      { usernameEnv: 'CD4ML_USER0_USERNAME', passwordEnv: 'CD4ML_USER0_PASSWORD', admin: true },
      { usernameEnv: 'CD4ML_USER1_USERNAME', passwordEnv: 'CD4ML_USER1_PASSWORD', admin: false },
    ]);
    expect(env('migrate', 'CD4ML_USER1_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'mlflow-user-team', key: 'MLFLOW_TRACKING_PASSWORD' });
    expect(c.env.some((e: { name: string }) => e.name.startsWith('CD4ML_USER'))).toBe(false);
    expect(secret).toBe('mlflow-user-team');
    const spec = JSON.parse(m.find('ConfigMap', 'cd4ml-credentials', 'ml').data['secrets.json']);
    expect(spec.find((s: { name: string }) => s.name === 'mlflow-user-team')).toEqual({ name: 'mlflow-user-team', namespaces: ['ml', 'apps'], keys: { MLFLOW_TRACKING_USERNAME: { literal: 'team' }, MLFLOW_TRACKING_PASSWORD: { random: 32 } } });
    // probes ask /health, the one API path basic-auth leaves open
    expect([c.readinessProbe.httpGet.path, c.livenessProbe.httpGet.path, c.startupProbe.httpGet.path]).toEqual(['/health', '/health', '/health']);
  });

  test('refuses no credentials generator, a bad default permission, and the admin\'s name or a user twice', () => {
    expect(() => synth((chart) => mlflow(chart, { credentials: undefined as never, defaultPermission: 'ALL' as never }))).toThrow(/2 invalid inputs:[\s\S]*defaultPermission = "ALL": is not an MLflow permission[\s\S]*credentials = \(missing\): is not a CredentialsGenerator/);
    expect(() => synth((chart) => {
      const server = mlflow(chart);
      server.grantUser({ connections: new Connections(chart, 'a', { name: 'a', namespace: 'ml', podSelector: {} }) }, 'admin');
    })).toThrow(/grantUser\(user\) = "admin": is the admin's name/);
  });

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
    expect(c.livenessProbe.httpGet.path).toBe('/health');
    expect(c.startupProbe.httpGet.path).toBe('/health');
    // same path, distinct probes: liveness waits longer before a restart than readiness before taking it out
    expect(c.livenessProbe).not.toEqual(c.readinessProbe);
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
