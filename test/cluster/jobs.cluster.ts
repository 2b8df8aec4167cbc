import { readdirSync } from 'fs';
import { join } from 'path';
import { get } from './support/apply';
import { run } from './support/processes';
import { tools } from './support/tools';
import { podsOf } from './support/workloads';
import { Sandbox } from './support/sandbox';

// Our Jobs' scripts, run as the Jobs would run them (their command, env, mounted ConfigMaps and Secrets, their
// service account's token, their non-root uid) against the real API server and the real Postgres.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('the sandbox platform\'s Jobs on real servers', () => {
  const sb = new Sandbox();
  const credentialsJob = sb.find('Job', /^cd4ml-credentials-/);
  const spec: Array<{ name: string; namespaces: string[]; keys: Record<string, unknown> }> = JSON.parse(String((sb.find('ConfigMap', 'cd4ml-credentials').data as Obj)['secrets.json']));

  beforeAll(async () => { await sb.start(); });
  afterAll(async () => { await sb.stop(); });

  test('the credentials generator creates every Secret it manages, with its own token', async () => {
    // when the Job's container runs as its service account
    const r = await sb.runJob(credentialsJob, 'generate');
    // then it succeeded and every Secret exists with every key, in every namespace listed
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    for (const s of spec) {
      for (const ns of s.namespaces) {
        const data = await sb.secret(ns, s.name);
        expect({ secret: `${ns}/${s.name}`, keys: Object.keys(data).sort() }).toEqual({ secret: `${ns}/${s.name}`, keys: Object.keys(s.keys).sort() });
      }
    }
    // copies hold the same values as the first
    const argoDb = spec.find((s) => s.name === 'postgres-argo')!;
    expect(await sb.secret(argoDb.namespaces[1], 'postgres-argo')).toEqual(await sb.secret(argoDb.namespaces[0], 'postgres-argo'));
    // no value appears in what it printed
    const values = (await sb.secret('cd4ml', 'postgres-superuser')).password;
    expect(r.stdout).not.toContain(values);
  });

  test('it is idempotent: a rerun keeps every value and restores a deleted copy', async () => {
    const before = await sb.secret('argo', 'postgres-argo');
    const del = await sb.cp.api('DELETE', '/api/v1/namespaces/argo/secrets/postgres-argo');
    expect(del.status).toBe(200);
    const r = await sb.runJob(credentialsJob, 'generate');
    expect(r.status).toBe(0);
    expect(await sb.secret('argo', 'postgres-argo')).toEqual(before);
    expect(await sb.secret('cd4ml', 'postgres-argo')).toEqual(before);
  });

  test('Postgres setup creates one database and role per consumer, again without change on a rerun', async () => {
    const pg = await sb.startPostgres();
    const roles = pg.sql(`SELECT string_agg(datname || ':' || pg_get_userbyid(datdba), ',' ORDER BY datname) FROM pg_database WHERE datname IN ('mlflow', 'argo')`);
    expect(roles).toBe('argo:argo,mlflow:mlflow');
    const again = await sb.runJob(sb.find('Job', /^postgres-setup-/), 'setup');
    expect({ status: again.status, stderr: again.stderr }).toEqual({ status: 0, stderr: '' });
    // a consumer's role cannot open another consumer's database
    expect(pg.sql(`SELECT has_database_privilege('argo', 'mlflow', 'CONNECT')`)).toBe('f');
  });

  test('the nightly backup dumps every database as its CronJob would, and the README\'s restore brings a dropped table back', async () => {
    // given a table with a row in MLflow's database
    const pg = sb.postgres!;
    pg.sql('CREATE TABLE backup_probe (id int primary key, note text); INSERT INTO backup_probe VALUES (1, \'kept\');', 'mlflow');
    // when the CronJob's dump container runs (its upload container runs against the real object store in object-store.cluster.ts)
    const dump = await sb.runJob(sb.find('CronJob', 'postgres-backup'), 'dump');
    expect({ status: dump.status, stderr: dump.stderr }).toEqual({ status: 0, stderr: '' });
    const [stamp] = readdirSync(join(dump.volumes, 'backup'));
    expect(readdirSync(join(dump.volumes, 'backup', stamp)).sort()).toEqual(['argo.dump', 'mlflow.dump']);
    // then the documented restore (pg_restore --clean --if-exists -d <database> <dump>) brings the table back
    pg.sql('DROP TABLE backup_probe', 'mlflow');
    const file = join(dump.volumes, 'backup', stamp, 'mlflow.dump');
    run('chmod', ['-R', 'a+rX', dump.volumes]);
    run('runuser', ['-u', 'postgres', '--', join(tools().postgres, 'pg_restore'), '--clean', '--if-exists', '-h', pg.dir, '-p', String(pg.port), '-U', 'postgres', '-d', 'mlflow', file]);
    expect(pg.sql('SELECT note FROM backup_probe WHERE id = 1', 'mlflow')).toBe('kept');
  });

  test('the Job pods the controller makes mount only Secrets and ConfigMaps that now exist', async () => {
    const pods = [...(await podsOf(sb.cp, sb.platformObjects.filter((o) => o.metadata.namespace === 'cd4ml'))).values()].flatMap((w) => w.pods);
    expect(pods.length).toBeGreaterThanOrEqual(6);
    const missing: string[] = [];
    for (const p of pods) {
      for (const v of (p.spec.volumes ?? []) as Obj[]) {
        if (v.secret && !(await get(sb.cp, 'v1', 'Secret', 'cd4ml', v.secret.secretName))) missing.push(`${p.metadata.name}: Secret ${v.secret.secretName}`);
        if (v.configMap && !(await get(sb.cp, 'v1', 'ConfigMap', 'cd4ml', v.configMap.name))) missing.push(`${p.metadata.name}: ConfigMap ${v.configMap.name}`);
      }
      for (const c of [...(p.spec.initContainers ?? []), ...p.spec.containers] as Obj[]) {
        for (const e of (c.env ?? []) as Obj[]) {
          const ref = e.valueFrom?.secretKeyRef;
          if (ref && !(await get(sb.cp, 'v1', 'Secret', 'cd4ml', ref.name))) missing.push(`${p.metadata.name}/${c.name}: env ${e.name} from Secret ${ref.name}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});
