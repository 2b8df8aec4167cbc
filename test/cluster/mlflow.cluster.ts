import type { KubeObject } from './support/apply';
import { existsSync, readFileSync } from 'fs';
import { request } from 'http';
import { dirname, join, relative } from 'path';
import { startContainer } from './support/local-pod';
import { Started, waitFor } from './support/processes';
import { s3Call, S3Keys, s3Keys } from './support/s3';
import { Sandbox } from './support/sandbox';
import { tools } from './support/tools';
import { podTemplate } from './support/workloads';

// The MLflow tracking server as its Deployment runs it (the migrate init container, then the server with its args,
// env and Secrets) against the real Postgres and an S3 server at the object store's Service address, and the seed
// pipeline's step programs run as the WorkflowTemplate renders them (command, args with the parameters Argo would
// substitute, the controller's main-container defaults and the template's env, the pod's uid and /tmp emptyDir),
// talking to both through the Service names the platform renders.

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const tail = (log: string, lines = 12) => log.trimEnd().split('\n').slice(-lines).join('\n');
const ROOT = join(__dirname, '..', '..');

describe('MLflow and the seed pipeline\'s steps on real servers', () => {
  const sb = new Sandbox();
  const platformNs = sb.find('Deployment', 'mlflow').metadata.namespace!;
  const mlflowDeployment = sb.find('Deployment', 'mlflow');
  const mlflowService = sb.find('Service', 'mlflow');
  const mlflowPort: number = (mlflowService.spec as Obj).ports[0].port;
  const template = sb.find('WorkflowTemplate', 'breast-cancer');
  const pipelinesNs = template.metadata.namespace!;
  const controllerConfig = sb.find('ConfigMap', 'workflow-controller-configmap').data as Record<string, string>;
  // the tracking server's artifact bucket, as its args render it
  const mlflowArgs: string[] = podTemplate(mlflowDeployment).spec.containers.find((c: Obj) => c.name === 'mlflow').args;
  const artifactBucket = /^s3:\/\/([^/]+)/.exec(mlflowArgs[mlflowArgs.indexOf('--artifacts-destination') + 1])![1];
  const mlflowHost = `mlflow.${platformNs}.svc.cluster.local:${mlflowPort}`;
  // the bucket the runner names for data (what prepare_data writes to)
  const dataBucket = (sb.find('ConfigMap', 'pipeline-defaults').data as Record<string, string>).CD4ML_BUCKET_DATA;

  let s3: { endpoint: string };
  let admin: S3Keys;
  const identities = new Map<string, S3Keys>(); // by Secret name
  let server: Started;
  let pyBin: string;

  /** The admin's `Authorization` header, from the generated Secret the server reads its admin from. */
  let adminAuth = '';
  /**
   * A request to the tracking server at its Service address, with a Host header (the Service's name by default),
   * signed in as the admin unless `auth` says otherwise (`''`: anonymous).
   */
  const mlflowCall = (method: string, path: string, o: { host?: string; auth?: string; body?: Obj } = {}): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
    const auth = o.auth ?? adminAuth;
    const headers: Record<string, string> = { host: o.host ?? mlflowHost, ...(auth ? { authorization: auth } : {}), ...(o.body ? { 'content-type': 'application/json' } : {}) };
    const req = request({ host: sb.services.address('mlflow', platformNs), port: mlflowPort, path, method, headers, agent: false, timeout: 30000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(o.body ? JSON.stringify(o.body) : undefined);
  });
  const mlflowGet = (path: string, host = mlflowHost) => mlflowCall('GET', path, { host });
  const mlflowJson = async (path: string): Promise<Obj> => {
    const r = await mlflowGet(path);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body}`);
    return JSON.parse(r.body);
  };

  /** The image's ENV lines (examples/Dockerfile), which the container would inherit. */
  const imageEnv = Object.fromEntries(readFileSync(join(ROOT, 'examples', 'Dockerfile'), 'utf8').split('\n')
    .filter((l) => l.startsWith('ENV '))
    .flatMap((l) => l.slice(4).trim().split(/\s+/).map((kv) => kv.split('=') as [string, string])));

  /**
   * Runs one step template's main container to completion as its pod would: the controller's main-container
   * defaults merged under the template's container (env by name, the template's winning), the workflow's pod
   * security context, the workflow's and the template's volumes, args with `{{inputs.parameters.X}}` substituted. Returns its exit status, log and
   * the output parameters read from the paths the template declares (in the pod's /tmp emptyDir). `command`
   * replaces the step's program in the same pod (to probe what a step can do), its output read the same way.
   */
  async function runStep(name: string, inputs: Record<string, string>, o: { command?: string[]; timeoutMs?: number } = {}): Promise<{ status: number | null; log: string; outputs: Record<string, string> }> {
    const spec = template.spec as Obj;
    const t: Obj = spec.templates.find((x: Obj) => x.name === name);
    if (!t?.container) throw new Error(`WorkflowTemplate ${template.metadata.name} has no container template ${name}`);
    const defaults = JSON.parse(controllerConfig.mainContainer) as Obj;
    const env = new Map<string, Obj>();
    for (const e of [...(defaults.env ?? []), ...(t.container.env ?? [])] as Obj[]) env.set(e.name, e);
    const subst = (s: string) => s.replace(/\{\{inputs\.parameters\.([\w-]+)\}\}/g, (_m, p) => {
      if (inputs[p] === undefined) throw new Error(`step ${name}: no value for input ${p}`);
      return inputs[p];
    });
    const container = {
      ...defaults, ...t.container, name: 'main',
      env: [...env.values()],
      volumeMounts: t.container.volumeMounts ?? defaults.volumeMounts,
      command: o.command ?? t.container.command,
      args: o.command ? [] : (t.container.args ?? []).map(subst),
    };
    const leftover = container.args.find((a: string) => a.includes('{{'));
    if (leftover) throw new Error(`step ${name}: unsubstituted ${leftover}`);
    // the template's volumes after the workflow's, as the controller builds the pod (createVolumes in workflowpod.go)
    const pod = { securityContext: spec.securityContext, serviceAccountName: spec.serviceAccountName, automountServiceAccountToken: spec.automountServiceAccountToken, containers: [container], volumes: [...(spec.volumes ?? []), ...(t.volumes ?? [])] };
    const proc = sb.track(await startContainer({
      cp: sb.cp, namespace: pipelinesNs, pod, container: 'main', hosts: sb.hosts(), path: [pyBin], name: `step-${name}`,
      // the image's ENV where the pod sets no value of its own, its files (the package at /app) and WORKDIR, as
      // examples/Dockerfile builds it
      extraEnv: Object.fromEntries(Object.entries(imageEnv).filter(([k]) => !env.has(k))),
      imageFiles: [[join(ROOT, 'examples', 'cd4ml_examples'), '/app/cd4ml_examples']],
      imageWorkingDir: '/app',
    }));
    await waitFor(`step ${name} to finish`, () => (proc.exited() ? true : undefined), o.timeoutMs ?? 300000, { intervalMs: 500 });
    // outputs: the declared paths, inside the volume mounted over them (the pod's dir holds volumes/<name>)
    const outputs: Record<string, string> = {};
    for (const p of (t.outputs?.parameters ?? []) as Obj[]) {
      const path: string = p.valueFrom.path;
      const mount = (container.volumeMounts as Obj[]).find((m) => path.startsWith(`${m.mountPath}/`));
      if (!mount) throw new Error(`step ${name}: output ${p.name} at ${path} is in no volume`);
      const file = join(dirname(proc.log), 'volumes', mount.name, relative(mount.mountPath, path));
      if (existsSync(file)) outputs[p.name] = readFileSync(file, 'utf8');
    }
    return { status: proc.child.exitCode, log: readFileSync(proc.log, 'utf8'), outputs };
  }

  /** The DAG's arguments for a task: workflow parameters (defaults, overridden) and earlier tasks' outputs. */
  function taskInputs(task: string, params: Record<string, string>, outputs: Record<string, Record<string, string>>): Record<string, string> {
    const spec = template.spec as Obj;
    const workflow = Object.fromEntries((spec.arguments.parameters as Obj[]).map((p) => [p.name, params[p.name] ?? p.value]));
    const dag = (spec.templates as Obj[]).find((t) => t.name === spec.entrypoint)!.dag;
    const t = (dag.tasks as Obj[]).find((x) => x.name === task)!;
    return Object.fromEntries((t.arguments.parameters as Obj[]).filter((p) => !String(p.value).startsWith('{{=')).map((p) => [p.name, String(p.value)
      .replace(/\{\{workflow\.parameters\.([\w-]+)\}\}/g, (m, n) => workflow[n] ?? m)
      .replace(/\{\{tasks\.([\w-]+)\.outputs\.parameters\.([\w-]+)\}\}/g, (m, tk, n) => outputs[tk]?.[n] ?? m)]));
  }

  beforeAll(async () => {
    await sb.start();
    const creds = await sb.runJob(sb.find('Job', /^cd4ml-credentials-/), 'generate');
    if (creds.status !== 0) throw new Error(`credentials Job: ${creds.stderr}`);
    await sb.startPostgres();
    // the tools' venv is built on the system's interpreter, so the pods' non-root uids can run it (build-python.sh)
    pyBin = join(tools().python, 'bin');
    const mlflowAdmin = await sb.secret(platformNs, 'mlflow-admin');
    adminAuth = `Basic ${Buffer.from(`${mlflowAdmin.MLFLOW_TRACKING_USERNAME}:${mlflowAdmin.MLFLOW_TRACKING_PASSWORD}`).toString('base64')}`;

    // The object store as its StatefulSet runs it, with the buckets its setup Job creates
    s3 = await sb.startObjectStore();
    admin = s3Keys(await sb.secret(platformNs, 'seaweedfs-admin'));
    for (const name of ['seaweedfs-mlflow', 'seaweedfs-pipelines', 'seaweedfs-postgres-backup']) identities.set(name, s3Keys(await sb.secret(platformNs, name)));
  }, 300000);
  afterAll(async () => { await sb.stop(); });

  test('the object store holds the setup Job\'s buckets, and the tracking server\'s identity only its own', () => {
    // the admin sees exactly the declared buckets
    const declared = /create-buckets (.*)/.exec((sb.find('ConfigMap', 'seaweedfs-setup').data as Record<string, string>)['setup.sh'])![1].trim().split(' ');
    expect(declared).toEqual(expect.arrayContaining([artifactBucket, dataBucket]));
    const listed = s3Call(s3.endpoint, admin, 'list_buckets');
    expect(listed.ok && (listed.response.Buckets as Obj[]).map((b) => b.Name).sort()).toEqual([...declared].sort());
    // and the tracking server's identity may write its bucket, not the pipelines' data
    const mlflow = identities.get('seaweedfs-mlflow')!;
    expect(s3Call(s3.endpoint, mlflow, 'put_object', { Bucket: artifactBucket, Key: 'probe', Body: 'x' })).toMatchObject({ ok: true });
    expect(s3Call(s3.endpoint, mlflow, 'put_object', { Bucket: dataBucket, Key: 'probe', Body: 'x' })).toMatchObject({ ok: false, code: 'AccessDenied' });
    expect(s3Call(s3.endpoint, admin, 'delete_object', { Bucket: artifactBucket, Key: 'probe' })).toMatchObject({ ok: true });
  });

  test('the migrate init container creates MLflow\'s schema in the mlflow database as the mlflow role, and reruns cleanly', async () => {
    // when the init container runs as the kubelet would run it
    const r = await sb.runJob(mlflowDeployment, 'migrate', { path: [pyBin, tools().postgres], timeoutMs: 240000 });
    // then it exits 0 having created the schema
    expect({ status: r.status, stdout: r.stdout.trim().split('\n').filter((l) => !l.startsWith('waiting')), stderr: r.status === 0 ? '' : r.stderr }).toEqual({
      status: 0, stdout: ['empty database: creating the MLflow schema', 'schema created', 'created MLflow user admin (admin)', 'created MLflow user pipelines'], stderr: '',
    });
    // the auth tables sit beside the tracking tables, versioned apart
    expect(sb.postgres!.sql(`SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('users', 'alembic_version_auth')`, 'mlflow')).toBe('2');
    const tables = sb.postgres!.sql(`SELECT string_agg(tablename || ':' || tableowner, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('alembic_version', 'experiments', 'runs', 'registered_models', 'model_versions', 'registered_model_aliases')`, 'mlflow');
    expect(tables).toBe('alembic_version:mlflow,experiments:mlflow,model_versions:mlflow,registered_model_aliases:mlflow,registered_models:mlflow,runs:mlflow');
    const head = sb.postgres!.sql('SELECT version_num FROM alembic_version', 'mlflow');
    expect(head).toMatch(/^[0-9a-f]+$/);
    // a restarted pod runs it again: it upgrades in place (nothing to do) and keeps the head revision
    const again = await sb.runJob(mlflowDeployment, 'migrate', { path: [pyBin, tools().postgres], timeoutMs: 240000 });
    expect({ status: again.status, lines: again.stdout.trim().split('\n').filter((l) => /^(upgrading|kept|created)/.test(l)), stderr: again.status === 0 ? '' : again.stderr }).toEqual({
      status: 0, lines: ['upgrading the MLflow schema', 'kept MLflow user admin (admin)', 'kept MLflow user pipelines'], stderr: '',
    });
    expect(sb.postgres!.sql('SELECT version_num FROM alembic_version', 'mlflow')).toBe(head);
  });

  test('the tracking server starts as its Deployment runs it and answers through its Service name only', async () => {
    // when the mlflow container starts with its args, env and Secrets
    server = sb.track(await startContainer({ cp: sb.cp, namespace: platformNs, pod: podTemplate(mlflowDeployment).spec, container: 'mlflow', hosts: sb.hosts(), path: [pyBin] }));
    // then /health answers OK (what its startup and readiness probes ask) to a request for the Service's name
    const health = await waitFor('MLflow /health', async () => {
      const r = await mlflowGet('/health').catch(() => undefined);
      return r?.status === 200 ? r : undefined;
    }, 150000, { proc: server, intervalMs: 1000 });
    expect(health.body.trim()).toBe('OK');
    expect((await mlflowGet('/version')).status).toBe(200);
    // the API answers to the Service's names; a Host header outside --allowed-hosts is refused (DNS rebinding
    // protection), while the probes' endpoints answer whatever the Host (the kubelet sends the pod's IP)
    const search = '/api/2.0/mlflow/experiments/search?max_results=1';
    for (const host of ['mlflow', `mlflow.${platformNs}`, `mlflow.${platformNs}.svc`, mlflowHost]) expect({ host, status: (await mlflowGet(search, host)).status }).toEqual({ host, status: 200 });
    const foreign = await mlflowGet(search, 'attacker.example.com');
    expect({ status: foreign.status, body: foreign.body }).toEqual({ status: 403, body: expect.stringMatching(/host/i) });
    expect((await mlflowGet('/health', '10.244.0.7:5000')).status).toBe(200);
  });

  test('it serves no one without credentials: only /health answers anonymously, and a wrong password is refused', async () => {
    const search = '/api/2.0/mlflow/experiments/search?max_results=1';
    expect((await mlflowCall('GET', search, { auth: '' })).status).toBe(401);
    expect((await mlflowCall('GET', '/version', { auth: '' })).status).toBe(401);
    expect((await mlflowCall('GET', search, { auth: `Basic ${Buffer.from('admin:guess').toString('base64')}` })).status).toBe(401);
    expect((await mlflowCall('GET', '/health', { auth: '' })).status).toBe(200);
    // the pipelines' user signs in with its own generated password
    const p = await sb.secret(pipelinesNs, 'mlflow-user-pipelines');
    expect((await mlflowCall('GET', search, { auth: `Basic ${Buffer.from(`${p.MLFLOW_TRACKING_USERNAME}:${p.MLFLOW_TRACKING_PASSWORD}`).toString('base64')}` })).status).toBe(200);
  });

  describe('the seed pipeline\'s steps', () => {
    const outputs: Record<string, Record<string, string>> = {};

    test('prepare_data splits the data into the data bucket and creates the experiment, its artifacts proxied', async () => {
      const r = await runStep('prepare-data', taskInputs('prepare-data', {}, outputs));
      expect({ status: r.status, log: r.status === 0 ? '' : tail(r.log) }).toEqual({ status: 0, log: '' });
      outputs['prepare-data'] = r.outputs;
      const dataUri = r.outputs.data_uri;
      expect(dataUri).toBe(`s3://${dataBucket}/prepared/breast_cancer/test_size_0.3`);
      // the split is in the bucket, written with the pipelines' credentials
      const [, bucket, prefix] = /^s3:\/\/([^/]+)\/(.+)$/.exec(dataUri)!;
      const listed = s3Call(s3.endpoint, admin, 'list_objects_v2', { Bucket: bucket, Prefix: `${prefix}/` });
      expect(listed.ok && (listed.response.Contents as Obj[]).map((o) => o.Key.slice(prefix.length + 1)).sort()).toEqual(['X_test.csv', 'X_train.csv', 'y_test.csv', 'y_train.csv']);
      const y = s3Call(s3.endpoint, admin, 'get_object', { Bucket: bucket, Key: `${prefix}/y_test.csv` });
      expect(y.ok && (y.response.Body as string).trim().split('\n').length).toBe(1 + 171); // header + 30% of 569 rows
      // the experiment exists on the tracking server with artifacts behind its proxy (clients need no S3 keys)
      const exp = await mlflowJson('/api/2.0/mlflow/experiments/get-by-name?experiment_name=breast-cancer');
      expect(exp.experiment.artifact_location).toMatch(/^mlflow-artifacts:\//);
    });

    test('train_model logs a random forest run, stores its model through the proxy and registers it; deploy_model points champion at it', async () => {
      const train = await runStep('train-model', taskInputs('train-model', {}, outputs));
      expect({ status: train.status, log: train.status === 0 ? '' : tail(train.log) }).toEqual({ status: 0, log: '' });
      outputs['train-model'] = train.outputs;
      const { run_id: runId, model_name: modelName, model_version: version, roc_auc: auc } = train.outputs;
      expect({ modelName, version }).toEqual({ modelName: 'sklearn-random-forest', version: '1' });
      // the run, as the tracking server recorded it in Postgres
      const run = (await mlflowJson(`/api/2.0/mlflow/runs/get?run_id=${runId}`)).run;
      expect(run.info.status).toBe('FINISHED');
      const params = Object.fromEntries((run.data.params as Obj[]).map((p) => [p.key, p.value]));
      expect(params).toEqual({ n_estimators: '100', data_uri: outputs['prepare-data'].data_uri });
      const metrics = Object.fromEntries((run.data.metrics as Obj[]).map((m) => [m.key, m.value]));
      expect(metrics.roc_auc).toBeCloseTo(Number(auc), 10);
      expect(metrics.roc_auc).toBeGreaterThanOrEqual(0.95);
      // the model's files went through the proxy into the tracking server's bucket
      const mv = (await mlflowJson(`/api/2.0/mlflow/model-versions/get?name=${modelName}&version=${version}`)).model_version;
      expect(mv).toMatchObject({ run_id: runId, status: 'READY' });
      const stored = s3Call(s3.endpoint, admin, 'list_objects_v2', { Bucket: artifactBucket });
      const keys = stored.ok ? ((stored.response.Contents ?? []) as Obj[]).map((o) => o.Key as string) : [];
      const mlmodel = keys.find((k) => k.endsWith('/MLmodel'));
      expect(mlmodel).toBeDefined();
      const text = s3Call(s3.endpoint, admin, 'get_object', { Bucket: artifactBucket, Key: mlmodel! });
      const descriptor = text.ok ? String(text.response.Body) : '';
      expect(descriptor).toMatch(/loader_module: mlflow\.sklearn/);
      // and the serialized forest it names is beside it
      const file = /pickled_model: (\S+)/.exec(descriptor)?.[1];
      expect(keys).toContain(`${dirname(mlmodel!)}/${file}`);

      // when deploy_model runs with train_model's outputs
      const deploy = await runStep('deploy-model', taskInputs('deploy-model', {}, outputs));
      expect({ status: deploy.status, log: deploy.status === 0 ? '' : tail(deploy.log) }).toEqual({ status: 0, log: '' });
      expect(deploy.outputs.endpoint_uri).toBe('models:/sklearn-random-forest@champion');
      // then the registry resolves champion to that version
      const alias = await mlflowJson(`/api/2.0/mlflow/registered-models/alias?name=${modelName}&alias=champion`);
      expect(alias.model_version).toMatchObject({ version, run_id: runId });
      // and what serving reads, the model at endpoint_uri, loads as the forest through the proxy (a pod with a
      // step's env, no S3 keys for the artifact bucket)
      const load = [
        'import json, mlflow',
        `m = mlflow.sklearn.load_model(${JSON.stringify(deploy.outputs.endpoint_uri)})`,
        'import os; os.makedirs("/tmp/outputs", exist_ok=True)',
        'open("/tmp/outputs/endpoint_uri", "w").write(json.dumps({"type": type(m).__name__, "trees": len(m.estimators_)}))',
      ].join('\n');
      const loaded = await runStep('deploy-model', {}, { command: ['python', '-c', load] });
      expect({ status: loaded.status, log: loaded.status === 0 ? '' : tail(loaded.log) }).toEqual({ status: 0, log: '' });
      expect(JSON.parse(loaded.outputs.endpoint_uri)).toEqual({ type: 'RandomForestClassifier', trees: 100 });
    });

    test('a retrain with min_auc above what the forest reaches fails, registers nothing and moves no alias', async () => {
      if (!outputs['train-model']) throw new Error('this needs the first training run, which failed (see above)');
      const reached = Number(outputs['train-model'].roc_auc);
      const minAuc = '0.9999';
      expect(reached).toBeLessThan(Number(minAuc));
      // when train_model runs with the higher threshold (deploy_model depends on it, so Argo would not start it)
      const train = await runStep('train-model', taskInputs('train-model', { min_auc: minAuc }, outputs));
      // then it fails, saying why, after recording its run
      expect(train.status).not.toBe(0);
      expect(train.log).toContain(`is below min_auc ${minAuc}: stopping the pipeline`);
      expect(train.outputs.model_version).toBeUndefined();
      const failedRun = (await mlflowJson(`/api/2.0/mlflow/runs/get?run_id=${train.outputs.run_id}`)).run;
      expect(failedRun.info.status).toBe('FAILED');
      // and the registry is as it was: one version, champion on it
      const versions = (await mlflowJson(`/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent("name='sklearn-random-forest'")}`)).model_versions as Obj[];
      expect(versions.map((v) => v.version)).toEqual(['1']);
      const model = (await mlflowJson('/api/2.0/mlflow/registered-models/get?name=sklearn-random-forest')).registered_model;
      expect(model.aliases).toEqual([{ alias: 'champion', version: '1' }]);
    });

    test('a step with the pipelines\' credentials cannot write or read the tracking server\'s artifact bucket', async () => {
      // given a step pod's env (the pipelines' S3 keys, the store's Service URL), when it calls the store directly
      const probe = [
        'import json, os, boto3',
        'from botocore.exceptions import ClientError',
        `bucket = ${JSON.stringify(artifactBucket)}`,
        's3 = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"], region_name=os.environ["AWS_DEFAULT_REGION"])',
        'out = {"key": os.environ["AWS_ACCESS_KEY_ID"]}',
        'for name, call in (("put", lambda: s3.put_object(Bucket=bucket, Key="intruder", Body=b"x")), ("list", lambda: s3.list_objects_v2(Bucket=bucket)),',
        '                   ("data", lambda: s3.put_object(Bucket=os.environ["CD4ML_BUCKET_DATA"], Key="probes/step-credentials", Body=b"x"))):',
        '    try:',
        '        call(); out[name] = "ok"',
        '    except ClientError as e:',
        '        out[name] = e.response["Error"]["Code"]',
        'os.makedirs("/tmp/outputs", exist_ok=True)',
        'open("/tmp/outputs/endpoint_uri", "w").write(json.dumps(out))',
      ].join('\n');
      const r = await runStep('deploy-model', {}, { command: ['python', '-c', probe] });
      expect({ status: r.status, log: r.status === 0 ? '' : tail(r.log) }).toEqual({ status: 0, log: '' });
      // then the store refuses the tracking server's bucket and allows its own
      expect(JSON.parse(r.outputs.endpoint_uri)).toEqual({ key: identities.get('seaweedfs-pipelines')!.accessKey, put: 'AccessDenied', list: 'AccessDenied', data: 'ok' });
      expect(s3Call(s3.endpoint, admin, 'head_object', { Bucket: artifactBucket, Key: 'intruder' })).toMatchObject({ ok: false });
    });

    test('a pod without MLflow credentials cannot move champion or delete a run; the model stays where the pipeline put it', async () => {
      const before = await mlflowJson('/api/2.0/mlflow/registered-models/alias?name=sklearn-random-forest&alias=champion');
      const moved = await mlflowCall('POST', '/api/2.0/mlflow/registered-models/alias', { auth: '', body: { name: 'sklearn-random-forest', alias: 'champion', version: '1' } });
      const deleted = await mlflowCall('DELETE', '/api/2.0/mlflow/registered-models/alias', { auth: '', body: { name: 'sklearn-random-forest', alias: 'champion' } });
      expect([moved.status, deleted.status]).toEqual([401, 401]);
      expect(await mlflowJson('/api/2.0/mlflow/registered-models/alias?name=sklearn-random-forest&alias=champion')).toEqual(before);
    });
  });

  test('a grant taken away is a user deleted at the next start; a user an admin made in MLflow is left alone', async () => {
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    const search = '/api/2.0/mlflow/experiments/search?max_results=1';
    // an analyst the admin creates through MLflow's own API, outside cd4ml's declaration
    const made = await mlflowCall('POST', '/api/2.0/mlflow/users/create', { body: { username: 'analyst', password: 'analyst-password-123' } });
    expect(made.status).toBe(200);
    // the Deployment as it renders once the pipelines' grant is gone: the migrate container no longer lists that user
    const deployment = JSON.parse(JSON.stringify(mlflowDeployment)) as KubeObject;
    const migrate = (podTemplate(deployment).spec.initContainers as Obj[]).find((c) => c.name === 'migrate')!;
    const pipelinesEnv = new Set((migrate.env as Obj[]).filter((e) => e.valueFrom?.secretKeyRef?.name === 'mlflow-user-pipelines').map((e) => e.name as string));
    expect(pipelinesEnv.size).toBe(2);
    migrate.env = (migrate.env as Obj[]).filter((e) => !pipelinesEnv.has(e.name)).map((e) => (e.name === 'CD4ML_AUTH_USERS'
      ? { ...e, value: JSON.stringify((JSON.parse(e.value) as Obj[]).filter((u) => !pipelinesEnv.has(u.usernameEnv))) } : e));
    const r = await sb.runJob(deployment, 'migrate', { path: [pyBin, tools().postgres], timeoutMs: 240000 });
    expect({ status: r.status, lines: r.stdout.trim().split('\n').filter((l) => /MLflow user/.test(l)), stderr: r.status === 0 ? '' : r.stderr }).toEqual({
      status: 0, lines: ['kept MLflow user admin (admin)', 'deleted MLflow user pipelines (no longer granted)'], stderr: '',
    });
    // then the pipelines' password no longer signs in; the analyst's and the admin's still do
    const p = await sb.secret(pipelinesNs, 'mlflow-user-pipelines');
    expect({
      pipelines: (await mlflowCall('GET', search, { auth: basic(p.MLFLOW_TRACKING_USERNAME, p.MLFLOW_TRACKING_PASSWORD) })).status,
      analyst: (await mlflowCall('GET', search, { auth: basic('analyst', 'analyst-password-123') })).status,
      admin: (await mlflowCall('GET', search)).status,
    }).toEqual({ pipelines: 401, analyst: 200, admin: 200 });
  });
});
