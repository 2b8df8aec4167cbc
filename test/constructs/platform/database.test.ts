import { Chart } from 'cdk8s';
import { Connections, CredentialsGenerator, DatabaseChoice, ExternalPostgresDatabase, Platform, PostgresServer, PostgresSslMode, SecretRef } from '../../../constructs';
import { Obj, synth } from '../../support/manifests';

function postgres(chart: Chart, props: Partial<ConstructorParameters<typeof PostgresServer>[2]> = {}) {
  const credentials = new CredentialsGenerator(chart, 'creds', { namespace: 'data', image: 'python:3.13.14-slim', resources: { cpu: '10m', memory: '32Mi', memoryLimit: '64Mi' } });
  return new PostgresServer(chart, 'pg', { namespace: 'data', credentials, ...props });
}

describe('PostgresServer', () => {
  test('runs as uid 70 with data in a PGDATA subdirectory of a retained PVC and writable runtime dirs on emptyDir', () => {
    const m = synth((chart) => postgres(chart));
    const sts = m.find('StatefulSet', 'postgres', 'data');
    expect(sts.spec.template.spec.securityContext).toMatchObject({ runAsUser: 70, runAsGroup: 70, fsGroup: 70, runAsNonRoot: true });
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('5Gi');
    const c = m.container('StatefulSet', 'postgres', 'postgres');
    expect(c.image).toBe('postgres:17.11-alpine3.24');
    expect(m.env('StatefulSet', 'postgres', 'postgres', 'PGDATA').value).toBe('/var/lib/postgresql/data/pgdata');
    expect(c.volumeMounts.map((v: { mountPath: string }) => v.mountPath)).toEqual(['/var/lib/postgresql/data', '/var/run/postgresql', '/tmp']);
    expect(c.readinessProbe.exec.command).toEqual(['pg_isready', '-q', '-h', '127.0.0.1', '-p', '5432']);
    expect(m.env('StatefulSet', 'postgres', 'postgres', 'POSTGRES_USER').valueFrom.secretKeyRef).toEqual({ name: 'postgres-superuser', key: 'username' });
    expect(c.livenessProbe.tcpSocket.port).toBe('postgres');
    expect(m.find('Service', 'postgres', 'data').spec.ports).toEqual([{ name: 'postgres', port: 5432, targetPort: 'postgres', protocol: 'TCP' }]);
  });

  test('creates one role and database per consumer, with passwords only by reference', () => {
    // given
    const m = synth((chart) => {
      const pg = postgres(chart);
      // when
      pg.addDatabase('mlflow');
      pg.addDatabase('argo');
    });
    // then
    const script = m.find('ConfigMap', 'postgres-setup', 'data').data['setup.sh'];
    expect(script).toContain(`SELECT format('CREATE DATABASE %I OWNER %I', 'mlflow', :'u') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow')\\gexec`);
    expect(script).toContain('\\getenv u DB1_USERNAME');
    expect(script).toContain('\\getenv pw DB1_PASSWORD');
    const job = m.findHashed('Job', 'postgres-setup', 'data').metadata.name;
    expect(m.env('Job', job, 'setup', 'DB0_USERNAME').valueFrom.secretKeyRef).toEqual({ name: 'postgres-mlflow', key: 'username' });
    expect(m.env('Job', job, 'setup', 'DB0_PASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'postgres-mlflow', key: 'password' });
    expect(m.env('Job', job, 'setup', 'PGPASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'postgres-superuser', key: 'password' });
  });

  test('grantConnect opens the flow to the server and copies the credentials to the grantee\'s namespace', () => {
    const m = synth((chart) => {
      const db = postgres(chart).addDatabase('mlflow');
      db.grantConnect({ connections: new Connections(chart, 'app', { name: 'app', namespace: 'apps', podSelector: { app: 'x' } }) });
    });
    expect(m.find('NetworkPolicy', 'postgres', 'data').spec.ingress).toEqual([{
      from: expect.arrayContaining([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'apps' } }, podSelector: { matchLabels: { app: 'x' } } }]),
      ports: [{ protocol: 'TCP', port: 5432 }],
    }]);
    const spec = JSON.parse(m.find('ConfigMap', 'cd4ml-credentials', 'data').data['secrets.json']);
    expect(spec.find((s: { name: string }) => s.name === 'postgres-mlflow').namespaces).toEqual(['data', 'apps']);
    expect(m.find('Role', 'cd4ml-credentials', 'apps').rules[1]).toEqual({ apiGroups: [''], resources: ['secrets'], resourceNames: ['postgres-mlflow'], verbs: ['get', 'update'] });
  });

  test('fails when a database is declared twice, is reserved, or is not a plain identifier', () => {
    expect(() => synth((chart) => { const pg = postgres(chart); pg.addDatabase('mlflow'); pg.addDatabase('mlflow'); })).toThrow(/test\/pg: addDatabase\(name\) = "mlflow": is declared twice/);
    expect(() => synth((chart) => postgres(chart).addDatabase('postgres'))).toThrow(/is reserved by Postgres/);
    expect(() => synth((chart) => postgres(chart).addDatabase('ml-flow'))).toThrow(/addDatabase\(name\) = "ml-flow": is not a plain Postgres identifier.*Fix: use a name like "ml_flow"/);
  });

  test('fails on a malformed storage size and bad resources', () => {
    expect(() => synth((chart) => postgres(chart, { storage: 'lots', resources: { cpu: '1', memory: '1Gi', memoryLimit: '512Mi' } }))).toThrow(
      /storage = "lots": is not a Kubernetes quantity[\s\S]*resources.memoryLimit = "512Mi": is below the memory request 1Gi/,
    );
  });
});

describe('ExternalPostgresDatabase', () => {
  test('fails without host, with a bad port, or with credentials lacking keys, all at once', () => {
    expect(() => synth((chart) => new ExternalPostgresDatabase(chart, 'db', { host: '', port: 0, databaseName: 'mlflow', credentials: SecretRef.fromSecretName('pg', ['user']) }))).toThrow(
      /host = "": is required[\s\S]*port = 0: is not a TCP port[\s\S]*lacks the key username[\s\S]*lacks the key password/,
    );
  });

  test('a managed database\'s own CA bundle: MLflow verifies with it as sslrootcert, Argo\'s controller and server as PGSSLROOTCERT', () => {
    const ca = SecretRef.fromSecretName('rds-ca', ['ca.crt']);
    const creds = (name: string) => SecretRef.fromSecretName(name, ['username', 'password']);
    const m = synth((chart) => new Platform(chart, 'platform', {
      database: DatabaseChoice.external({
        trackingServer: { host: 'db.example.internal', databaseName: 'mlflow', credentials: creds('tracking-db'), caCertificate: { secret: ca, key: 'ca.crt' } },
        workflowArchive: { host: 'db.example.internal', databaseName: 'argo', credentials: creds('archive-db'), caCertificate: { secret: ca, key: 'ca.crt' } },
      }),
    }));
    const mlflow = m.find('Deployment', 'mlflow', 'cd4ml').spec.template.spec;
    const volume = { name: 'postgres-ca', secret: { secretName: 'rds-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] } };
    const mount = { name: 'postgres-ca', mountPath: '/etc/cd4ml/postgres-ca', readOnly: true };
    expect(mlflow.volumes).toContainEqual(volume);
    for (const c of [...mlflow.initContainers, ...mlflow.containers]) expect(c.volumeMounts).toContainEqual(mount);
    const uri = mlflow.containers[0].args[mlflow.containers[0].args.indexOf('--backend-store-uri') + 1];
    expect(uri).toBe('postgresql+psycopg2://db.example.internal:5432/mlflow?sslmode=verify-full&sslrootcert=/etc/cd4ml/postgres-ca/ca.crt');
    for (const name of ['workflow-controller', 'argo-server']) {
      const pod = m.find('Deployment', name, 'argo').spec.template.spec;
      expect(pod.volumes).toContainEqual(volume);
      expect(pod.containers[0].volumeMounts).toContainEqual(mount);
      expect(pod.containers[0].env).toContainEqual({ name: 'PGSSLROOTCERT', value: '/etc/cd4ml/postgres-ca/ca.crt' });
    }
    // referenced where it is read, never rendered
    expect(ca.requiredIn).toEqual(['cd4ml', 'argo']);
    expect(m.objects.some((o) => o.kind === 'Secret' && o.metadata.name === 'rds-ca')).toBe(false);
    // without a bundle, the system roots
    const plain = synth((chart) => new Platform(chart, 'platform', { database: DatabaseChoice.external({
      trackingServer: { host: 'db.example.internal', databaseName: 'mlflow', credentials: creds('tracking-db') },
      workflowArchive: { host: 'db.example.internal', databaseName: 'argo', credentials: creds('archive-db') },
    }) }));
    expect(JSON.stringify(plain.find('Deployment', 'mlflow', 'cd4ml'))).toContain('sslmode=verify-full&sslrootcert=system');
    expect(plain.find('Deployment', 'workflow-controller', 'argo').spec.template.spec.volumes).toBeUndefined();
  });

  test('a CA bundle with a key its Secret lacks, or with an sslMode that verifies nothing, is refused', () => {
    const creds = SecretRef.fromSecretName('pg', ['username', 'password']);
    const ca = SecretRef.fromSecretName('rds-ca', ['ca.crt']);
    expect(() => synth((chart) => new ExternalPostgresDatabase(chart, 'db', { host: 'db.example.internal', databaseName: 'mlflow', credentials: creds, caCertificate: { secret: ca, key: 'ca.pem' } }))).toThrow(
      /test\/db: caCertificate.key = "ca.pem": is not a key of the Secret rds-ca. Fix: use one of "ca.crt"/,
    );
    expect(() => synth((chart) => new ExternalPostgresDatabase(chart, 'db', { host: 'db.example.internal', databaseName: 'mlflow', credentials: creds, sslMode: PostgresSslMode.REQUIRE, caCertificate: { secret: ca, key: 'ca.crt' } }))).toThrow(
      /test\/db: sslMode = "require": does not verify the server's certificate, so the CA bundle given would go unused. Fix: use "verify-full"/,
    );
    expect(() => synth((chart) => new ExternalPostgresDatabase(chart, 'db', { host: 'db.example.internal', databaseName: 'mlflow', credentials: creds, caCertificate: 'rds-ca' as never }))).toThrow(
      /caCertificate = "a string": is not a Secret key reference/,
    );
  });
});

describe('PostgresServer backups', () => {
  test('dump every database nightly to their own bucket: Forbid, deadline, history limits, credentials by reference', () => {
    const m = synth((chart) => new Platform(chart, 'platform'));
    const cron = m.find('CronJob', 'postgres-backup', 'cd4ml');
    expect(cron.spec).toMatchObject({ schedule: '0 2 * * *', timeZone: 'UTC', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 600, successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 3 });
    expect(cron.spec.jobTemplate.spec).toMatchObject({ backoffLimit: 2, activeDeadlineSeconds: 3600 });
    expect(cron.spec.jobTemplate.spec.ttlSecondsAfterFinished).toBeUndefined();
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.initContainers[0].env.find((e: Obj) => e.name === 'PGPASSWORD').valueFrom.secretKeyRef).toEqual({ name: 'postgres-superuser', key: 'password' });
    expect(pod.containers[0].env.find((e: Obj) => e.name === 'AWS_SECRET_ACCESS_KEY').valueFrom.secretKeyRef).toEqual({ name: 'seaweedfs-postgres-backup', key: 'AWS_SECRET_ACCESS_KEY' });
    const scripts = m.find('ConfigMap', 'postgres-backup', 'cd4ml').data;
    expect(scripts['dump.sh']).toContain('pg_dump -Fc --no-owner -d "mlflow"');
    expect(scripts['dump.sh']).toContain('pg_dump -Fc --no-owner -d "argo"');
    // uploads under the server's own prefix, and prunes only there: a shared bucket keeps everything else
    expect(scripts['upload.sh']).toContain('python3 /scripts/s3-client.py upload /backup "db-backups" "postgres"');
    expect(scripts['upload.sh']).toContain('python3 /scripts/s3-client.py prune "db-backups" "postgres" 30');
    expect(scripts['s3-client.py']).toContain('def main(');
    // its S3 identity may use only the backup bucket
    const ids = JSON.parse(m.find('ConfigMap', 'seaweedfs-config', 'cd4ml').data['identities.json']).identities;
    expect(ids.find((i: Obj) => i.name === 'postgres-backup').actions).toEqual(['Read:db-backups', 'Write:db-backups', 'List:db-backups']);
  });

  test('can be turned off, and fail when enabled twice', () => {
    expect(synth((chart) => new Platform(chart, 'platform', { databaseBackups: false })).has('CronJob', 'postgres-backup')).toBe(false);
    expect(() => synth((chart) => {
      const p = new Platform(chart, 'platform');
      p.postgres!.enableBackups({ bucket: p.dataBucket });
    })).toThrow(/test\/platform\/Database: enableBackups = true: is called twice/);
  });
});
