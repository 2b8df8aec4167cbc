import { DatabaseChoice, PostgresSslMode, SecretRef } from '../../constructs';
import { EnvironmentName } from '../../lib';
import { apply, KubeObject } from './support/apply';
import { startContainer } from './support/local-pod';
import { PostgresServer } from './support/postgres';
import { waitFor } from './support/processes';
import { Sandbox } from './support/sandbox';
import { tools } from './support/tools';
import { podTemplate } from './support/workloads';

// The workflow archive against an external Postgres that accepts TLS connections only (as managed databases are
// often set up): the controller, run as its Deployment would with the ConfigMap we render, must connect with the
// sslmode we render, and a verifying mode must refuse a certificate nobody trusts.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const HOST = 'db.example.test';
const ROLE = { username: 'argo', password: 'archive-pw-in-the-tier' };

/** The CA bundle's Secret, when the server's certificate is signed by a CA of its own (as managed databases' are). */
const CA_SECRET = 'cd4ml-archive-db-ca';

function externalSandbox(sslMode: PostgresSslMode, ownCa = false): Sandbox {
  const secret = (name: string) => SecretRef.fromSecretName(name, ['username', 'password']);
  const caCertificate = ownCa ? { secret: SecretRef.fromSecretName(CA_SECRET, ['ca.crt']), key: 'ca.crt' } : undefined;
  return new Sandbox(EnvironmentName.SANDBOX, undefined, {
    database: DatabaseChoice.external({
      trackingServer: { host: HOST, databaseName: 'mlflow', credentials: secret('cd4ml-tracking-db'), sslMode, egressCidr: '127.0.0.0/8', caCertificate },
      workflowArchive: { host: HOST, databaseName: 'argo', credentials: secret('cd4ml-archive-db'), sslMode, egressCidr: '127.0.0.0/8', caCertificate },
    }),
  });
}

async function startWith(sslMode: PostgresSslMode, ownCa = false): Promise<{ sb: Sandbox; pg: PostgresServer; controller: Awaited<ReturnType<typeof startContainer>> }> {
  const sb = externalSandbox(sslMode, ownCa);
  try {
    return await startIn(sb, ownCa);
  } catch (e) {
    await sb.stop();
    throw e;
  }
}

async function startIn(sb: Sandbox, ownCa: boolean): Promise<{ sb: Sandbox; pg: PostgresServer; controller: Awaited<ReturnType<typeof startContainer>> }> {
  await sb.start();
  const argoNs = sb.find('Deployment', 'workflow-controller').metadata.namespace!;
  // the Secret an operator (or Pulumi, from secret config) provides for an external database
  await apply(sb.cp, [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cd4ml-archive-db', namespace: argoNs }, stringData: ROLE } as unknown as KubeObject]);
  const pg = await PostgresServer.start({ password: 'superuser-pw', tls: ownCa ? { caSignedFor: HOST } : true, host: sb.services.external(HOST), port: 5432 });
  // and the provider's CA bundle, as the operator stores it
  if (ownCa) await apply(sb.cp, [{ apiVersion: 'v1', kind: 'Secret', metadata: { name: CA_SECRET, namespace: argoNs }, stringData: { 'ca.crt': pg.caCertificate! } } as unknown as KubeObject]);
  sb.postgres = pg; // stopped with the sandbox
  pg.sql(`CREATE ROLE ${ROLE.username} LOGIN PASSWORD '${ROLE.password}'`);
  pg.sql(`CREATE DATABASE argo OWNER ${ROLE.username}`);
  const controller = sb.track(await startContainer({
    cp: sb.cp, namespace: argoNs, pod: podTemplate(sb.find('Deployment', 'workflow-controller')).spec, container: 'workflow-controller', hosts: sb.hosts(), path: [tools().argo],
  }));
  return { sb, pg, controller };
}

describe('the workflow archive on a Postgres that takes TLS only', () => {
  test('with sslMode require, the controller connects over TLS and migrates the archive', async () => {
    const { sb, pg, controller } = await startWith(PostgresSslMode.REQUIRE);
    try {
      const persistence = JSON.parse(String((sb.find('ConfigMap', 'workflow-controller-configmap').data as Obj).persistence));
      expect(persistence.postgresql).toMatchObject({ host: HOST, ssl: true, sslMode: 'require' });
      await waitFor('the archive tables in the TLS-only server', () => (pg.sql(`SELECT count(*) FROM pg_tables WHERE tablename = 'argo_archived_workflows'`, 'argo') === '1' ? true : undefined), 120000, { proc: controller, intervalMs: 1000 });
      // and the server saw TLS (pg_hba has no plain host line at all)
      expect(pg.sql(`SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = '${ROLE.username}'`)).toBe('t');
    } finally {
      await sb.stop();
    }
  });

  test('with sslMode verify-full (the default for external databases), a certificate that does not verify (self-signed, for another name) is refused', async () => {
    const { sb, pg, controller } = await startWith(PostgresSslMode.VERIFY_FULL);
    try {
      await waitFor('the controller to refuse the certificate', () => (/x509: certificate/.test(controller.tail(200)) ? true : undefined), 120000, { intervalMs: 1000 });
      expect(pg.sql(`SELECT count(*) FROM pg_tables WHERE tablename = 'argo_archived_workflows'`, 'argo')).toBe('0');
    } finally {
      await sb.stop();
    }
  });
  test('with verify-full and the database\'s own CA bundle from a Secret, the controller verifies the certificate against it and migrates the archive', async () => {
    const { sb, pg, controller } = await startWith(PostgresSslMode.VERIFY_FULL, true);
    try {
      const pod = sb.find('Deployment', 'workflow-controller') as Obj;
      expect(pod.spec.template.spec.containers[0].env).toContainEqual({ name: 'PGSSLROOTCERT', value: '/etc/cd4ml/postgres-ca/ca.crt' });
      await waitFor('the archive tables in the server the CA vouches for', () => (pg.sql(`SELECT count(*) FROM pg_tables WHERE tablename = 'argo_archived_workflows'`, 'argo') === '1' ? true : undefined), 120000, { proc: controller, intervalMs: 1000 });
      expect(pg.sql(`SELECT bool_and(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE usename = '${ROLE.username}'`)).toBe('t');
      expect(controller.tail(200)).not.toMatch(/x509: certificate/);
    } finally {
      await sb.stop();
    }
  });
});
