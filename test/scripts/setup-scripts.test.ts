import { execFileSync, spawnSync } from 'child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { Platform } from '../../constructs';
import { Obj, synth } from '../support/manifests';

// What the setup Jobs run is code: check it as code, and run the SQL against a real Postgres.
const m = synth((chart) => new Platform(chart, 'platform'));
const scripts = m.all('ConfigMap').flatMap((cm: Obj) => Object.entries<string>(cm.data ?? {}).filter(([k]) => /\.(sh|py)$/.test(k)).map(([k, v]) => ({ cm: cm.metadata.name, file: k, text: v })));

test.each(scripts.map((s) => [`${s.cm}/${s.file}`, s]))('%s is valid code', (_, s) => {
  const dir = mkdtempSync(join(tmpdir(), 'cd4ml-script-'));
  try {
    const file = join(dir, s.file);
    writeFileSync(file, s.text);
    const run = s.file.endsWith('.sh') ? spawnSync('dash', ['-n', file], { encoding: 'utf8' }) : spawnSync('python3', ['-c', 'import ast,sys; ast.parse(open(sys.argv[1]).read())', file], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('there are scripts to check', () => {
  expect(scripts.map((s) => s.file).sort()).toEqual(['dump.sh', 'generate-credentials.py', 'migrate.py', 's3-client.py', 's3-client.py', 'seaweedfs-config.py', 'setup.sh', 'setup.sh', 'upload.sh']);
});

/** The directory of the Postgres server binaries (Debian's postgresql package). */
function postgresBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort() : [];
  if (versions.length === 0) throw new Error('no Postgres server binaries: install them with `apt-get install -y postgresql` (.ci/run does)');
  return join(base, versions[versions.length - 1], 'bin');
}

describe('the Postgres setup script, against a real server', () => {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'cd4ml-pg-'));
  const port = String(20000 + (process.pid % 20000));
  const superPassword = 'super-secret-for-this-test-only';
  const asPostgres = (cmd: string, args: string[]) => {
    const isRoot = process.getuid?.() === 0;
    return execFileSync(isRoot ? 'runuser' : join(bin, cmd), isRoot ? ['-u', 'postgres', '--', join(bin, cmd), ...args] : args, { encoding: 'utf8', cwd: dir });
  };
  const script = m.find('ConfigMap', 'postgres-setup', 'cd4ml').data['setup.sh'];
  const env = (extra: Record<string, string>) => ({ ...process.env, PATH: `${bin}:${process.env.PATH}`, PGHOST: '127.0.0.1', PGPORT: port, PGDATABASE: 'postgres', PGUSER: 'postgres', PGPASSWORD: superPassword, ...extra });
  const runSetup = (extra: Record<string, string>) => spawnSync('sh', [join(dir, 'setup.sh')], { env: env(extra), encoding: 'utf8' });
  const psql = (user: string, password: string, db: string, sql: string) => spawnSync(join(bin, 'psql'), ['-q', '-v', 'ON_ERROR_STOP=1', '-tAc', sql], { env: env({ PGUSER: user, PGPASSWORD: password, PGDATABASE: db }), encoding: 'utf8' });

  beforeAll(() => {
    if (process.getuid?.() === 0) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'pw'), superPassword);
    chmodSync(join(dir, 'pw'), 0o644);
    writeFileSync(join(dir, 'setup.sh'), script);
    asPostgres('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${join(dir, 'pw')}`]);
    asPostgres('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, '-w', 'start']);
  });

  afterAll(() => {
    try {
      asPostgres('pg_ctl', ['-D', join(dir, 'data'), '-m', 'fast', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('creates roles named by their Secrets, one database each, idempotently, and keeps passwords in sync', () => {
    // given Secrets whose role names differ from the database names (as a GitOps user may supply them)
    const secrets = { DB0_USERNAME: 'ml_tracking', DB0_PASSWORD: 'first-password', DB1_USERNAME: 'argo', DB1_PASSWORD: 'argo-password' };
    // when the Job runs, and runs again
    for (const attempt of [1, 2]) {
      const run = runSetup(secrets);
      expect({ attempt, status: run.status, stderr: run.stderr }).toEqual({ attempt, status: 0, stderr: '' });
    }
    // then each role logs in with its password, owns its database and can create tables there
    expect(psql('ml_tracking', 'first-password', 'mlflow', 'CREATE TABLE t (x int); SELECT current_user').stdout.trim()).toBe('ml_tracking');
    expect(psql('argo', 'argo-password', 'argo', "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'argo'").stdout.trim()).toBe('argo');
    // and no role reaches another's database
    expect(psql('argo', 'argo-password', 'mlflow', 'SELECT 1').stderr).toMatch(/permission denied for database "mlflow"/);
    // and a rotated password takes effect on the next run
    expect(runSetup({ ...secrets, DB0_PASSWORD: 'rotated-password' }).status).toBe(0);
    expect(psql('ml_tracking', 'rotated-password', 'mlflow', 'SELECT 1').stdout.trim()).toBe('1');
    expect(psql('ml_tracking', 'first-password', 'mlflow', 'SELECT 1').status).not.toBe(0);
  });

  test('the backup dumps every database, and the documented restore brings lost data back', () => {
    // given a database with data
    const secrets = { DB0_USERNAME: 'mlflow', DB0_PASSWORD: 'pw-mlflow', DB1_USERNAME: 'argo', DB1_PASSWORD: 'pw-argo' };
    expect(runSetup(secrets).status).toBe(0);
    expect(psql('mlflow', 'pw-mlflow', 'mlflow', "CREATE TABLE runs (id text); INSERT INTO runs VALUES ('run-1')").status).toBe(0);
    // when the backup's dump step runs
    const dump = m.find('ConfigMap', 'postgres-backup', 'cd4ml').data['dump.sh'];
    writeFileSync(join(dir, 'dump.sh'), dump);
    const backupDir = join(dir, 'backups');
    const run = spawnSync('sh', [join(dir, 'dump.sh')], { env: env({ BACKUP_DIR: backupDir }), encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const [stamp] = readdirSync(backupDir);
    expect(readdirSync(join(backupDir, stamp)).sort()).toEqual(['argo.dump', 'mlflow.dump']);
    // and the data is lost
    expect(psql('mlflow', 'pw-mlflow', 'mlflow', 'DROP TABLE runs').status).toBe(0);
    // then the README's restore command brings it back
    const restore = spawnSync(join(bin, 'pg_restore'), ['--clean', '--if-exists', '--no-owner', '--role=mlflow', '-d', 'mlflow', join(backupDir, stamp, 'mlflow.dump')], { env: env({}), encoding: 'utf8' });
    expect(restore.status).toBe(0);
    expect(psql('mlflow', 'pw-mlflow', 'mlflow', 'SELECT id FROM runs').stdout.trim()).toBe('run-1');
  });
});
