import { createHash } from 'crypto';
import { readFileSync, writeFileSync } from 'fs';
import { connect } from 'net';
import { join } from 'path';
import { runContainer } from './support/local-pod';
import { run, scratch } from './support/processes';
import { s3Call, S3Keys, s3Keys } from './support/s3';
import { Sandbox } from './support/sandbox';
import { tools } from './support/tools';
import { podTemplate } from './support/workloads';

// The default object store (SeaweedFS) as its StatefulSet runs it: the identities file its init container writes
// from the generated Secrets, `weed` with the rendered args, the bucket setup Job; then what each identity may do,
// and the nightly backup's upload and prune, run as the CronJob runs them, against it.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('the default object store on real servers', () => {
  const sb = new Sandbox();
  const ns = sb.find('StatefulSet', 'seaweedfs').metadata.namespace!;
  const runnerEnv = sb.find('ConfigMap', 'pipeline-defaults').data as Record<string, string>;
  const buckets = {
    data: runnerEnv.CD4ML_BUCKET_DATA,
    workflow: JSON.parse((sb.find('ConfigMap', 'workflow-controller-configmap').data as Record<string, string>).artifactRepository).s3.bucket as string,
    tracking: 'mlflow-artifacts',
    backups: 'db-backups',
  };
  let store: { endpoint: string; setup: string; identities: string };
  const keys = new Map<string, S3Keys>();

  beforeAll(async () => {
    await sb.start();
    const creds = await sb.runJob(sb.find('Job', /^cd4ml-credentials-/), 'generate');
    if (creds.status !== 0) throw new Error(`credentials Job: ${creds.stderr}`);
    store = await sb.startObjectStore();
    for (const user of ['admin', 'mlflow', 'workflows', 'pipelines', 'postgres-backup']) keys.set(user, s3Keys(await sb.secret(ns, `seaweedfs-${user}`)));
  }, 300000);
  afterAll(async () => { await sb.stop(); });

  test('the init container writes every identity from its Secret, and the setup Job creates the buckets, again without change', async () => {
    expect(store.identities.trim().replace(/: (.*)$/, (_m, names: string) => `: ${names.split(', ').sort().join(', ')}`)).toBe('wrote 5 identities: admin, mlflow, pipelines, postgres-backup, workflows');
    expect(store.setup.trim().split('\n').sort()).toEqual(Object.values(buckets).map((b) => `created bucket ${b}`).sort());
    const again = await sb.runJob(sb.find('Job', /^seaweedfs-setup-/), 'setup');
    expect({ status: again.status, stdout: again.stdout.trim().split('\n').sort(), stderr: again.stderr }).toEqual({ status: 0, stdout: Object.values(buckets).map((b) => `kept bucket ${b}`).sort(), stderr: '' });
    // every key is random: no access key is a user's name
    expect([...keys.values()].map((k) => k.accessKey).filter((k) => !/^[A-Za-z0-9]{20}$/.test(k))).toEqual([]);
  });

  test('each identity reads, writes and lists its own buckets only, and none but the admin creates a bucket', () => {
    const can = (user: string, bucket: string) => {
      const k = keys.get(user)!;
      const put = s3Call(store.endpoint, k, 'put_object', { Bucket: bucket, Key: `probe/${user}`, Body: 'x' });
      const list = s3Call(store.endpoint, k, 'list_objects_v2', { Bucket: bucket, Prefix: 'probe/' });
      const get = s3Call(store.endpoint, keys.get('admin')!, 'put_object', { Bucket: bucket, Key: 'probe/admin', Body: 'y' }).ok
        ? s3Call(store.endpoint, k, 'get_object', { Bucket: bucket, Key: 'probe/admin' }) : undefined;
      const del = s3Call(store.endpoint, k, 'delete_object', { Bucket: bucket, Key: 'probe/admin' });
      s3Call(store.endpoint, keys.get('admin')!, 'delete_object', { Bucket: bucket, Key: `probe/${user}` });
      return [put, list, get, del].map((r) => (r?.ok ? 'ok' : r?.code)).join(',');
    };
    const table: Record<string, Record<string, string>> = {};
    for (const user of ['mlflow', 'workflows', 'pipelines', 'postgres-backup']) table[user] = Object.fromEntries(Object.entries(buckets).map(([role, b]) => [role, can(user, b)]));
    const ok = 'ok,ok,ok,ok';
    const no = 'AccessDenied,AccessDenied,AccessDenied,AccessDenied';
    expect(table).toEqual({
      mlflow: { data: no, workflow: no, tracking: ok, backups: no },
      // Argo's artifact repository apart from the steps: a step cannot rewrite archived logs and artifacts
      workflows: { data: no, workflow: ok, tracking: no, backups: no },
      pipelines: { data: ok, workflow: no, tracking: no, backups: no },
      'postgres-backup': { data: no, workflow: no, tracking: no, backups: ok },
    });
    expect(s3Call(store.endpoint, keys.get('pipelines')!, 'create_bucket', { Bucket: 'exfiltration' })).toMatchObject({ ok: false, code: 'AccessDenied' });
    expect(s3Call(store.endpoint, keys.get('pipelines')!, 'list_buckets')).not.toMatchObject({ ok: true, response: { Buckets: expect.arrayContaining([expect.objectContaining({ Name: buckets.tracking })]) } });
  });

  test('a valid access key without its secret cannot write (the class of MinIO\'s CVE-2026-41145)', () => {
    const pipelines = keys.get('pipelines')!;
    const forged = s3Call(store.endpoint, { accessKey: pipelines.accessKey, secretKey: 'not-the-secret-key-at-all-0000000000000' }, 'put_object', { Bucket: buckets.data, Key: 'forged', Body: 'x' });
    expect(forged).toMatchObject({ ok: false, code: 'SignatureDoesNotMatch' });
    const anonymous = run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', '--data', 'x', `${store.endpoint}/${buckets.data}/anonymous`], { allowFail: true });
    expect(anonymous.stdout).toBe('403');
    expect(s3Call(store.endpoint, keys.get('admin')!, 'head_object', { Bucket: buckets.data, Key: 'forged' })).toMatchObject({ ok: false });
  });

  test('master, volume server and filer do not answer at the Service\'s address: only S3 does', async () => {
    const host = new URL(store.endpoint).hostname;
    const open = (port: number) => new Promise<boolean>((resolve) => {
      const s = connect({ host, port, timeout: 3000 }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
      s.on('timeout', () => { s.destroy(); resolve(false); });
    });
    const ports = [9333, 19333, 8080, 18080, 8888, 18888, Number(new URL(store.endpoint).port)];
    const reachable = Object.fromEntries(await Promise.all(ports.map(async (p) => [p, await open(p)] as const)));
    expect(reachable).toEqual({ 9333: false, 19333: false, 8080: false, 18080: false, 8888: false, 18888: false, [new URL(store.endpoint).port]: true });
  });

  test('the nightly backup uploads under its prefix and prunes only its own expired dumps, in a bucket it shares', async () => {
    await sb.startPostgres();
    const admin = keys.get('admin')!;
    // given someone else's object, a stray object under our prefix, and one of our dumps from long ago
    for (const key of ['other-team/keep-me.txt', 'postgres/README.txt', 'postgres/20200101T000000Z/mlflow.dump']) {
      expect(s3Call(store.endpoint, admin, 'put_object', { Bucket: buckets.backups, Key: key, Body: 'old' })).toMatchObject({ ok: true });
    }
    // when the CronJob's pod runs: the dump container, then the upload container on the same volume
    const cron = sb.find('CronJob', 'postgres-backup');
    const pod = podTemplate(cron).spec;
    const podDir = scratch('pod-backup');
    const common = { cp: sb.cp, namespace: cron.metadata.namespace!, pod, hosts: sb.hosts(), podDir, path: [join(tools().python, 'bin'), tools().postgres] };
    const dump = await runContainer({ ...common, container: 'dump' });
    expect({ status: dump.status, stderr: dump.stderr }).toEqual({ status: 0, stderr: '' });
    const upload = await runContainer({ ...common, container: 'upload' });
    expect({ status: upload.status, stderr: upload.stderr }).toEqual({ status: 0, stderr: '' });
    // then today's dumps are under postgres/<time>/, the expired one is gone, and nothing else was touched
    const listed = s3Call(store.endpoint, admin, 'list_objects_v2', { Bucket: buckets.backups });
    const stored = listed.ok ? (listed.response.Contents as Obj[]).map((o) => o.Key as string).sort() : [];
    expect(stored.filter((k) => !/^postgres\/\d{8}T\d{6}Z\//.test(k))).toEqual(['other-team/keep-me.txt', 'postgres/README.txt']);
    expect(stored.filter((k) => /^postgres\/\d{8}T\d{6}Z\//.test(k)).map((k) => k.replace(/\d{8}T\d{6}Z/, 'T'))).toEqual(['postgres/T/argo.dump', 'postgres/T/mlflow.dump']);
    expect(upload.stdout).toMatch(/pruned 1 dump files older than 30 days under s3:\/\/db-backups\/postgres\/, kept 2/);
  });

  test('the backup client uploads a dump larger than one part in parts, byte for byte', () => {
    const dir = scratch('multipart');
    const file = join(dir, '20261204T000000Z', 'big.dump');
    run('mkdir', ['-p', join(dir, '20261204T000000Z')]);
    const bytes = Buffer.alloc(17 * 1024 * 1024 + 123);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i % 251;
    writeFileSync(file, bytes);
    const k = keys.get('postgres-backup')!;
    const r = run(join(tools().python, 'bin', 'python'), [join(__dirname, '..', '..', 'constructs', 'platform', 's3-client.py'), 'upload', dir, buckets.backups, 'multipart-probe'], {
      env: { PATH: process.env.PATH, S3_URL: store.endpoint, AWS_ACCESS_KEY_ID: k.accessKey, AWS_SECRET_ACCESS_KEY: k.secretKey }, allowFail: true,
    });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const head = s3Call(store.endpoint, k, 'head_object', { Bucket: buckets.backups, Key: 'multipart-probe/20261204T000000Z/big.dump' });
    expect(head.ok && { length: head.response.ContentLength, multipart: /-\d+"?$/.test(String(head.response.ETag)) }).toEqual({ length: bytes.length, multipart: true });
  });

  test('Argo\'s own S3 artifact driver, configured from the rendered artifact repository, saves, lists, loads and deletes as the workflows identity, and nowhere else', () => {
    // the repository exactly as the controller ConfigMap renders it; only the Service's name is swapped for the
    // address the tier serves it at (no cluster DNS here)
    const rendered = JSON.parse((sb.find('ConfigMap', 'workflow-controller-configmap').data as Record<string, string>).artifactRepository);
    expect(rendered.s3).toMatchObject({ bucket: buckets.workflow, insecure: true, accessKeySecret: { name: 'seaweedfs-workflows' }, secretKeySecret: { name: 'seaweedfs-workflows' } });
    const repo = (bucket: string) => JSON.stringify({ s3: { ...rendered.s3, bucket, endpoint: new URL(store.endpoint).host } });
    const probe = (k: S3Keys, bucket: string, ...args: string[]) => {
      const r = run(join(tools().argo, 's3probe'), [repo(bucket), ...args], { env: { PATH: process.env.PATH, HOME: scratch('s3probe-home'), AWS_ACCESS_KEY_ID: k.accessKey, AWS_SECRET_ACCESS_KEY: k.secretKey }, allowFail: true });
      if (r.status !== 0) throw new Error(`s3probe ${args.join(' ')}: ${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; keys?: string[]; error?: string };
    };
    const k = keys.get('workflows')!;
    // an output artifact as argoexec saves it: a tarball, and a directory (uploaded object by object)
    const dir = scratch('argo-artifacts');
    writeFileSync(join(dir, 'model.tgz'), Buffer.alloc(3 * 1024 * 1024 + 7, 7));
    run('mkdir', ['-p', join(dir, 'report', 'plots')]);
    writeFileSync(join(dir, 'report', 'metrics.json'), '{"roc_auc": 0.99}');
    writeFileSync(join(dir, 'report', 'plots', 'roc.txt'), 'curve');
    const prefix = 'breast-cancer-abc12/breast-cancer-abc12-train-123';
    expect(probe(k, buckets.workflow, 'save', `${prefix}/model.tgz`, join(dir, 'model.tgz'))).toEqual({ ok: true });
    expect(probe(k, buckets.workflow, 'save', `${prefix}/report`, join(dir, 'report'))).toEqual({ ok: true });
    expect(probe(k, buckets.workflow, 'list', prefix).keys?.sort()).toEqual([`${prefix}/model.tgz`, `${prefix}/report/metrics.json`, `${prefix}/report/plots/roc.txt`]);
    // an input artifact as argoexec loads it, byte for byte
    const back = join(scratch('argo-load'), 'model.tgz');
    expect(probe(k, buckets.workflow, 'load', `${prefix}/model.tgz`, back)).toEqual({ ok: true });
    expect(readFileSync(back).equals(readFileSync(join(dir, 'model.tgz')))).toBe(true);
    // artifact GC's delete
    expect(probe(k, buckets.workflow, 'delete', `${prefix}/model.tgz`)).toEqual({ ok: true });
    expect(probe(k, buckets.workflow, 'list', `${prefix}/model.tgz`).keys ?? []).toEqual([]);
    // the same driver, the same identity, another bucket: refused
    const elsewhere = probe(k, buckets.data, 'save', 'intruder.tgz', join(dir, 'report', 'metrics.json'));
    expect({ ok: elsewhere.ok, denied: /Access Denied|AccessDenied/i.test(elsewhere.error ?? '') }).toEqual({ ok: false, denied: true });
  });

  describe('a multipart completion whose answer is lost', () => {
    // The client as the CronJob runs it, through a seam on each HTTP exchange: the first CompleteMultipartUpload's
    // answer is lost (a connection reset) after the server acted on it, or before it reached the server; the
    // client's own retry then goes to the real server, or is answered NoSuchUpload as AWS and MinIO answer an upload
    // that was already completed (SeaweedFS answers a repeated completion 200 again).
    const bytes = Buffer.alloc(16 * 1024 * 1024 + 4097);
    for (let i = 0; i < bytes.length; i += 512) bytes[i] = (i >> 9) % 253;
    const lossy = join(scratch('lossy'), 'lossy.py');
    writeFileSync(lossy, [
      'import importlib.util, os, sys',
      'spec = importlib.util.spec_from_file_location("s3client", sys.argv[1])',
      'm = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)',
      'import http.client',
      'real, mode, seen = m.Client._exchange, os.environ["MODE"], []',
      'def lossy(self, method, target, body, headers):',
      '    if method == "POST" and "uploadId=" in target:',
      '        seen.append(1)',
      '        if len(seen) == 1 and mode == "internal-error":',
      '            print("answered the first completion 200 InternalError, unsent")',
      '            return 200, lambda h: None, b"<Error><Code>InternalError</Code><Message>try again</Message></Error>"',
      '        if len(seen) == 1 and mode == "cut-short":',
      '            print("cut short the answer ({}) to the first completion".format(real(self, method, target, body, headers)[0]))',
      '            raise http.client.IncompleteRead(b"<Complete")',
      '        if len(seen) == 1:',
      '            if mode != "never-sent": print("dropped the answer ({}) to the first completion".format(real(self, method, target, body, headers)[0]))',
      '            raise ConnectionResetError("connection reset")',
      '        if mode in ("no-such-upload", "never-sent"): return 404, lambda h: None, b"<Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>"',
      '    return real(self, method, target, body, headers)',
      'm.Client._exchange = lossy',
      'm.cli(sys.argv[2:])',
    ].join('\n'));
    const upload = (mode: string) => {
      const dir = scratch(`lost-${mode}`);
      run('mkdir', ['-p', join(dir, '20261204T000000Z')]);
      writeFileSync(join(dir, '20261204T000000Z', 'big.dump'), bytes);
      const k = keys.get('postgres-backup')!;
      const r = run(join(tools().python, 'bin', 'python'), [lossy, join(__dirname, '..', '..', 'constructs', 'platform', 's3-client.py'), 'upload', dir, buckets.backups, mode], {
        env: { PATH: process.env.PATH, MODE: mode, S3_URL: store.endpoint, AWS_ACCESS_KEY_ID: k.accessKey, AWS_SECRET_ACCESS_KEY: k.secretKey }, allowFail: true,
      });
      const head = s3Call(store.endpoint, k, 'head_object', { Bucket: buckets.backups, Key: `${mode}/20261204T000000Z/big.dump` });
      return { status: r.status, stdout: r.stdout.trim().split('\n'), stderr: r.stderr.trim(), head: head.ok ? { length: head.response.ContentLength, etag: String(head.response.ETag).replace(/"/g, '') } : head.code };
    };
    // the object is the two parts, whole: its size, and its multipart ETag computed here from our bytes
    const part = 16 * 1024 * 1024;
    const md5 = (b: Buffer) => createHash('md5').update(b).digest();
    const whole = { length: bytes.length, etag: `${createHash('md5').update(Buffer.concat([md5(bytes.subarray(0, part)), md5(bytes.subarray(part))])).digest('hex')}-2` };
    const uploaded = (mode: string) => `uploaded s3://${buckets.backups}/${mode}/20261204T000000Z/big.dump (${bytes.length} bytes)`;

    test('retried at the real server, the backup succeeds', () => {
      expect(upload('real-retry')).toEqual({ status: 0, stdout: ['dropped the answer (200) to the first completion', uploaded('real-retry')], stderr: '', head: whole });
    });

    test('answered NoSuchUpload on the retry, the client checks the stored object is whole and succeeds', () => {
      expect(upload('no-such-upload')).toEqual({
        status: 0, stdout: ['dropped the answer (200) to the first completion', uploaded('no-such-upload')],
        stderr: `s3://${buckets.backups}/no-such-upload/20261204T000000Z/big.dump: the upload was completed by an attempt whose answer was lost`, head: whole,
      });
    });

    test('answered 200 with an InternalError in the body, the completion is retried and the backup succeeds', () => {
      expect(upload('internal-error')).toEqual({ status: 0, stdout: ['answered the first completion 200 InternalError, unsent', uploaded('internal-error')], stderr: '', head: whole });
    });

    test('an answer cut short in its body is retried like a reset, and the backup succeeds', () => {
      expect(upload('cut-short')).toEqual({ status: 0, stdout: ['cut short the answer (200) to the first completion', uploaded('cut-short')], stderr: '', head: whole });
    });

    test('when the completion never reached the server, NoSuchUpload fails the backup: no object, no success', () => {
      const r = upload('never-sent');
      expect({ status: r.status, stderr: r.stderr, head: r.head }).toEqual({ status: 1, stderr: 'S3: HTTP 404 NoSuchUpload: gone', head: '404' });
    });
  });
});
